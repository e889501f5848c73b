// Initializer fill throughput on the CPU (reference kernels), GB/s written.
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/init/random.h"

namespace sf = scopeflow;
using sf::kernels::RandomDist;

static void BM_Init_Cpu(benchmark::State& state) {
  const auto dist = static_cast<RandomDist>(state.range(0));
  const std::int64_t n = state.range(1);
  std::vector<float> out(static_cast<std::size_t>(n));
  std::uint64_t offset = 0;
  for (auto _ : state) {
    sf::kernels::random_forward_ref(
        {dist, sf::kernels::philox::make_key(1, 2), offset, out.data(), n});
    offset += static_cast<std::uint64_t>(n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 4);
  state.SetLabel(dist == RandomDist::kUniform  ? "uniform"
                 : dist == RandomDist::kNormal ? "normal"
                                               : "truncated_normal");
}

BENCHMARK(BM_Init_Cpu)->ArgsProduct({{0, 1, 2}, {1 << 20}})->ArgNames({"dist", "n"});
