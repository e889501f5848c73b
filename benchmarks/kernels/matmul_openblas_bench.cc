// MatMul: ScopeFlow's kernels (through the registry, allocating the output; arg 3 picks the
// label: 0 the default, 1 "openblas", 2 "onednn") against cblas_sgemm and (with oneDNN)
// dnnl_sgemm called directly on preallocated buffers, same shapes, same run.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <string>

#include "devices/cpu_device.h"
#include "kernels/kernel.h"

namespace sf = scopeflow;

static void BM_MatMul_ScopeFlow(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  auto a = sf::Tensor::from_vector<float>(std::vector<float>(static_cast<std::size_t>(m * k), 0.5f),
                                          {m, k});
  auto b = sf::Tensor::from_vector<float>(
      std::vector<float>(static_cast<std::size_t>(k * n), 0.25f), {k, n});
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.inputs = {a, b};
  static const char* const kLabels[] = {"", "openblas", "onednn"};
  const std::string label = kLabels[state.range(3)];
  const auto& reg = sf::kernels::kernel_registry();
  if (!label.empty() &&
      !reg.contains("MatMul", sf::devices::DeviceType::kCPU, sf::float32, label)) {
    state.SkipWithError(("no MatMul label " + label + " in this build").c_str());
    return;
  }
  const auto& kernel = reg.find("MatMul", sf::devices::DeviceType::kCPU, sf::float32, label);
  state.SetLabel(label.empty()
                     ? "default: " +
                           reg.labels("MatMul", sf::devices::DeviceType::kCPU, sf::float32).front()
                     : label);
  for (auto _ : state) {
    c.outputs.clear();
    kernel(c);
    benchmark::DoNotOptimize(c.outputs[0].raw_data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}

static void BM_MatMul_CblasDirect(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f),
      b(static_cast<std::size_t>(k * n), 0.25f), c(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k), b.data(),
                static_cast<int>(n), 0.0f, c.data(), static_cast<int>(n));
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}

// Fashion-CNN dense layers at batch 64/128, and a square GEMM.
#define SF_MATMUL_ARGS \
  ->Args({64, 3136, 1024})->Args({128, 1024, 10})->Args({512, 512, 512})->UseRealTime()
#define SF_MATMUL_LABEL_ARGS                          \
  ->ArgsProduct({{64}, {3136}, {1024}, {0, 1, 2}})    \
      ->ArgsProduct({{128}, {1024}, {10}, {0, 1, 2}}) \
      ->ArgsProduct({{512}, {512}, {512}, {0, 1, 2}}) \
      ->UseRealTime()
BENCHMARK(BM_MatMul_ScopeFlow) SF_MATMUL_LABEL_ARGS;
BENCHMARK(BM_MatMul_CblasDirect) SF_MATMUL_ARGS;

#ifdef SF_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>

static void BM_MatMul_OneDnnDirect(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f),
      b(static_cast<std::size_t>(k * n), 0.25f), c(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    if (dnnl_sgemm('N', 'N', m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n) !=
        dnnl_success) {
      state.SkipWithError("dnnl_sgemm failed");
      return;
    }
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MatMul_OneDnnDirect) SF_MATMUL_ARGS;
#endif
