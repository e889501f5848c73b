// Graph-construction cost: ns per get_variable (with its VariableV2/Assign/read/initializer
// ops) and per element-wise op, for a 10,000-variable model built as 100 scopes x 100
// variables. Peer: benchmarks/compare/tf_graph_build.py times the same model in TF1.
#include <benchmark/benchmark.h>
#include <scopeflow/scopeflow.h>

static void BM_GraphBuild_GetVariable10k(benchmark::State& state) {
  const int scopes = 100, per_scope = 100;
  for (auto _ : state) {
    sf::Graph g;
    auto guard = g.as_default();
    for (int s = 0; s < scopes; ++s) {
      sf::variable_scope vs(sf::str_cat("layer", s));
      for (int v = 0; v < per_scope; ++v)
        benchmark::DoNotOptimize(sf::get_variable(sf::str_cat("w", v), {16, 16}));
    }
    state.PauseTiming();
    g = sf::Graph();  // destruction not timed
    state.ResumeTiming();
  }
  state.counters["ns_per_variable"] = benchmark::Counter(
      static_cast<double>(scopes * per_scope),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

static void BM_GraphBuild_ReuseGetVariable10k(benchmark::State& state) {
  sf::Graph g;
  auto guard = g.as_default();
  for (int s = 0; s < 100; ++s) {
    sf::variable_scope vs(sf::str_cat("layer", s));
    for (int v = 0; v < 100; ++v) sf::get_variable(sf::str_cat("w", v), {16, 16});
  }
  for (auto _ : state) {
    for (int s = 0; s < 100; ++s) {
      sf::variable_scope vs(sf::str_cat("layer", s), {.reuse = true});
      for (int v = 0; v < 100; ++v)
        benchmark::DoNotOptimize(sf::get_variable(sf::str_cat("w", v), {16, 16}));
    }
  }
  state.counters["ns_per_variable"] = benchmark::Counter(
      10000.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

static void BM_GraphBuild_AddOp10k(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    sf::Graph g;
    {
      auto guard = g.as_default();
      auto x = sf::placeholder(sf::float32, {16});
      state.ResumeTiming();
      sf::Output y = x;
      for (int i = 0; i < 10000; ++i) y = y + x;
      benchmark::DoNotOptimize(y);
      state.PauseTiming();
    }
    g = sf::Graph();
    state.ResumeTiming();
  }
  state.counters["ns_per_op"] = benchmark::Counter(
      10000.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_GraphBuild_GetVariable10k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GraphBuild_ReuseGetVariable10k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GraphBuild_AddOp10k)->Unit(benchmark::kMillisecond);
