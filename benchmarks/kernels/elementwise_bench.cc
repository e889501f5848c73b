// The multi-threaded CPU kernels (label "cpu") against their references ("ref") through the
// registry, on the Fashion-MNIST convnet's activation shapes (batch 64): element-wise ops,
// BiasAdd and its gradient, pooling and its gradient. Threads: SF_INTRA_OP_THREADS.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sf = scopeflow;

namespace {
sf::Tensor filled(const sf::Shape& s, float v) {
  std::vector<float> x(static_cast<std::size_t>(s.num_elements()));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = v * static_cast<float>(i % 97) - 1.0f;
  return sf::Tensor::from_vector<float>(x, s);
}

void run_kernel(benchmark::State& state, const char* op, const std::string& label,
                std::vector<sf::Tensor> inputs, const sf::AttrMap& attrs = {}) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &attrs;
  c.node_name = op;
  c.inputs = std::move(inputs);
  const auto& kernel =
      sf::kernels::kernel_registry().find(op, sf::devices::DeviceType::kCPU, sf::float32, label);
  std::int64_t bytes = 0;
  for (const auto& t : c.inputs) bytes += static_cast<std::int64_t>(t.bytes());
  for (auto _ : state) {
    c.outputs.clear();
    kernel(c);
    benchmark::DoNotOptimize(c.outputs[0].raw_data());
  }
  state.SetBytesProcessed(state.iterations() *
                          (bytes + static_cast<std::int64_t>(c.outputs[0].bytes())));
}

const sf::Shape kAct{64, 28, 28, 32};  // conv1's output at batch 64

sf::AttrMap pool_attrs() {
  sf::AttrMap a;
  a.set("ksize", std::vector<std::int64_t>{1, 2, 2, 1});
  a.set("strides", std::vector<std::int64_t>{1, 2, 2, 1});
  a.set("padding", std::string("SAME"));
  return a;
}
}  // namespace

static void BM_Relu(benchmark::State& s, std::string label) {
  run_kernel(s, "Relu", label, {filled(kAct, 0.02f)});
}
static void BM_AddV2_Bias(benchmark::State& s, std::string label) {
  run_kernel(s, "AddV2", label, {filled(kAct, 0.02f), filled({32}, 0.1f)});
}
static void BM_Mul_SameShape(benchmark::State& s, std::string label) {
  run_kernel(s, "Mul", label, {filled(kAct, 0.02f), filled(kAct, 0.03f)});
}
static void BM_BiasAddGrad(benchmark::State& s, std::string label) {
  run_kernel(s, "BiasAddGrad", label, {filled(kAct, 0.02f)});
}
static void BM_MaxPool(benchmark::State& s, std::string label) {
  run_kernel(s, "MaxPool", label, {filled(kAct, 0.02f)}, pool_attrs());
}
static void BM_MaxPoolGrad(benchmark::State& s, std::string label) {
  auto x = filled(kAct, 0.02f);
  run_kernel(s, "MaxPoolGrad", label,
             {x, filled({64, 14, 14, 32}, 0.01f), filled({64, 14, 14, 32}, 0.01f)}, pool_attrs());
}
static void BM_AvgPoolGrad(benchmark::State& s, std::string label) {
  run_kernel(s, "AvgPoolGrad", label,
             {sf::Tensor::from_vector<std::int64_t>(kAct.dims()), filled({64, 14, 14, 32}, 0.01f)},
             pool_attrs());
}

#define SF_BOTH_LABELS(fn)                                       \
  BENCHMARK_CAPTURE(fn, ref, std::string("ref"))->UseRealTime(); \
  BENCHMARK_CAPTURE(fn, cpu, std::string("cpu"))->UseRealTime()
SF_BOTH_LABELS(BM_Relu);
SF_BOTH_LABELS(BM_AddV2_Bias);
SF_BOTH_LABELS(BM_Mul_SameShape);
SF_BOTH_LABELS(BM_BiasAddGrad);
SF_BOTH_LABELS(BM_MaxPool);
SF_BOTH_LABELS(BM_MaxPoolGrad);
SF_BOTH_LABELS(BM_AvgPoolGrad);
