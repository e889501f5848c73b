// Initializer fill throughput on the GPU: ScopeFlow's counter-based kernels against
// curandGenerateUniform / curandGenerateNormal (Philox generator) in the same run. GPU time
// from CUDA events (UseManualTime); bytes/s counts the floats written.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>
#include <curand.h>

#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "devices/device_manager.h"
#include "kernels/init/random.h"

namespace sf = scopeflow;
using sf::kernels::RandomDist;

static void BM_Init_Gpu_ScopeFlow(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError("no GPU");
    return;
  }
  const auto dist = static_cast<RandomDist>(state.range(0));
  const std::int64_t n = state.range(1);
  sf::devices::DeviceManager m;
  auto gpu = m.gpu(0);
  auto* out = static_cast<float*>(gpu->allocator().allocate(static_cast<std::size_t>(n) * 4));
  auto start = gpu->create_event(), stop = gpu->create_event();
  std::uint64_t offset = 0;
  for (auto _ : state) {
    start->record(gpu->compute_stream());
    sf::kernels::random_forward_cuda({dist, sf::kernels::philox::make_key(1, 2), offset, out, n},
                                     gpu->compute_stream());
    stop->record(gpu->compute_stream());
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
    offset += static_cast<std::uint64_t>(n);
  }
  gpu->allocator().deallocate(out);
  state.SetBytesProcessed(state.iterations() * n * 4);
}

static void BM_Init_Gpu_cuRAND(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError("no GPU");
    return;
  }
  const int dist = static_cast<int>(state.range(0));
  const std::int64_t n = state.range(1);
  sf::devices::DeviceManager m;
  auto gpu = m.gpu(0);
  auto* out = static_cast<float*>(gpu->allocator().allocate(static_cast<std::size_t>(n) * 4));
  curandGenerator_t gen;
  SF_CURAND_CHECK(curandCreateGenerator(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10));
  SF_CURAND_CHECK(curandSetStream(gen, static_cast<sf::cuda::GpuDevice&>(*gpu).stream()));
  SF_CURAND_CHECK(curandSetPseudoRandomGeneratorSeed(gen, 1234));
  auto start = gpu->create_event(), stop = gpu->create_event();
  for (auto _ : state) {
    start->record(gpu->compute_stream());
    if (dist == 0)
      SF_CURAND_CHECK(curandGenerateUniform(gen, out, static_cast<std::size_t>(n)));
    else
      SF_CURAND_CHECK(curandGenerateNormal(gen, out, static_cast<std::size_t>(n), 0.0f, 1.0f));
    stop->record(gpu->compute_stream());
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
  }
  SF_CURAND_CHECK(curandDestroyGenerator(gen));
  gpu->allocator().deallocate(out);
  state.SetBytesProcessed(state.iterations() * n * 4);
}

// dist: 0 uniform, 1 normal, 2 truncated normal (cuRAND has no truncated normal).
BENCHMARK(BM_Init_Gpu_ScopeFlow)
    ->ArgsProduct({{0, 1, 2}, {1 << 26}})
    ->ArgNames({"dist", "n"})
    ->UseManualTime();
BENCHMARK(BM_Init_Gpu_cuRAND)
    ->ArgsProduct({{0, 1}, {1 << 26}})
    ->ArgNames({"dist", "n"})
    ->UseManualTime();
