// The multi-threaded CPU kernels (label "cpu") against their references ("ref") through the
// registry, on the Fashion-MNIST convnet's shapes (batch 64): element-wise ops, BiasAdd and its
// gradient, pooling and its gradient (after conv1 and conv2), and the fc1 weights' gradient
// path (AddN of two towers, the scalar Mul that averages it, ApplyAdam). Threads:
// SF_INTRA_OP_THREADS.
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
sf::Tensor constant(const sf::Shape& s, float v) {
  return sf::Tensor::from_vector<float>(
      std::vector<float>(static_cast<std::size_t>(s.num_elements()), v), s);
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

const sf::Shape kAct{64, 28, 28, 32};   // conv1's output at batch 64
const sf::Shape kAct2{64, 14, 14, 64};  // conv2's output
const sf::Shape kFc1{3136, 1024};       // fc1's weights

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
static void BM_MaxPool_Conv2(benchmark::State& s, std::string label) {
  run_kernel(s, "MaxPool", label, {filled(kAct2, 0.02f)}, pool_attrs());
}
static void BM_MaxPoolGrad_Conv2(benchmark::State& s, std::string label) {
  run_kernel(s, "MaxPoolGrad", label,
             {filled(kAct2, 0.02f), filled({64, 7, 7, 64}, 0.01f), filled({64, 7, 7, 64}, 0.01f)},
             pool_attrs());
}
// The averaged tower gradient: grad * 0.5 (a scalar operand).
static void BM_Mul_Scalar_Fc1(benchmark::State& s, std::string label) {
  run_kernel(s, "Mul", label, {filled(kFc1, 0.02f), sf::Tensor::from_scalar(0.5f)});
}
static void BM_AddN_Fc1(benchmark::State& s, std::string label) {
  run_kernel(s, "AddN", label, {filled(kFc1, 0.02f), filled(kFc1, 0.03f)});
}
// In place on var, m and v (v kept >= 0), with sf-train's hyperparameters.
static void BM_ApplyAdam_Fc1(benchmark::State& s, std::string label) {
  auto scalar = [](float x) { return sf::Tensor::from_scalar(x); };
  run_kernel(s, "ApplyAdam", label,
             {filled(kFc1, 0.02f), filled(kFc1, 0.001f), constant(kFc1, 1e-4f), scalar(0.81f),
              scalar(0.998f), scalar(1e-3f), scalar(0.9f), scalar(0.999f), scalar(1e-8f),
              filled(kFc1, 0.01f)});
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
SF_BOTH_LABELS(BM_MaxPool_Conv2);
SF_BOTH_LABELS(BM_MaxPoolGrad_Conv2);
SF_BOTH_LABELS(BM_AvgPoolGrad);
SF_BOTH_LABELS(BM_Mul_Scalar_Fc1);
SF_BOTH_LABELS(BM_AddN_Fc1);
SF_BOTH_LABELS(BM_ApplyAdam_Fc1);
