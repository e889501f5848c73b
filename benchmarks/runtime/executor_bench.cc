// sf-bench-executor: the executor's cost per node on the CPU, with kernels that do almost
// nothing (scalar adds), so the time is the runtime's: plan lookup, dependency counting,
// input gathering, output allocation, release. Target: <= 5 us per op on a chain of 1,000
// adds (benchmarks/compare/tf_executor.py runs the same graphs through TF's Session).
#include <benchmark/benchmark.h>
#include <scopeflow/scopeflow.h>

#include <chrono>

namespace {

// Wall-clock microseconds per graph op over the timed loop.
void set_us_per_op(benchmark::State& state, std::chrono::steady_clock::time_point t0, int ops) {
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  state.counters["us_per_op"] =
      us / static_cast<double>(state.iterations()) / static_cast<double>(ops);
}

// y = ((x + 1) + 1) ... 1,000 times: strictly sequential, the inline path.
void BM_ChainOfAdds(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  sf::Graph g;
  auto guard = g.as_default();
  auto x = sf::placeholder(sf::float32, sf::Shape{}, "x");
  auto one = sf::constant(1.0f);
  auto y = x;
  for (int i = 0; i < n; ++i) y = y + one;
  sf::Session s({.inter_op_parallelism_threads = static_cast<int>(state.range(1))}, g);
  const sf::FeedDict feed = {{x, sf::Tensor::from_scalar(0.0f)}};
  if (s.run(y, feed).scalar<float>() != static_cast<float>(n)) state.SkipWithError("wrong sum");
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(s.run(y, feed));
  set_us_per_op(state, t0, n);
  state.counters["nodes"] = static_cast<double>(s.last_run_stats().nodes_executed);
}
BENCHMARK(BM_ChainOfAdds)
    ->ArgNames({"ops", "threads"})
    ->Args({1000, 1})
    ->Args({1000, 0})
    ->Unit(benchmark::kMicrosecond);

// 1,000 independent adds joined by AddN: the dataflow fan-out path through the pool.
void BM_WideAdds(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  sf::Graph g;
  auto guard = g.as_default();
  auto x = sf::placeholder(sf::float32, sf::Shape{}, "x");
  std::vector<sf::Output> adds;
  for (int i = 0; i < n; ++i) adds.push_back(x + static_cast<float>(i));
  auto total = sf::add_n(adds);
  sf::Session s({.inter_op_parallelism_threads = static_cast<int>(state.range(1))}, g);
  const sf::FeedDict feed = {{x, sf::Tensor::from_scalar(0.0f)}};
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(s.run(total, feed));
  set_us_per_op(state, t0, n);
}
BENCHMARK(BM_WideAdds)
    ->ArgNames({"ops", "threads"})
    ->Args({1000, 1})
    ->Args({1000, 0})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
