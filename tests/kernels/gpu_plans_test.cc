// The host-side logic of the GPU kernels, run on the CPU: broadcast plans (binary_cuda.cu),
// reduction plans (reduce_cuda.cu) and the per-element pooling math (pool_cuda.cu) against
// the reference loops; and the reference kernels added for the GPU kernels' dtypes and ops
// (float16/bfloat16, _FusedBiasAddRelu). Needs no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/math/binary.h"
#include "kernels/math/broadcast_plan.h"
#include "kernels/pool/pool.h"
#include "kernels/pool/pool_gather.h"
#include "kernels/reduce/reduce.h"
#include "kernels/reduce/reduce_plan.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;

namespace {

std::vector<float> iota_vec(std::int64_t n, float scale) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(i + 1);
  return v;
}

std::vector<float> random_vec(std::int64_t n, unsigned seed, float lo = -2.0f, float hi = 2.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// out[i] = a[ia] - b[ib] through the plan with index type I, against binary_forward_ref.
template <class I>
void check_plan_sub(const sf::Shape& sa, const sf::Shape& sb) {
  const sf::Shape so = k::broadcast_shapes(sa, sb, "test");
  const auto a = iota_vec(sa.num_elements(), 1.0f), b = iota_vec(sb.num_elements(), 1000.0f);
  std::vector<float> want(static_cast<std::size_t>(so.num_elements()));
  k::binary_forward_ref<float>(k::BinaryOp::kSub, a.data(), sa, b.data(), sb, want.data(), so);
  const k::BroadcastPlan p = k::make_broadcast_plan(sa, sb, so);
  ASSERT_EQ(p.n, so.num_elements());
  for (std::int64_t i = 0; i < p.n; ++i) {
    I ia, ib;
    k::broadcast_offsets<I>(p, static_cast<I>(i), ia, ib);
    ASSERT_GE(ia, 0);
    ASSERT_LT(ia, sa.num_elements());
    ASSERT_GE(ib, 0);
    ASSERT_LT(ib, sb.num_elements());
    ASSERT_EQ(a[static_cast<std::size_t>(ia)] - b[static_cast<std::size_t>(ib)],
              want[static_cast<std::size_t>(i)])
        << sa.to_string() << " - " << sb.to_string() << " at " << i;
  }
}

}  // namespace

TEST(BroadcastPlanTest, OffsetsMatchTheReference) {
  const std::vector<std::pair<sf::Shape, sf::Shape>> cases = {
      {{}, {}},
      {{7}, {7}},
      {{}, {1029}},
      {{1029}, {}},
      {{33, 257}, {257}},
      {{257}, {33, 257}},
      {{33, 1}, {1, 257}},
      {{33, 1}, {33, 257}},
      {{1, 1, 5}, {4, 3, 5}},
      {{33, 1, 5}, {1, 7, 5}},
      {{2, 3, 1, 5, 1, 7}, {3, 4, 1, 6, 1}},
      {{0, 5}, {5}},
      {{1}, {1, 1, 1}},
      {{2, 1, 3, 1, 2, 1, 3, 1, 2}, {1, 2, 1, 3, 1, 2, 1, 3, 1}},  // merged rank 9
  };
  for (const auto& [sa, sb] : cases) {
    check_plan_sub<std::int64_t>(sa, sb);
    check_plan_sub<std::int32_t>(sa, sb);
  }
}

