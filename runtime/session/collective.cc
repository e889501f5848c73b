// Collective steps: planning (grouping and checks) and running. See collective.h.
#include "runtime/session/collective.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "devices/base/errors.h"
#include "kernels/collective/collective.h"

namespace scopeflow {
namespace {

std::string quoted_names(const std::vector<const Node*>& nodes) {
  std::string s;
  for (const Node* n : nodes) s += str_cat(s.empty() ? "" : ", ", "'", n->name, "'");
  return s;
}

bool device_before(const devices::Device& a, const devices::Device& b) {
  if (a.type() != b.type()) return a.type() == devices::DeviceType::kCPU;
  return a.index() < b.index();
}

// The plan's nodes with every group merged into one unit must form a DAG.
void check_acyclic(
    const std::vector<const Node*>& order,
    const std::unordered_map<const Node*, std::shared_ptr<const CollectiveGroup>>& of,
    const std::function<bool(const Node*, int)>& fed) {
  std::unordered_map<const void*, int> unit_id;
  std::vector<const CollectiveGroup*> unit_group;
  auto unit_of = [&](const Node* n) -> int {
    auto g = of.find(n);
    const void* key = g != of.end() ? static_cast<const void*>(g->second.get()) : n;
    auto [it, inserted] = unit_id.try_emplace(key, static_cast<int>(unit_group.size()));
    if (inserted) unit_group.push_back(g != of.end() ? g->second.get() : nullptr);
    return it->second;
  };
  std::unordered_set<const Node*> in_plan(order.begin(), order.end());
  std::vector<std::pair<int, int>> edges;
  for (const Node* n : order) {
    const int to = unit_of(n);
    for (std::size_t k = 0; k < n->inputs.size(); ++k) {
      const auto& [src, i] = n->inputs[k];
      if (!fed(src, i) && in_plan.count(src)) edges.emplace_back(unit_of(src), to);
    }
    for (const Node* dep : n->control_inputs)
      if (in_plan.count(dep)) edges.emplace_back(unit_of(dep), to);
  }
  const std::size_t units = unit_group.size();
  std::vector<std::vector<int>> next(units);
  std::vector<int> indegree(units, 0);
  for (const auto& [from, to] : edges) {
    if (from == to) {
      const CollectiveGroup* g = unit_group[static_cast<std::size_t>(to)];
      throw InvalidArgumentError(str_cat("NcclAllReduce group '", g->shared_name, "' (", g->names,
                                         "): a participant's input depends on the output of the "
                                         "same all-reduce, so it could never run"));
    }
    next[static_cast<std::size_t>(from)].push_back(to);
    ++indegree[static_cast<std::size_t>(to)];
  }
  std::vector<int> ready;
  for (std::size_t u = 0; u < units; ++u)
    if (indegree[u] == 0) ready.push_back(static_cast<int>(u));
  std::size_t done = 0;
  while (!ready.empty()) {
    const int u = ready.back();
    ready.pop_back();
    ++done;
    for (int v : next[static_cast<std::size_t>(u)])
      if (--indegree[static_cast<std::size_t>(v)] == 0) ready.push_back(v);
  }
  if (done == units) return;
  std::string stuck;
  for (std::size_t u = 0; u < units; ++u)
    if (indegree[u] > 0 && unit_group[u] != nullptr)
      stuck += str_cat(stuck.empty() ? "" : "; ", "'", unit_group[u]->shared_name, "' (",
                       unit_group[u]->names, ")");
  throw InvalidArgumentError(str_cat(
      "NcclAllReduce groups wait for each other's outputs and could ", "never run: ", stuck));
}

}  // namespace

const char* all_reduce_impl_name(AllReduceImpl impl) {
  switch (impl) {
    case AllReduceImpl::kHost: return "host reduction";
    case AllReduceImpl::kFused: return "ScopeFlow fused CUDA kernel";
    case AllReduceImpl::kFusedStaged: return "ScopeFlow fused CUDA kernel, staged through one card";
    case AllReduceImpl::kNccl: return "NCCL";
  }
  return "?";
}

AllReduceImpl choose_all_reduce(bool gpu, const std::vector<int>& cards) {
  if (!gpu) return AllReduceImpl::kHost;
  const std::set<int> distinct(cards.begin(), cards.end());
  if (distinct.size() <= 1) return AllReduceImpl::kFused;
  // NOTE: NCCL refuses a communicator that names one device twice, so logical GPUs sharing a
  // card cannot be NCCL ranks.
  if (distinct.size() == cards.size() && kernels::nccl_available()) return AllReduceImpl::kNccl;
  return AllReduceImpl::kFusedStaged;
}

std::unordered_map<const Node*, std::shared_ptr<const CollectiveGroup>> plan_collectives(
    const std::vector<const Node*>& order, const Graph& graph,
    const std::function<std::shared_ptr<devices::Device>(const Node*)>& place,
    const std::function<bool(const Node*, int)>& fed) {
  std::map<std::string, std::vector<const Node*>> by_name;
  for (const Node* n : order)
    if (n->op == "NcclAllReduce")
      by_name[n->attrs.get_or<std::string>("shared_name", "")].push_back(n);
  std::unordered_map<const Node*, std::shared_ptr<const CollectiveGroup>> out;
  if (by_name.empty()) return out;

  // Every participant in the graph, to name those this run pruned away.
  std::map<std::string, std::vector<const Node*>> in_graph;
  for (const auto& op : graph.operations())
    if (op.type() == "NcclAllReduce")
      in_graph[op.node()->attrs.get_or<std::string>("shared_name", "")].push_back(op.node());

  for (auto& [shared_name, members] : by_name) {
    auto g = std::make_shared<CollectiveGroup>();
    g->shared_name = shared_name;
    const std::string label =
        str_cat("NcclAllReduce group '", shared_name, "' (", quoted_names(members), ")");
    const auto& all = in_graph[shared_name];
    if (all.size() != members.size()) {
      std::vector<const Node*> missing;
      for (const Node* n : all)
        if (std::find(members.begin(), members.end(), n) == members.end()) missing.push_back(n);
      throw InvalidArgumentError(
          str_cat(label, ": only ", members.size(), " of its ", all.size(),
                  " participants are in this run; missing ", quoted_names(missing),
                  " (fetch or target every participant of an all-reduce, or none)"));
    }
    const Node* first = members[0];
    const std::int64_t k = first->attrs.get_or<std::int64_t>("num_devices", 0);
    g->reduction = first->attrs.get_or<std::string>("reduction", "");
    for (const Node* n : members) {
      if (n->attrs.get_or<std::int64_t>("num_devices", 0) != k)
        throw InvalidArgumentError(str_cat(label, ": num_devices differs: ", first->name, " has ",
                                           k, ", ", n->name, " has ",
                                           n->attrs.get_or<std::int64_t>("num_devices", 0)));
      if (n->attrs.get_or<std::string>("reduction", "") != g->reduction)
        throw InvalidArgumentError(str_cat(label, ": reduction differs: ", first->name, " has ",
                                           g->reduction, ", ", n->name, " has ",
                                           n->attrs.get_or<std::string>("reduction", "")));
      if (n->output_dtypes[0] != first->output_dtypes[0])
        throw InvalidArgumentError(str_cat(label, ": dtype differs: ", first->name, " is ",
                                           dtype_name(first->output_dtypes[0]), ", ", n->name,
                                           " is ", dtype_name(n->output_dtypes[0])));
      if (!n->output_shapes[0].is_compatible_with(first->output_shapes[0]))
        throw InvalidArgumentError(str_cat(label, ": shape differs: ", first->name, " has ",
                                           first->output_shapes[0].to_string(), ", ", n->name,
                                           " has ", n->output_shapes[0].to_string()));
    }
    if (static_cast<std::int64_t>(members.size()) != k)
      throw InvalidArgumentError(
          str_cat(label, ": ", members.size(), " participants but num_devices is ", k));
    std::vector<std::pair<const Node*, std::shared_ptr<devices::Device>>> placed;
    for (const Node* n : members) placed.emplace_back(n, place(n));
    std::stable_sort(placed.begin(), placed.end(), [](const auto& a, const auto& b) {
      return device_before(*a.second, *b.second);
    });
    bool any_cpu = false, any_gpu = false;
    std::vector<int> cards;
    for (std::size_t j = 0; j < placed.size(); ++j) {
      const auto& [n, d] = placed[j];
      if (j > 0 && placed[j - 1].second == d)
        throw InvalidArgumentError(str_cat(label, ": '", placed[j - 1].first->name, "' and '",
                                           n->name, "' are both on ", d->name(),
                                           "; each participant needs its own device"));
      g->members.push_back(n);
      g->devices.push_back(d);
      if (d->type() == devices::DeviceType::kCPU) {
        any_cpu = true;
      } else {
        any_gpu = true;
        cards.push_back(d->physical_id());
      }
    }
    if (any_cpu && any_gpu)
      throw InvalidArgumentError(str_cat(label,
                                         ": mixes CPU and GPU devices; an all-reduce runs "
                                         "over CPU devices only or GPU devices only"));
    g->names = quoted_names(g->members);
    g->impl = choose_all_reduce(any_gpu, cards);
    if ((g->impl == AllReduceImpl::kFused || g->impl == AllReduceImpl::kFusedStaged) &&
        k > kernels::kMaxFusedParticipants)
      throw InvalidArgumentError(str_cat(label, ": ", k,
                                         " participants; ScopeFlow's fused "
                                         "kernel takes at most ",
                                         kernels::kMaxFusedParticipants));
    std::shared_ptr<const CollectiveGroup> shared = std::move(g);
    for (const Node* n : shared->members) out.emplace(n, shared);
  }
  check_acyclic(order, out, fed);
  return out;
}

std::vector<Tensor> run_collective(const CollectiveGroup& group,
                                   const std::vector<Tensor>& inputs) {
  const std::string label =
      str_cat("NcclAllReduce group '", group.shared_name, "' (", group.names, ")");
  if (inputs.size() != group.members.size())
    throw InternalError(
        str_cat(label, ": ", inputs.size(), " inputs for ", group.members.size(), " participants"));
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    const Node* n = group.members[j];
    if (!inputs[j].initialized())
      throw FailedPreconditionError(str_cat("Attempting to use uninitialized value ",
                                            n->inputs[0].first->name, "\n\t [[node ", n->name,
                                            " (NcclAllReduce)]]"));
    if (inputs[j].dtype() != inputs[0].dtype() || !(inputs[j].shape() == inputs[0].shape()))
      throw InvalidArgumentError(
          str_cat(label, ": ", n->name, " got ", dtype_name(inputs[j].dtype()), " ",
                  inputs[j].shape().to_string(), " but ", group.members[0]->name, " got ",
                  dtype_name(inputs[0].dtype()), " ", inputs[0].shape().to_string()));
  }
  kernels::AllReduceRequest r;
  r.name = label;
  r.op = kernels::all_reduce_op_from_name(group.reduction, group.members[0]->name);
  r.devices = group.devices;
  r.inputs = inputs;
  switch (group.impl) {
    case AllReduceImpl::kHost: return kernels::all_reduce_host(r);
    case AllReduceImpl::kFused:
    case AllReduceImpl::kFusedStaged: return kernels::all_reduce_fused_gpu(r);
    case AllReduceImpl::kNccl:
      // NCCL reads each input on its participant's card stream, ordered with that
      // participant's compute stream only: an input held by another logical GPU of the card
      // (the shared result of an earlier fused all-reduce) is copied to its participant first,
      // so no other allocator can hand its buffer out while NCCL still reads it.
      for (std::size_t j = 0; j < r.inputs.size(); ++j) {
        const Tensor& x = r.inputs[j];
        if (!x.initialized() || x.device_ptr() == r.devices[j] || x.on_host()) continue;
        Tensor mine(x.dtype(), x.shape(), r.devices[j]);  // stream-ordered, no host wait
        devices::copy_bytes_async(*r.devices[j], mine.raw_data(), *x.device_ptr(), x.raw_data(),
                                  x.bytes());
        r.inputs[j] = std::move(mine);
      }
      return kernels::all_reduce_nccl(r);
  }
  throw InternalError(str_cat(label, ": unknown implementation"));
}

}  // namespace scopeflow
