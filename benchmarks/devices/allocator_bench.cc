// Allocator latency: ScopeFlow's CPU allocator against malloc/free, and the GPU caching
// allocator against raw cudaMalloc/cudaFree (allocator_cuda_bench.cc), in one run.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "devices/cpu_allocator.h"

namespace sf = scopeflow;

static void BM_Alloc_Malloc(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(bytes);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}

static void BM_Alloc_ScopeFlowCpu(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  sf::devices::CpuAllocator alloc("/device:CPU:0");
  for (auto _ : state) {
    void* p = alloc.allocate(bytes);
    benchmark::DoNotOptimize(p);
    alloc.deallocate(p);
  }
}

BENCHMARK(BM_Alloc_Malloc)->Arg(256)->Arg(64 << 10)->Arg(16 << 20);
BENCHMARK(BM_Alloc_ScopeFlowCpu)->Arg(256)->Arg(64 << 10)->Arg(16 << 20);