TEST(BroadcastPlanTest, MergesDimensionsThatBroadcastAlike) {
  auto p = k::make_broadcast_plan({4, 5, 6}, {4, 5, 6}, {4, 5, 6});
  EXPECT_EQ(p.rank, 1);  // same shapes: flat
  EXPECT_EQ(p.dims[0], 120);
  p = k::make_broadcast_plan({}, {4, 5, 6}, {4, 5, 6});
  EXPECT_EQ(p.rank, 1);  // a scalar: stride 0
  EXPECT_EQ(p.stride_a[0], 0);
  EXPECT_EQ(p.stride_b[0], 1);
  p = k::make_broadcast_plan({8, 9, 16}, {16}, {8, 9, 16});
  EXPECT_EQ(p.rank, 2);  // a row against a matrix
  EXPECT_EQ(p.dims[0], 72);
  EXPECT_EQ(p.stride_b[0], 0);
  EXPECT_EQ(p.stride_b[1], 1);
  p = k::make_broadcast_plan({1, 1, 1}, {1}, {1, 1, 1});
  EXPECT_EQ(p.rank, 0);
  EXPECT_EQ(p.n, 1);
}

TEST(BroadcastPlanTest, TooManyAlternatingDimensionsIsInvalidArgument) {
  std::vector<std::int64_t> da, db;
  for (int i = 0; i < k::kMaxBroadcastRank + 1; ++i) {
    da.push_back(i % 2 ? 1 : 2);
    db.push_back(i % 2 ? 2 : 1);
  }
  const sf::Shape sa(da), sb(db);
  EXPECT_THROW(k::make_broadcast_plan(sa, sb, k::broadcast_shapes(sa, sb, "t")),
               sf::InvalidArgumentError);
}

// Each output of a plan recomputed with the plan's index math, in double in the plan's order
// (which is the reference's order for general plans).
std::vector<float> reduce_by_plan(k::ReduceOp op, const std::vector<float>& x,
                                  const k::ReducePlan& p) {
  std::vector<float> y(static_cast<std::size_t>(p.out_n));
  for (std::int64_t o = 0; o < p.out_n; ++o) {
    double acc = op == k::ReduceOp::kMax ? -INFINITY : 0.0;
    for (std::int64_t g = 0; g < p.group; ++g) {
      std::int64_t off;
      if (p.three_d) {
        const std::int64_t ai = o / p.b, bi = o % p.b;
        off = (ai * p.r + g) * p.b + bi;
      } else {
        off = k::reduce_offset(p, o, g);
      }
      EXPECT_GE(off, 0);
      EXPECT_LT(off, static_cast<std::int64_t>(x.size()));
      const double v = x[static_cast<std::size_t>(off)];
      acc = op == k::ReduceOp::kMax ? ((v > acc || v != v) ? v : acc) : acc + v;
    }
    if (op == k::ReduceOp::kMean) acc /= static_cast<double>(p.group);
    y[static_cast<std::size_t>(o)] = static_cast<float>(acc);
  }
  return y;
}

TEST(ReducePlanTest, PlansReduceLikeTheReference) {
  struct Case {
    sf::Shape shape;
    std::vector<bool> mask;
    bool three_d;
  };
  const std::vector<Case> cases = {
      {{1029}, {true}, true},
      {{33, 257}, {true, false}, true},
      {{33, 257}, {false, true}, true},
      {{33, 257}, {true, true}, true},
      {{4, 5, 6, 7}, {false, true, false, true}, false},
      {{4, 5, 6, 7}, {true, false, true, false}, false},
      {{4, 5, 6, 7}, {false, true, true, false}, true},
      {{4, 1, 6, 7}, {false, true, false, false}, true},  // a reduced size-1 dimension
      {{4, 1, 5, 7}, {true, false, true, false}, true},   // merged across a size-1 dimension
      {{2, 3, 2, 3, 2, 3}, {true, false, true, false, true, false}, false},
      {{3, 4}, {false, false}, true},
      {{}, {}, true},
  };
  for (const auto& c : cases) {
    const auto x = random_vec(c.shape.num_elements(), 7);
    const k::ReducePlan p = k::make_reduce_plan(c.shape, c.mask);
    EXPECT_EQ(p.three_d, c.three_d) << c.shape.to_string();
    for (auto op : {k::ReduceOp::kSum, k::ReduceOp::kMean, k::ReduceOp::kMax}) {
      std::vector<float> want(static_cast<std::size_t>(p.out_n));
      k::reduce_forward_ref(op, x.data(), c.shape, c.mask, want.data());
      const auto got = reduce_by_plan(op, x, p);
      for (std::size_t i = 0; i < want.size(); ++i)
        if (p.three_d)
          EXPECT_NEAR(got[i], want[i], 1e-6 + 1e-6 * std::fabs(want[i])) << c.shape.to_string();
        else  // the reference's order: bit for bit
          EXPECT_TRUE(same_bits(got[i], want[i])) << c.shape.to_string() << " output " << i;
    }
  }
}

