// write_graphviz (graph_dot.h): ops grouped into nested clusters by name scope, filled by
// device, with a legend; collapsed scopes become one node each.
#include "runtime/graph_dot.h"

#include <array>
#include <cstddef>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace scopeflow {
namespace {

// ColorBrewer "Set3": ten light colours on which black labels stay readable.
constexpr std::array<std::string_view, 10> kPalette = {"#8dd3c7", "#ffffb3", "#bebada", "#fb8072",
                                                       "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
                                                       "#d9d9d9", "#bc80bd"};
constexpr std::string_view kNoDeviceColor = "#ffffff";
constexpr std::string_view kMixedColor = "#f0f0f0";
constexpr std::string_view kMixed = "(several devices)";

// The text of a DOT string literal: quotes and backslashes escaped, newlines as \n.
std::string escape(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      r += '\\';
      r += c;
    } else if (c == '\n') {
      r += "\\n";
    } else {
      r += c;
    }
  }
  return r;
}

std::string quote(std::string_view s) { return "\"" + escape(s) + "\""; }

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_name(const std::string& name) {
  const auto slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

std::string node_attrs(const std::string& type) {
  if (type == "VariableV2" || type == "Variable" || type == "VarHandleOp") return "shape=cylinder";
  if (type == "Placeholder" || type == "PlaceholderWithDefault") return "shape=parallelogram";
  if (type == "Const") return "shape=box fontsize=7 height=0.2 width=0.3 margin=\"0.04,0.01\"";
  return "shape=ellipse";
}

// One drawn node: an op, or a collapsed scope standing for many ops.
struct VisNode {
  std::string id;
  std::string scope;  // the cluster it sits in ("" = top level)
  std::string label;
  std::string tooltip;
  std::string attrs;
  std::string device;
  bool collapsed = false;
};

struct Cluster {
  std::map<std::string, Cluster> children;
  std::vector<std::size_t> nodes;
};

class DotWriter {
 public:
  DotWriter(const Graph& graph, std::ostream& out, const GraphvizOptions& options)
      : graph_(graph), out_(out), options_(options) {}

  void write() {
    collect_nodes();
    out_ << "digraph G {\n"
         << "  graph [compound=true newrank=true fontname=\"Helvetica\" fontsize=12];\n"
         << "  node [style=filled fontname=\"Helvetica\" fontsize=10];\n"
         << "  edge [fontname=\"Helvetica\" fontsize=8 color=\"#555555\"];\n";
    write_cluster(root_, "", 1);
    write_edges();
    write_legend();
    out_ << "}\n";
  }

 private:
  std::string device_of(const Operation& op) const {
    return options_.device_of ? options_.device_of(op) : op.device();
  }

  // The collapsed scope covering `name` ("tower_0/gradients"), or "" when none does.
  std::string collapsed_scope(const std::string& name) const {
    // True when `path` sits in `name` at `pos`, ending at a component boundary.
    auto at = [&](const std::string& path, std::size_t pos) {
      const std::size_t end = pos + path.size();
      return name.compare(pos, path.size(), path) == 0 && (end == name.size() || name[end] == '/');
    };
    for (const auto& p : prefixes_) {
      if (p.rfind("*/", 0) == 0) {  // "*/gradients": a scope "gradients" at any depth
        const std::string path = p.substr(2);
        if (path.empty()) continue;
        for (std::size_t pos = 0;;) {
          if (at(path, pos)) return name.substr(0, pos + path.size());
          const std::size_t slash = name.find('/', pos);
          if (slash == std::string::npos) break;
          pos = slash + 1;
        }
      } else if (at(p, 0)) {
        return p;
      }
    }
    return "";
  }

  const std::string& color_of(const std::string& device) {
    auto it = colors_.find(device);
    if (it != colors_.end()) return it->second;
    std::string color;
    if (device.empty())
      color = kNoDeviceColor;
    else if (device == kMixed)
      color = kMixedColor;
    else
      color = kPalette[next_color_++ % kPalette.size()];
    legend_.push_back(device);
    return colors_.emplace(device, std::move(color)).first->second;
  }

  void collect_nodes() {
    for (const auto& p : options_.collapse_prefixes) {
      std::string q = p;
      while (!q.empty() && q.back() == '/') q.pop_back();
      if (!q.empty()) prefixes_.push_back(q);
    }
    std::map<std::string, std::size_t> collapsed;  // collapsed scope -> node index
    std::map<std::string, int> collapsed_count;
    const auto ops = graph_.operations();
    for (const auto& op : ops) {
      const std::string& name = op.name();
      const std::string device = device_of(op);
      const std::string prefix = collapsed_scope(name);
      if (!prefix.empty()) {
        auto [it, added] = collapsed.emplace(prefix, nodes_.size());
        if (added) {
          auto [scope, leaf] = split_name(prefix);
          nodes_.push_back({.id = "c" + std::to_string(collapsed.size() - 1),
                            .scope = scope,
                            .label = leaf,
                            .tooltip = prefix,
                            .attrs = "shape=box3d",
                            .device = device,
                            .collapsed = true});
        } else if (nodes_[it->second].device != device) {
          nodes_[it->second].device = std::string(kMixed);
        }
        ++collapsed_count[prefix];
        index_[op.node()] = it->second;
        continue;
      }
      auto [scope, leaf] = split_name(name);
      index_[op.node()] = nodes_.size();
      nodes_.push_back({.id = "n" + std::to_string(op.node()->id),
                        .scope = scope,
                        .label = (options_.short_names ? leaf : name) + "\n" + op.type(),
                        .tooltip = name + (device.empty() ? "" : " @ " + device),
                        .attrs = node_attrs(op.type()),
                        .device = device});
    }
    for (const auto& [prefix, i] : collapsed) {
      const int n = collapsed_count[prefix];
      nodes_[i].label += "\n(" + std::to_string(n) + (n == 1 ? " op)" : " ops)");
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      color_of(nodes_[i].device);  // colours in graph order, so the legend follows it
      Cluster* c = &root_;
      const std::string& scope = nodes_[i].scope;
      std::size_t start = 0;
      while (start < scope.size()) {
        std::size_t slash = scope.find('/', start);
        if (slash == std::string::npos) slash = scope.size();
        c = &c->children[scope.substr(start, slash - start)];
        start = slash + 1;
      }
      c->nodes.push_back(i);
    }
  }

  void write_cluster(const Cluster& cluster, const std::string& path, int depth) {
    const std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
    for (std::size_t i : cluster.nodes) {
      const VisNode& n = nodes_[i];
      out_ << pad << quote(n.id) << " [label=" << quote(n.label) << " tooltip=" << quote(n.tooltip)
           << " " << n.attrs << " fillcolor=" << quote(color_of(n.device)) << "];\n";
    }
    for (const auto& [name, child] : cluster.children) {
      const std::string child_path = path.empty() ? name : path + "/" + name;
      out_ << pad << "subgraph " << quote("cluster_" + child_path) << " {\n"
           << pad << "  label=" << quote(name) << "; style=rounded; color=\"#999999\";\n";
      write_cluster(child, child_path, depth + 1);
      out_ << pad << "}\n";
    }
  }

  void write_edges() {
    std::set<std::tuple<std::size_t, std::size_t, bool>> seen;  // edges touching collapsed nodes
    for (const auto& op : graph_.operations()) {
      const std::size_t dst = index_.at(op.node());
      const bool dst_collapsed = nodes_[dst].collapsed;
      auto edge = [&](std::size_t src, bool control, const std::string& label) {
        const bool collapsed = dst_collapsed || nodes_[src].collapsed;
        if (collapsed && (src == dst || !seen.emplace(src, dst, control).second)) return;
        out_ << "  " << quote(nodes_[src].id) << " -> " << quote(nodes_[dst].id);
        if (control)
          out_ << " [style=dashed arrowhead=odot]";
        else if (!collapsed && !label.empty())
          out_ << " [label=" << quote(label) << "]";
        out_ << ";\n";
      };
      for (const auto& in : op.inputs()) {
        std::string label;
        if (options_.edge_labels) {
          if (in.index() > 0) label = ":" + std::to_string(in.index()) + " ";
          const DType dtype = in.dtype();
          if (dtype != DType::kInvalid) label += std::string(dtype_name(dtype));
          const Shape shape = in.shape();
          if (shape.has_rank()) label += (label.empty() ? "" : " ") + shape.to_string();
        }
        edge(index_.at(in.node()), false, label);
      }
      for (const auto& c : op.control_inputs()) edge(index_.at(c.node()), true, "");
    }
  }

  void write_legend() {
    if (legend_.empty()) return;
    out_ << "  subgraph \"cluster_legend\" {\n"
         << "    label=\"devices\"; style=solid; color=\"#555555\";\n";
    for (std::size_t i = 0; i < legend_.size(); ++i) {
      const std::string& d = legend_[i];
      out_ << "    " << quote("legend_" + std::to_string(i))
           << " [label=" << quote(d.empty() ? "(no device)" : d)
           << " shape=box fillcolor=" << quote(colors_.at(d)) << "];\n";
    }
    out_ << "  }\n";
  }

  const Graph& graph_;
  std::ostream& out_;
  const GraphvizOptions& options_;
  std::vector<std::string> prefixes_;
  std::vector<VisNode> nodes_;
  std::unordered_map<const Node*, std::size_t> index_;
  Cluster root_;
  std::map<std::string, std::string> colors_;
  std::vector<std::string> legend_;  // devices in the order they got their colours
  std::size_t next_color_ = 0;
};

}  // namespace

void write_graphviz(const Graph& graph, std::ostream& out, const GraphvizOptions& options) {
  DotWriter(graph, out, options).write();
}

}  // namespace scopeflow
