// The all-reduce implementations of kernels/collective/: the host reduction (order, NaN, 16-bit
// floats rounded once), and on GPUs (skipped without one) ScopeFlow's fused kernel against the
// host reduction bit for bit for sizes 1, 3, 1000003, aligned and unaligned pointers, every
// reduction and dtype; logical GPUs sharing a card; NCCL and the staged kernel across >= 2 GPUs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "devices/device_manager.h"
#include "kernels/collective/collective.h"

namespace sf = scopeflow;
using sf::kernels::AllReduceOp;

namespace {

std::vector<const void*> cptrs(const std::vector<std::vector<float>>& v) {
  std::vector<const void*> p;
  for (const auto& x : v) p.push_back(x.data());
  return p;
}

TEST(AllReduceHostTest, ReducesInParticipantOrderOnEveryOutput) {
  std::vector<std::vector<float>> in = {
      {1e8f, 1, 5, std::nanf("")}, {-1e8f, 2, -5, 1}, {1, 3, 0, 2}};
  std::vector<std::vector<float>> out(3, std::vector<float>(4, -7));
  std::vector<void*> o;
  for (auto& x : out) o.push_back(x.data());
  sf::kernels::all_reduce_host_buffers(AllReduceOp::kSum, sf::float32, cptrs(in), o, 4);
  for (const auto& x : out) {
    EXPECT_EQ(x[0], 1.0f) << "(1e8 + -1e8) + 1: participant order";
    EXPECT_EQ(x[1], 6.0f);
    EXPECT_EQ(x[2], 0.0f);
    EXPECT_TRUE(std::isnan(x[3]));
  }
  sf::kernels::all_reduce_host_buffers(AllReduceOp::kMax, sf::float32, cptrs(in), o, 4);
  EXPECT_EQ(out[2][1], 3.0f);
  EXPECT_TRUE(std::isnan(out[1][3])) << "max propagates NaN from participant 0";
  sf::kernels::all_reduce_host_buffers(AllReduceOp::kMin, sf::float32, cptrs(in), o, 4);
  EXPECT_EQ(out[0][2], -5.0f);
  EXPECT_TRUE(std::isnan(out[0][3]));
  sf::kernels::all_reduce_host_buffers(AllReduceOp::kProd, sf::float32, cptrs(in), o, 4);
  EXPECT_EQ(out[1][1], 6.0f);
  // Outputs may alias inputs (every input is read before any output is written).
  std::vector<void*> alias = {in[0].data(), in[1].data(), in[2].data()};
  sf::kernels::all_reduce_host_buffers(AllReduceOp::kSum, sf::float32, cptrs(in), alias, 3);
  EXPECT_EQ(in[2][1], 6.0f);
  EXPECT_EQ(in[0][1], 6.0f);
}

TEST(AllReduceHostTest, HalfAccumulatesInFloatAndRoundsOnce) {
  // 2048 + 1 + 1 in float16: rounding after each step gives 2048 (2049 is not representable),
  // one rounding of the float sum gives 2050.
  std::vector<sf::half> a{sf::half(2048.0f)}, b{sf::half(1.0f)}, c{sf::half(1.0f)}, out(1);
  sf::kernels::all_reduce_host_buffers(AllReduceOp::kSum, sf::float16,
                                       {a.data(), b.data(), c.data()}, {out.data()}, 1);
  EXPECT_EQ(static_cast<float>(out[0]), 2050.0f);
  EXPECT_THROW(sf::kernels::all_reduce_host_buffers(AllReduceOp::kSum, sf::bool_, {a.data()},
                                                    {out.data()}, 1),
               sf::InvalidArgumentError);
  EXPECT_EQ(sf::kernels::all_reduce_op_from_name("prod", "n"), AllReduceOp::kProd);
  EXPECT_THROW(sf::kernels::all_reduce_op_from_name("mean", "n"), sf::InvalidArgumentError);
}

// ---------------------------------------------------------------- GPU

#define SKIP_WITHOUT_GPU()                       \
  if (sf::devices::gpu_inventory().gpus.empty()) \
  GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason

// Deterministic values of every dtype with a spread of magnitudes and signs.
double value_at(std::int64_t e, int j) {
  return static_cast<double>(((e * 7919 + j * 104729) % 201) - 100) * 0.125;
}

sf::Tensor host_values(sf::DType dtype, std::int64_t n, int j) {
  sf::Tensor t(dtype, sf::Shape{n}, sf::devices::host_device());
  for (std::int64_t e = 0; e < n; ++e) {
    const double v = value_at(e, j);
    switch (dtype) {
      case sf::DType::kFloat32: t.data<float>()[e] = static_cast<float>(v); break;
      case sf::DType::kFloat64: t.data<double>()[e] = v; break;
      case sf::DType::kFloat16: t.data<sf::half>()[e] = sf::half(static_cast<float>(v)); break;
      case sf::DType::kBFloat16:
        t.data<sf::bfloat16_t>()[e] = sf::bfloat16_t(static_cast<float>(v));
        break;
      case sf::DType::kInt32: t.data<std::int32_t>()[e] = static_cast<std::int32_t>(v * 8); break;
      case sf::DType::kInt64: t.data<std::int64_t>()[e] = static_cast<std::int64_t>(v * 8); break;
      default: break;
    }
  }
  return t;
}

// Runs the fused kernel on one GPU with k participants of n elements and k_out outputs
// (0: k), `offset` elements into each buffer (1: not 16-byte aligned), and compares every
// output with the host reduction bit for bit; the outputs start poisoned (0xFF bytes) so an
// unwritten element shows.
void check_fused(AllReduceOp op, sf::DType dtype, int k, std::int64_t n, std::int64_t offset,
                 int k_out = 0) {
  if (k_out == 0) k_out = k;
  sf::devices::DeviceManager dm;
  auto gpu = dm.gpu(0);
  const std::size_t es = sf::dtype_size(dtype);
  std::vector<sf::Tensor> host_in, dev_in, dev_out;
  std::vector<const void*> hin, din;
  std::vector<void*> dout;
  for (int j = 0; j < k; ++j) {
    sf::Tensor h = host_values(dtype, n + offset, j);
    host_in.push_back(h);
    dev_in.push_back(h.to(gpu));
    hin.push_back(static_cast<const char*>(h.raw_data()) + offset * static_cast<std::int64_t>(es));
    din.push_back(static_cast<const char*>(dev_in.back().raw_data()) +
                  offset * static_cast<std::int64_t>(es));
    if (j >= k_out) continue;
    sf::Tensor o(dtype, sf::Shape{n + offset}, gpu);
    gpu->memset(o.raw_data(), 0xFF, o.bytes());
    dev_out.push_back(o);
    dout.push_back(static_cast<char*>(o.raw_data()) + offset * static_cast<std::int64_t>(es));
  }
  std::vector<char> want(static_cast<std::size_t>(n) * es);
  sf::kernels::all_reduce_host_buffers(op, dtype, hin, {want.data()}, n);
  sf::kernels::all_reduce_fused_cuda(op, dtype, din, dout, n, gpu->compute_stream());
  gpu->synchronize();
  for (int j = 0; j < k_out; ++j) {
    sf::Tensor got = dev_out[static_cast<std::size_t>(j)].to(sf::devices::host_device());
    const char* g =
        static_cast<const char*>(got.raw_data()) + offset * static_cast<std::int64_t>(es);
    ASSERT_EQ(std::memcmp(g, want.data(), want.size()), 0)
        << sf::kernels::all_reduce_op_name(op) << " " << sf::dtype_name(dtype) << " k=" << k
        << " n=" << n << " offset=" << offset << " k_out=" << k_out << " participant " << j;
  }
}

TEST(AllReduceFusedCudaTest, MatchesTheHostBitForBit) {
  SKIP_WITHOUT_GPU();
  for (std::int64_t n : {1, 3, 1000003})
    for (std::int64_t offset : {0, 1})
      for (int k : {1, 2, 5})
        for (auto op :
             {AllReduceOp::kSum, AllReduceOp::kProd, AllReduceOp::kMin, AllReduceOp::kMax})
          check_fused(op, sf::float32, k, n, offset);
  for (auto dtype : {sf::float64, sf::float16, sf::bfloat16, sf::int32, sf::int64})
    for (std::int64_t n : {1, 3, 1000003}) {
      check_fused(AllReduceOp::kSum, dtype, 3, n, n == 3 ? 1 : 0);
      check_fused(AllReduceOp::kMax, dtype, 3, n, 0);
    }
  check_fused(AllReduceOp::kSum, sf::float32, sf::kernels::kMaxFusedParticipants, 1000, 0);
  // Fewer outputs than inputs (one shared result per card), vector and scalar paths.
  for (std::int64_t offset : {0, 1}) {
    check_fused(AllReduceOp::kSum, sf::float32, 4, 1000003, offset, 1);
    check_fused(AllReduceOp::kMax, sf::float16, 4, 1003, offset, 2);
  }
}

TEST(AllReduceFusedCudaTest, RefusesBadOutputCounts) {
  SKIP_WITHOUT_GPU();
  sf::devices::DeviceManager dm;
  auto gpu = dm.gpu(0);
  sf::Tensor a(sf::float32, sf::Shape{8}, gpu), b(sf::float32, sf::Shape{8}, gpu);
  EXPECT_THROW(sf::kernels::all_reduce_fused_cuda(AllReduceOp::kSum, sf::float32, {a.raw_data()},
                                                  {}, 8, gpu->compute_stream()),
               sf::InvalidArgumentError);
  EXPECT_THROW(
      sf::kernels::all_reduce_fused_cuda(AllReduceOp::kSum, sf::float32, {a.raw_data()},
                                         {a.raw_data(), b.raw_data()}, 8, gpu->compute_stream()),
      sf::InvalidArgumentError);
}

TEST(AllReduceFusedCudaTest, LogicalGpusOnOneCard) {
  SKIP_WITHOUT_GPU();
  sf::devices::DeviceManagerOptions o;
  o.logical_gpus[0] = std::vector<sf::devices::LogicalGpuConfig>(3);
  sf::devices::DeviceManager dm(o);
  sf::kernels::AllReduceRequest r;
  r.name = "test";
  r.op = AllReduceOp::kSum;
  const std::int64_t n = 4099;
  std::vector<float> want(static_cast<std::size_t>(n), 0.0f);
  for (int j = 0; j < 3; ++j) {
    r.devices.push_back(dm.gpu(j));
    sf::Tensor h = host_values(sf::float32, n, j);
    for (std::int64_t e = 0; e < n; ++e) want[static_cast<std::size_t>(e)] += h.data<float>()[e];
    r.inputs.push_back(h.to(dm.gpu(j)));
  }
  auto out = sf::kernels::all_reduce_fused_gpu(r);
  ASSERT_EQ(out.size(), 3u);
  for (int j = 0; j < 3; ++j) {
    // One result, held by the first participant's logical GPU, for the whole card.
    EXPECT_EQ(out[static_cast<std::size_t>(j)].device_ptr(), dm.gpu(0));
    EXPECT_TRUE(out[static_cast<std::size_t>(j)].shares_buffer_with(out[0]));
    // No synchronize first: to() reads on GPU:0's compute stream, which ran the kernel.
    EXPECT_EQ(out[static_cast<std::size_t>(j)].to(sf::devices::host_device()).to_vector<float>(),
              want);
  }
  // That result is a valid input of the next all-reduce on every participant (held by GPU:0,
  // fed to GPU:1 and GPU:2): 3 * sum, read after the streams ordered by the first call.
  sf::kernels::AllReduceRequest again = r;
  again.inputs = out;
  auto out2 = sf::kernels::all_reduce_fused_gpu(again);
  std::vector<float> want3 = want;
  for (float& v : want3) v *= 3;
  const auto got3 = out2[2].to(sf::devices::host_device()).to_vector<float>();
  for (std::int64_t e = 0; e < n; ++e)
    ASSERT_NEAR(got3[static_cast<std::size_t>(e)], want3[static_cast<std::size_t>(e)],
                1e-5 * std::abs(want3[static_cast<std::size_t>(e)]) + 1e-6)
        << "element " << e;
  // A host tensor is refused with the participant named.
  r.inputs[1] = host_values(sf::float32, n, 1);
  EXPECT_THROW(sf::kernels::all_reduce_fused_gpu(r), sf::InvalidArgumentError);
}

// NCCL with one rank per physical GPU present (a single rank on a one-GPU machine, so the NCCL
// path -- communicator, NCCL stream, events to and from the compute stream -- runs there too),
// twice in a row and with the inputs still being written on the compute streams when it is
// queued: the results must be the host reduction's, bit for bit for the exact integer sums.
TEST(AllReduceNcclTest, OneRankPerCardMatchesTheHost) {
  SKIP_WITHOUT_GPU();
  if (!sf::kernels::nccl_available()) GTEST_SKIP() << "built without NCCL";
  sf::devices::DeviceManager dm;
  const int k = std::min(dm.num_gpus(), 4);
  const std::int64_t n = 1 << 20;
  for (auto op : {AllReduceOp::kSum, AllReduceOp::kMax}) {
    sf::kernels::AllReduceRequest r;
    r.name = "test";
    r.op = op;
    std::vector<const void*> hin;
    std::vector<sf::Tensor> host_in;
    for (int j = 0; j < k; ++j) {
      r.devices.push_back(dm.gpu(j));
      host_in.push_back(host_values(sf::int32, n, j));
      hin.push_back(host_in.back().raw_data());
      // Queued on GPU j's compute stream: a memset then an async device copy, not synchronized,
      // so NCCL must wait for the compute stream to read the right input.
      sf::Tensor staged = host_in.back().to(dm.gpu(j));
      sf::Tensor x(sf::int32, sf::Shape{n}, dm.gpu(j));
      dm.gpu(j)->memset(x.raw_data(), 0, x.bytes());
      sf::devices::copy_bytes_async(*dm.gpu(j), x.raw_data(), *dm.gpu(j), staged.raw_data(),
                                    x.bytes());
      r.inputs.push_back(x);
    }
    std::vector<std::int32_t> want(static_cast<std::size_t>(n));
    sf::kernels::all_reduce_host_buffers(op, sf::int32, hin, {want.data()}, n);
    for (int rep = 0; rep < 2; ++rep) {
      auto out = sf::kernels::all_reduce_nccl(r);
      ASSERT_EQ(out.size(), static_cast<std::size_t>(k));
      for (int j = 0; j < k; ++j) {
        // No synchronize first: to() reads on the compute stream, which waits for NCCL.
        EXPECT_EQ(out[static_cast<std::size_t>(j)]
                      .to(sf::devices::host_device())
                      .to_vector<std::int32_t>(),
                  want)
            << sf::kernels::all_reduce_op_name(op) << " participant " << j << " rep " << rep;
      }
    }
  }
}

// >= 2 physical GPUs: NCCL (when built in) and the staged fused kernel give the host's sum.
TEST(AllReduceFusedCudaTest, DistinctGpusNcclAndStaged) {
  const auto& inv = sf::devices::gpu_inventory();
  if (inv.gpus.size() < 2)
    GTEST_SKIP() << "needs 2 GPUs, found " << inv.gpus.size()
                 << (inv.unavailable_reason.empty() ? "" : ": " + inv.unavailable_reason);
  sf::devices::DeviceManager dm;
  const int k = std::min(dm.num_gpus(), 4);
  sf::kernels::AllReduceRequest r;
  r.name = "test";
  r.op = AllReduceOp::kSum;
  const std::int64_t n = 100003;
  std::vector<float> want(static_cast<std::size_t>(n), 0.0f);
  for (int j = 0; j < k; ++j) {
    r.devices.push_back(dm.gpu(j));
    sf::Tensor h = host_values(sf::float32, n, j);
    for (std::int64_t e = 0; e < n; ++e) want[static_cast<std::size_t>(e)] += h.data<float>()[e];
    r.inputs.push_back(h.to(dm.gpu(j)));
  }
  auto check = [&](const std::vector<sf::Tensor>& out, const char* what) {
    ASSERT_EQ(out.size(), static_cast<std::size_t>(k));
    for (int j = 0; j < k; ++j) {
      dm.gpu(j)->synchronize();
      const auto got =
          out[static_cast<std::size_t>(j)].to(sf::devices::host_device()).to_vector<float>();
      for (std::int64_t e = 0; e < n; e += 997)
        ASSERT_NEAR(got[static_cast<std::size_t>(e)], want[static_cast<std::size_t>(e)], 1e-4)
            << what << " participant " << j << " @" << e;
    }
  };
  check(sf::kernels::all_reduce_fused_gpu(r), "staged fused kernel");
  if (sf::kernels::nccl_available()) {
    check(sf::kernels::all_reduce_nccl(r), "NCCL");
    check(sf::kernels::all_reduce_nccl(r), "NCCL (cached communicators)");
  }
}

}  // namespace