TEST(ReducePlanTest, EmptyShapes) {
  auto p = k::make_reduce_plan({0, 5}, {true, false});
  EXPECT_EQ(p.out_n, 5);
  EXPECT_EQ(p.group, 0);
  p = k::make_reduce_plan({5, 0}, {true, false});
  EXPECT_EQ(p.out_n, 0);
}

TEST(ReducePlanTest, ChunksCoverTheReducedDimensionOnce) {
  for (const auto& [shape, mask] :
       std::vector<std::pair<sf::Shape, std::vector<bool>>>{{{3000, 70}, {true, false}},
                                                            {{5, 100000}, {false, true}},
                                                            {{1, 200000}, {false, true}},
                                                            {{1000, 64}, {true, false}},
                                                            {{33, 257}, {true, false}}}) {
    const k::ReducePlan p = k::make_reduce_plan(shape, mask);
    const k::ReduceChunking ch = k::reduce_chunking(p);
    ASSERT_FALSE(ch.direct) << shape.to_string();
    EXPECT_GE(ch.chunks, 1);
    EXPECT_LT((ch.chunks - 1) * ch.len, p.r) << shape.to_string();  // no empty chunk
    EXPECT_GE(ch.chunks * ch.len, p.r) << shape.to_string();        // every row in one
    EXPECT_EQ(k::reduce_scratch_elems(p), p.a * ch.chunks * p.b);
  }
  // One thread per output: tiny groups, many outputs, general plans.
  EXPECT_TRUE(k::reduce_chunking(k::make_reduce_plan({200000, 3}, {false, true})).direct);
  EXPECT_TRUE(k::reduce_chunking(k::make_reduce_plan({16}, {true})).direct);
  EXPECT_TRUE(
      k::reduce_chunking(k::make_reduce_plan({4, 5, 6, 7}, {true, false, true, false})).direct);
  EXPECT_EQ(k::reduce_scratch_elems(k::make_reduce_plan({16}, {true})), 0);
}

TEST(PoolGatherTest, WindowsContainingMatchesBruteForce) {
  for (const char* padding : {"SAME", "VALID"})
    for (std::int64_t in : {1, 2, 5, 7, 9})
      for (std::int64_t kk : {1, 2, 3})
        for (std::int64_t stride : {1, 2, 3}) {
          if (kk > in && std::string(padding) == "VALID") continue;
          const k::WindowDim d = k::window_dim(in, kk, stride, 1, padding, "t");
          for (std::int64_t i = 0; i < in; ++i) {
            const k::PoolOutRange r = k::pool_windows_containing(d, i);
            for (std::int64_t o = 0; o < d.out; ++o) {
              std::int64_t b, e;
              k::pool_window_span(d, o, b, e);
              EXPECT_EQ(b <= i && i < e, r.lo <= o && o <= r.hi)
                  << padding << " in=" << in << " k=" << kk << " s=" << stride << " i=" << i
                  << " o=" << o;
            }
          }
        }
}

