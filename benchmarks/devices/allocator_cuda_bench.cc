// GPU allocation latency: the caching allocator (steady state) against cudaMalloc/cudaFree.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include "devices/cuda/cuda_check.h"
#include "devices/device_manager.h"

namespace sf = scopeflow;

static void BM_Alloc_CudaMalloc(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError("no GPU");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = nullptr;
    SF_CUDA_CHECK(cudaMalloc(&p, bytes));
    SF_CUDA_CHECK(cudaFree(p));
  }
}

static void BM_Alloc_ScopeFlowGpuCaching(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError("no GPU");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0));
  sf::devices::DeviceManager m;
  auto& alloc = m.gpu(0)->allocator();
  alloc.deallocate(alloc.allocate(bytes));  // warm the cache
  for (auto _ : state) {
    void* p = alloc.allocate(bytes);
    benchmark::DoNotOptimize(p);
    alloc.deallocate(p);
  }
  state.counters["cudaMalloc_calls"] = static_cast<double>(alloc.stats().num_raw_allocs);
}

BENCHMARK(BM_Alloc_CudaMalloc)->Arg(256)->Arg(64 << 10)->Arg(16 << 20)->Arg(256 << 20);
BENCHMARK(BM_Alloc_ScopeFlowGpuCaching)->Arg(256)->Arg(64 << 10)->Arg(16 << 20)->Arg(256 << 20);
