// write_graphviz: a Graph as Graphviz DOT, for looking at tower and placement graphs
// (`dot -Tsvg graph.dot -o graph.svg`). Implementation: graph_dot.cc.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/graph.h"

namespace scopeflow {

struct GraphvizOptions {
  // The device an op is coloured by. Default (empty): the op's requested device from the
  // graph. With a Session: [&](const Operation& op) { return sess.assigned_device(op); }.
  std::function<std::string(const Operation&)> device_of = {};
  // Name scopes drawn as one node each: "gradients" collapses the op "gradients" and every op
  // under "gradients/"; "*/gradients" does so for each scope "gradients" at any depth
  // ("tower_0/gradients", "tower_1/model/gradients", ...: one node each). Edges into and out
  // of a collapsed node are kept, once per pair of nodes.
  std::vector<std::string> collapse_prefixes = {};
  // Label data edges with the tensor's dtype and shape ("float32 [64,28,28,1]") when known.
  bool edge_labels = true;
  // Node labels hold the name relative to the enclosing cluster (true) or the full name.
  bool short_names = true;
};

// Writes `graph` as a DOT digraph: one node per op (label "name\nOpType"; variables as
// cylinders, placeholders as parallelograms, Const small), an edge per data input (labelled
// per `edge_labels`) and a dashed edge per control input, a nested `subgraph "cluster_<scope>"`
// per name scope (labelled with the scope's last component), one fill colour per device
// (10 colours, cycling) and a "cluster_legend" listing device -> colour. Names and device
// strings are escaped. Whatever `device_of` throws propagates; nothing else throws except
// a failing stream (the caller's exception mask).
void write_graphviz(const Graph& graph, std::ostream& out, const GraphvizOptions& options = {});

}  // namespace scopeflow