// The per-element functions the GPU kernels run, against the reference, bit for bit.
TEST(PoolGatherTest, PerElementMathMatchesTheReference) {
  struct Geo {
    std::int64_t n, h, w, c, kh, kw, sh, sw;
    const char* padding;
  };
  for (const Geo& geo :
       {Geo{1, 7, 6, 3, 2, 2, 2, 2, "SAME"}, Geo{2, 9, 9, 5, 3, 3, 2, 2, "SAME"},
        Geo{2, 9, 9, 5, 3, 3, 2, 2, "VALID"}, Geo{1, 5, 5, 1, 3, 3, 1, 1, "SAME"},
        Geo{1, 4, 6, 2, 1, 1, 1, 1, "VALID"}, Geo{1, 8, 5, 3, 3, 2, 3, 1, "SAME"}}) {
    k::PoolGeom g;
    g.n = geo.n;
    g.c = geo.c;
    g.h = k::window_dim(geo.h, geo.kh, geo.sh, 1, geo.padding, "t");
    g.w = k::window_dim(geo.w, geo.kw, geo.sw, 1, geo.padding, "t");
    const std::int64_t nx = g.n * g.h.in * g.w.in * g.c, ny = g.n * g.h.out * g.w.out * g.c;
    // Values on a coarse grid so windows hold ties; a few NaN and infinities.
    auto x = random_vec(nx, 3);
    for (auto& v : x) v = std::round(v);
    x[0] = NAN;
    if (nx > 10) x[10] = INFINITY;
    if (nx > 20) x[20] = -INFINITY;
    if (nx > 31) x[31] = NAN;
    const auto dy = random_vec(ny, 4);
    std::vector<float> y(static_cast<std::size_t>(ny)), dx(static_cast<std::size_t>(nx));
    k::max_pool_forward_ref(g, x.data(), y.data());
    for (std::int64_t o = 0; o < ny; ++o)
      ASSERT_TRUE(same_bits(k::max_pool_forward_at(g, x.data(), o), y[static_cast<std::size_t>(o)]))
          << "max forward " << o;
    k::max_pool_backward_ref(g, x.data(), dy.data(), dx.data());
    for (std::int64_t i = 0; i < nx; ++i)
      ASSERT_TRUE(same_bits(k::max_pool_backward_at(g, x.data(), dy.data(), i),
                            dx[static_cast<std::size_t>(i)]))
          << "max backward " << i;
    k::avg_pool_forward_ref(g, x.data(), y.data());
    for (std::int64_t o = 0; o < ny; ++o) {
      const float got = k::avg_pool_forward_at(g, x.data(), o),
                  want = y[static_cast<std::size_t>(o)];
      ASSERT_TRUE(same_bits(got, want) || (std::isnan(got) && std::isnan(want)))
          << "avg forward " << o;
    }
    k::avg_pool_backward_ref(g, dy.data(), dx.data());
    for (std::int64_t i = 0; i < nx; ++i)
      ASSERT_TRUE(
          same_bits(k::avg_pool_backward_at(g, dy.data(), i), dx[static_cast<std::size_t>(i)]))
          << "avg backward " << i;
    const auto ddx = random_vec(nx, 5);
    k::max_pool_grad_grad_ref(g, x.data(), ddx.data(), y.data());
    for (std::int64_t o = 0; o < ny; ++o)
      ASSERT_TRUE(same_bits(k::max_pool_grad_grad_at(g, x.data(), ddx.data(), o),
                            y[static_cast<std::size_t>(o)]))
          << "max grad grad " << o;
  }
}

namespace {
sf::Tensor run_ref(const char* op, std::vector<sf::Tensor> inputs, const sf::AttrMap& attrs = {}) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &attrs;
  c.node_name = op;
  c.inputs = std::move(inputs);
  k::kernel_registry().find(op, sf::devices::DeviceType::kCPU, c.inputs[0].dtype(), "ref")(c);
  return c.outputs[0];
}
template <class T>
sf::Tensor t16(std::vector<float> v, const sf::Shape& s) {
  std::vector<T> h;
  for (float f : v) h.push_back(T(f));
  return sf::Tensor::from_vector<T>(h, s);
}
template <class T>
std::vector<float> f32(const sf::Tensor& t) {
  std::vector<float> v;
  for (T x : t.to_vector<T>()) v.push_back(static_cast<float>(x));
  return v;
}
}  // namespace

