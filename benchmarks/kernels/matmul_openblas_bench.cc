// MatMul: ScopeFlow's "openblas" kernel (through the registry, allocating its output) against
// cblas_sgemm called directly on preallocated buffers, same shapes, same run.
#include <benchmark/benchmark.h>
#include <cblas.h>

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
  const auto& kernel =
      sf::kernels::kernel_registry().find("MatMul", sf::devices::DeviceType::kCPU, sf::float32);
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
BENCHMARK(BM_MatMul_ScopeFlow) SF_MATMUL_ARGS;
BENCHMARK(BM_MatMul_CblasDirect) SF_MATMUL_ARGS;
