// sf-bench-kernels, CPU part: Conv2D forward / backward-data / backward-filter per CPU label
// ("onednn": oneDNN primitives; "openblas": im2col + sgemm; "ref": reference loops) on the
// small-CNN shapes of the kernels issue, through the kernel registry (output allocated per
// call, as in a session). oneDNN called directly: conv2d_onednn_bench.cc; MatMul against
// cblas_sgemm: matmul_openblas_bench.cc. FLOP/s counts 2*N*OH*OW*KH*KW*C*O per pass.
#include <benchmark/benchmark.h>

#include <random>

#include "benchmarks/kernels/conv2d_cpu_shapes.h"
#include "devices/cpu_device.h"
#include "kernels/kernel.h"

namespace sf = scopeflow;

namespace {
using sf::bench::ConvShape;
const auto& kShapes = sf::bench::kCpuConvShapes;
const auto& kOps = sf::bench::kConvPassOps;

sf::Tensor random_tensor(const sf::Shape& s, unsigned seed) {
  sf::Tensor t(sf::float32, s);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  for (std::int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = d(g);
  return t;
}
}  // namespace

static void BM_Conv2D_Cpu(benchmark::State& state, std::string label) {
  const ConvShape& s = kShapes[state.range(0)];
  const char* op = kOps[state.range(1)];
  if (!sf::kernels::kernel_registry().contains(op, sf::devices::DeviceType::kCPU, sf::float32,
                                               label)) {
    state.SkipWithError("label not built");
    return;
  }
  // The reference loops are slow: shrink the batch for them (rates stay comparable).
  const std::int64_t n = label == "ref" ? std::max<std::int64_t>(1, s.n / 16) : s.n;
  sf::AttrMap a;
  a.set("strides", std::vector<std::int64_t>{1, 1, 1, 1});
  a.set("padding", std::string("SAME"));
  auto x = random_tensor({n, s.h, s.w, s.c}, 1);
  auto f = random_tensor({s.k, s.k, s.c, s.o}, 2);
  auto dy = random_tensor({n, s.h, s.w, s.o}, 3);
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &a;
  c.node_name = op;
  if (state.range(1) == 0) c.inputs = {x, f};
  if (state.range(1) == 1)
    c.inputs = {sf::Tensor::from_vector<std::int64_t>(x.shape().dims()), f, dy};
  if (state.range(1) == 2)
    c.inputs = {x, sf::Tensor::from_vector<std::int64_t>(f.shape().dims()), dy};
  const auto& kernel =
      sf::kernels::kernel_registry().find(op, sf::devices::DeviceType::kCPU, sf::float32, label);
  for (auto _ : state) {
    c.outputs.clear();
    kernel(c);
    benchmark::DoNotOptimize(c.outputs[0].raw_data());
  }
  const double flops = 2.0 * n * s.h * s.w * s.k * s.k * s.c * s.o;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(
      sf::str_cat(op, " N=", n, " ", s.h, "x", s.w, " ", s.c, "->", s.o, " ", s.k, "x", s.k));
}

BENCHMARK_CAPTURE(BM_Conv2D_Cpu, onednn, std::string("onednn"))
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2D_Cpu, openblas, std::string("openblas"))
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2D_Cpu, ref, std::string("ref"))
    ->ArgsProduct({{0, 1}, {0}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