TEST(SixteenBitReferenceTest, BinaryOpsRoundOnceFromFloat) {
  // 1 + 2^-11 is not a float16: rounds to even (1).
  auto a = t16<sf::half>({1.5f, 1.0f, 3.0f}, {3});
  auto b = t16<sf::half>({2.25f, 0.00048828125f, 0.0f}, {3});
  EXPECT_EQ(f32<sf::half>(run_ref("AddV2", {a, b})), (std::vector<float>{3.75f, 1.0f, 3.0f}));
  const auto q = f32<sf::half>(run_ref("RealDiv", {a, b}));
  EXPECT_TRUE(std::isinf(q[2]));
  auto c = t16<sf::bfloat16_t>({1.5f, -2.0f}, {2});
  EXPECT_EQ(f32<sf::bfloat16_t>(run_ref("Mul", {c, t16<sf::bfloat16_t>({2.0f}, {})})),
            (std::vector<float>{3.0f, -4.0f}));
}

TEST(SixteenBitReferenceTest, ReluKeepsNegativeZeroAndNaN) {
  auto x = t16<sf::half>({-1.0f, -0.0f, 2.5f, NAN}, {4});
  const auto y = f32<sf::half>(run_ref("Relu", {x}));
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_TRUE(std::signbit(y[1]));  // relu(-0) = -0, as in float32
  EXPECT_EQ(y[2], 2.5f);
  EXPECT_TRUE(std::isnan(y[3]));
  auto dy = t16<sf::bfloat16_t>({1, 1, 1, 1}, {4});
  auto xb = t16<sf::bfloat16_t>({-1.0f, 0.0f, 2.5f, NAN}, {4});
  EXPECT_EQ(f32<sf::bfloat16_t>(run_ref("ReluGrad", {dy, xb})), (std::vector<float>{0, 0, 1, 0}));
}

