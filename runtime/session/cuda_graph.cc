// CUDA-graph eligibility of a plan (pure C++; the CUDA side is cuda_graph_cuda.cc or the
// stub). See cuda_graph.h.
#include "runtime/session/cuda_graph.h"

#include <string>

#include "devices/base/errors.h"

namespace scopeflow::cuda_graph {
namespace {

// Steps reachable from the `from` steps (excluded unless reached again), by successors.
std::vector<char> reachable(const std::vector<StepInfo>& steps, const std::vector<int>& from) {
  std::vector<char> seen(steps.size(), 0);
  std::vector<int> stack;
  for (int s : from)
    for (int n : steps[static_cast<std::size_t>(s)].successors) stack.push_back(n);
  while (!stack.empty()) {
    const int s = stack.back();
    stack.pop_back();
    if (s < 0 || static_cast<std::size_t>(s) >= steps.size() || seen[static_cast<std::size_t>(s)])
      continue;
    seen[static_cast<std::size_t>(s)] = 1;
    for (int n : steps[static_cast<std::size_t>(s)].successors) stack.push_back(n);
  }
  return seen;
}

}  // namespace

Eligibility analyze(const std::vector<StepInfo>& steps) {
  Eligibility e;
  std::vector<int> host, graph;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const StepInfo& s = steps[i];
    if (!s.blocker.empty()) {
      e.reason = str_cat(s.name, ": ", s.blocker);
      return e;
    }
    if (!s.work) continue;
    (s.in_graph ? graph : host).push_back(static_cast<int>(i));
  }
  e.graph_work = static_cast<std::int64_t>(graph.size());
  e.host_work = !host.empty();
  if (graph.empty()) {
    e.reason = "no GPU step";
    return e;
  }
  // Host work before or after GPU work in the dataflow would need the host in the middle of
  // the graph (a copy, or an ordering the graph cannot express).
  const auto after_host = reachable(steps, host);
  for (int g : graph)
    if (after_host[static_cast<std::size_t>(g)]) {
      for (int h : host)
        if (reachable(steps, {h})[static_cast<std::size_t>(g)]) {
          e.reason = str_cat("host step ", steps[static_cast<std::size_t>(h)].name,
                             " runs before GPU step ", steps[static_cast<std::size_t>(g)].name);
          return e;
        }
    }
  const auto after_graph = reachable(steps, graph);
  for (int h : host)
    if (after_graph[static_cast<std::size_t>(h)]) {
      for (int g : graph)
        if (reachable(steps, {g})[static_cast<std::size_t>(h)]) {
          e.reason = str_cat("host step ", steps[static_cast<std::size_t>(h)].name,
                             " runs after GPU step ", steps[static_cast<std::size_t>(g)].name);
          return e;
        }
    }
  e.eligible = true;
  return e;
}

}  // namespace scopeflow::cuda_graph