TEST(SixteenBitReferenceTest, MatMulAndFusedBiasAddRelu) {
  auto a = t16<sf::half>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto b = t16<sf::half>({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(f32<sf::half>(run_ref("MatMul", {a, b})), (std::vector<float>{4, 5, 10, 11}));
  sf::AttrMap tb;
  tb.set("transpose_b", true);
  EXPECT_EQ(f32<sf::bfloat16_t>(run_ref("MatMul",
                                        {t16<sf::bfloat16_t>({1, 2, 3, 4, 5, 6}, {2, 3}),
                                         t16<sf::bfloat16_t>({1, 2, 3, 4, 5, 6}, {2, 3})},
                                        tb)),
            (std::vector<float>{14, 32, 32, 77}));
  auto x = sf::Tensor::from_vector<float>({1, -2, 3, -4, 5, -6}, {2, 3});
  auto bias = sf::Tensor::from_vector<float>({-2, 1, 0.5f});
  EXPECT_EQ(run_ref("_FusedBiasAddRelu", {x, bias}).to_vector<float>(),
            (std::vector<float>{0, 0, 3.5f, 0, 6, 0}));
}

// The GPU ConcatV2 / SplitV adapters check their arguments before any CUDA call, so this runs
// without a GPU (CUDA builds register the kernels whether or not a card is present): no inputs
// used to wrap `inputs.size() - 1` and index far past the vector; host pieces reached
// cudaMemcpy2DAsync as device pointers.
TEST(GpuKernelArgsTest, ConcatAndSplitRefuseBadInputsBeforeCuda) {
  const auto& r = k::kernel_registry();
  if (!r.contains("ConcatV2", sf::devices::DeviceType::kGPU, sf::DType::kFloat32, "cuda"))
    GTEST_SKIP() << "no CUDA kernels in this build";
  auto run = [&](const char* op, std::vector<sf::Tensor> inputs) -> std::string {
    k::KernelContext c;
    c.device = sf::devices::host_device().get();
    c.device_ptr = sf::devices::host_device();
    c.node_name = "test/" + std::string(op);
    c.inputs = std::move(inputs);
    try {
      r.find(op, sf::devices::DeviceType::kGPU, sf::DType::kFloat32, "cuda")(c);
    } catch (const sf::InvalidArgumentError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(run("ConcatV2", {}).find("needs values and an axis"), std::string::npos);
  const auto host = sf::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  const auto axis = sf::Tensor::from_scalar(std::int32_t{0});
  EXPECT_NE(run("ConcatV2", {host, host, axis}).find("must live on a GPU"), std::string::npos);
  const auto sizes = sf::Tensor::from_vector<std::int32_t>({1, 1});
  EXPECT_NE(run("SplitV", {host, sizes, axis}).find("must live on a GPU"), std::string::npos);
}

// The CPU ConcatV2 kernel refuses the same malformed inputs (no inputs at all; pieces of
// different dtypes, which its byte copies would over-read) with an error naming the node.
TEST(GpuKernelArgsTest, CpuConcatRefusesMissingInputsAndMixedDtypes) {
  const auto& r = k::kernel_registry();
  auto run = [&](std::vector<sf::Tensor> inputs) -> std::string {
    k::KernelContext c;
    c.device = sf::devices::host_device().get();
    c.device_ptr = sf::devices::host_device();
    c.node_name = "test/ConcatV2";
    c.inputs = std::move(inputs);
    try {
      r.find("ConcatV2", sf::devices::DeviceType::kCPU, sf::DType::kFloat32)(c);
    } catch (const sf::InvalidArgumentError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(run({}).find("test/ConcatV2: ConcatV2 needs values and an axis"), std::string::npos);
  const auto f = sf::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  const auto d = sf::Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  const auto axis = sf::Tensor::from_scalar(std::int32_t{0});
  EXPECT_NE(run({f, d, axis}).find("input 1 is float64"), std::string::npos) << run({f, d, axis});
  EXPECT_EQ(run({f, f, axis}), "no error");
}

// Conv2D kernels called directly (not through a graph node, whose shape function checks the
// attributes) refuse malformed strides / dilations with an error naming the node, on every CPU
// label (std::out_of_range from a short vector before).
TEST(GpuKernelArgsTest, ConvKernelsRefuseMalformedStridesAndDilations) {
  const auto& r = k::kernel_registry();
  const auto x =
      sf::Tensor::from_vector<float>(std::vector<float>(2 * 5 * 5 * 3, 1.0f), {2, 5, 5, 3});
  const auto f =
      sf::Tensor::from_vector<float>(std::vector<float>(3 * 3 * 3 * 4, 0.5f), {3, 3, 3, 4});
  for (const auto& label : r.labels("Conv2D", sf::devices::DeviceType::kCPU, sf::DType::kFloat32)) {
    for (const auto& [name, value] : std::vector<std::pair<const char*, std::vector<std::int64_t>>>{
             {"strides", {1, 2}}, {"strides", {2, 1, 1, 1}}, {"dilations", {1, 1, 1}}}) {
      sf::AttrMap a;
      a.set("padding", std::string("SAME"));
      a.set(name, value);
      k::KernelContext c;
      c.device = sf::devices::host_device().get();
      c.device_ptr = sf::devices::host_device();
      c.attrs = &a;
      c.node_name = "test/Conv2D";
      c.inputs = {x, f};
      try {
        r.find("Conv2D", sf::devices::DeviceType::kCPU, sf::DType::kFloat32, label)(c);
        ADD_FAILURE() << label << ": no error for " << name;
      } catch (const sf::InvalidArgumentError& e) {
        EXPECT_NE(std::string(e.what()).find(std::string("test/Conv2D: ") + name),
                  std::string::npos)
            << label << ": " << e.what();
      }
    }
  }
}
