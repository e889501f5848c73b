// Session: placement, cached plans and the dataflow executor. See session.h.
#include "runtime/session/session.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "devices/base/errors.h"
#include "devices/base/logging.h"
#include "kernels/apply/apply.h"
#include "kernels/common/intra_op_threads.h"
#include "kernels/kernel.h"
#include "runtime/op_registry.h"
#include "runtime/session/collective.h"
#include "runtime/session/cuda_graph.h"
#include "runtime/session/thread_pool.h"

namespace scopeflow {
namespace {

bool is_apply(const std::string& op) {
  return op == "ApplyGradientDescent" || op == "ApplyMomentum" || op == "ApplyAdam" ||
         op == "ApplyRMSProp" || op == "ApplyCenteredRMSProp" || op == "ApplyAdagrad" ||
         op == "_SparseApplyMomentumRows";
}

bool is_assign_like(const std::string& op) {
  return op == "Assign" || op == "AssignAdd" || op == "AssignSub" ||
         op == "IsVariableInitialized" || is_apply(op);
}

bool is_switch(const std::string& op) { return op == "Switch" || op == "RefSwitch"; }
bool is_merge(const std::string& op) { return op == "Merge" || op == "RefMerge"; }

// Ops the session runs itself (state and graph plumbing), on any device.
bool is_runtime_op(const std::string& op) {
  return op == "Const" || op == "Placeholder" || op == "NoOp" || op == "VariableV2" ||
         is_assign_like(op) || is_switch(op) || is_merge(op);
}

// The variable a reference input names: the VariableV2 itself or through RefSwitches (a
// tf.cond branch that assigns it); else n.
const Node* ref_source(const Node* n) {
  for (int hops = 0; n->op == "RefSwitch" && hops < 1024; ++hops) n = n->inputs[0].first;
  return n;
}

bool is_random(const std::string& op) {
  return op == "RandomUniform" || op == "RandomStandardNormal" || op == "TruncatedNormal";
}

// Inputs a GPU kernel reads on the host (TF's HostMemory, declared with the op): when such an
// input is a Const, the step takes the Const's host value and no copy node, so the kernel does
// not wait for the GPU to read it back, and a CUDA graph can capture the step.
bool host_memory_input(const std::string& op, std::size_t k, std::size_t num_inputs) {
  const OpDef* def = op_registry().find(op);
  return def != nullptr && def->is_host_memory_input(k, num_inputs);
}

DType kernel_dtype(const Node& n) {
  if (!n.output_dtypes.empty()) return n.output_dtypes[0];
  if (!n.inputs.empty()) return n.inputs[0].first->output_dtypes[n.inputs[0].second];
  return DType::kFloat32;
}

std::string tf_dtype_text(DType d) {
  return d == DType::kFloat32   ? "float"
         : d == DType::kFloat64 ? "double"
                                : std::string(dtype_name(d));
}

// Whether node n can run on a device of type t: a registered kernel, or a runtime op, except
// that string values live on the host (TF registers no GPU kernel for DT_STRING: a string
// variable with no device lands on the CPU, and a GPU request falls back under soft placement).
bool has_kernel_for(const Node& n, devices::DeviceType t) {
  if (is_runtime_op(n.op))
    return t != devices::DeviceType::kGPU || kernel_dtype(n) != DType::kString;
  return kernels::kernel_registry().contains(n.op, t, kernel_dtype(n));
}

bool both_cpu(const devices::Device& a, const devices::Device& b) {
  return a.type() == devices::DeviceType::kCPU && b.type() == devices::DeviceType::kCPU;
}

// Logical GPUs of one card: a kernel on one may read a buffer another holds (the shared result
// of a fused all-reduce), once its stream is ordered after the writer's, as the plan's edges
// order it.
bool same_card_gpus(const devices::Device& a, const devices::Device& b) {
  return a.type() == devices::DeviceType::kGPU && b.type() == devices::DeviceType::kGPU &&
         a.physical_id() >= 0 && a.physical_id() == b.physical_id();
}

enum class StepKind {
  kNoOp,
  kConst,
  kVariable,
  kIsInitialized,
  kAssign,
  kAssignUpdate,  // AssignAdd / AssignSub
  kApply,
  kKernel,
  kCopy,
  kCollective,        // one NcclAllReduce group: every participant's input in, outputs out
  kCollectiveOutput,  // a participant node: forwards its output from the group's step
  kGroupMember,       // an Apply whose update its group's leader ran (group_updates)
  kSwitch,            // Switch / RefSwitch: data to output pred ? 1 : 0, the other dead
  kMerge,             // Merge / RefMerge: the first live input and its index
};

// Where a step's input comes from: a value slot, or a variable read when the step runs
// (TF's ref semantics: consumers see the value current when they run).
struct InputRef {
  int slot = -1;
  const Node* variable = nullptr;
  // A variable read through a RefSwitch: that output's slot, whose deadness is this input's.
  int guard = -1;
};

// Whether every element of a host tensor is `v` (0 or 1) bit for bit (+0 only), for the
// dtypes whose arithmetic constant folding simplifies.
bool all_elements_are(const Tensor& t, int v) {
  auto same = [&](auto pattern) {
    using Bits = decltype(pattern);
    const auto* p = static_cast<const Bits*>(t.raw_data());
    return std::all_of(p, p + t.num_elements(), [&](Bits b) { return b == pattern; });
  };
  if (!t.on_host() || t.num_elements() == 0) return false;
  switch (t.dtype()) {
    case DType::kFloat32: return same(v ? std::uint32_t{0x3F800000} : std::uint32_t{0});
    case DType::kFloat64: return same(v ? std::uint64_t{0x3FF0000000000000} : std::uint64_t{0});
    case DType::kFloat16: return same(v ? std::uint16_t{0x3C00} : std::uint16_t{0});
    case DType::kBFloat16: return same(v ? std::uint16_t{0x3F80} : std::uint16_t{0});
    case DType::kInt8:
    case DType::kUInt8: return same(static_cast<std::uint8_t>(v));
    case DType::kInt32: return same(static_cast<std::int32_t>(v));
    case DType::kInt64: return same(static_cast<std::int64_t>(v));
    default: return false;
  }
}

// Grappler's limit on a folded value (kMaxConstantSize), and the size under which a value may
// grow past its inputs' (a Fill or BroadcastTo of a scalar): above it, a cheap op would turn
// into a large constant held by the session.
constexpr std::int64_t kMaxFoldedBytes = 10 << 20;
constexpr std::int64_t kFoldedGrowthBytes = 64 << 10;

// Values the runtime made on the host (IsVariableInitialized, fed tensors) reach GPU kernels
// through the plan's copy nodes; this catches what is left: `t` as device `d` can read it.
Tensor on_device(Tensor t, const std::shared_ptr<devices::Device>& d) {
  if (!t.initialized() || t.dtype() == DType::kString) return t;
  const auto& src = t.device_ptr();
  if (src == d || both_cpu(*src, *d)) return t;
  if (same_card_gpus(*src, *d)) {
    // Read in place on d's stream (ordered after the writer by the plan's edges); the
    // owner's allocator learns of the use, so it reuses the block only after d's work.
    if (t.bytes() > 0) src->allocator().record_stream(t.raw_data(), d->compute_stream().id());
    return t;
  }
  return t.to(d);
}

// A run's unit of work: a graph node or a copy node.
struct Step {
  StepKind kind = StepKind::kNoOp;
  const Node* node = nullptr;  // the graph node; for copies, the consuming node
  std::shared_ptr<devices::Device> device;
  std::vector<InputRef> inputs;
  int out_slot = -1;  // first output slot
  int num_outputs = 0;
  std::vector<int> successors;
  int num_deps = 0;
  const kernels::KernelFn* kernel = nullptr;  // kKernel, kApply, kAssignUpdate
  bool kernel_on_host = false;  // kApply / kAssignUpdate without a kernel for the device
  // kApply (a group's leader: every member's), kAssign, kAssignUpdate: the update mutexes of
  // the variables it writes, in address order (Session::Impl::update_mutex), resolved once
  // when the plan is built.
  std::vector<std::mutex*> update_locks;
  Tensor constant;  // kConst: the value, on the step's device
  // kKernel on a GPU: per input, a Const's host value that the kernel reads on the host
  // (host_memory_input); empty where the input comes from its slot.
  std::vector<Tensor> host_inputs;
  std::size_t copy_edge = 0;                          // kCopy: index into Plan::copy_edges
  std::shared_ptr<const CollectiveGroup> collective;  // kCollective
  // Worth a pool thread: kernels with much work per element (conv, matmul, pooling, loss),
  // GPU work, large or unknown-size outputs and copies between physical devices.
  bool expensive = false;
  std::string kernel_label;  // the kernel's registry label (for traces)
  // SessionOptions::group_updates, on the leader (a kApply): the member steps it updates (itself
  // first) and the grouped kernel, which takes their inputs one after another (`inputs`).
  std::vector<int> group;
  const kernels::KernelFn* group_kernel = nullptr;
  bool forwarded = false;  // constant folding: an Identity of one operand (x * 1, x + 0, ...)
  // tf.cond: the steps of the node's control inputs (a dead one makes this step dead too), and
  // whether the step may be dead at all (Plan::dead_possible).
  std::vector<int> control_steps;
  bool may_die = false;
};

bool is_expensive(const Step& s) {
  if (s.kind == StepKind::kCopy) return s.expensive;  // set when it moves bytes across a bus
  if (s.kind == StepKind::kApply || s.kind == StepKind::kCollective) return true;
  if (s.kind != StepKind::kKernel) return false;
  if (s.device->type() == devices::DeviceType::kGPU) return true;
  static const std::unordered_set<std::string> heavy = {"Conv2D",
                                                        "Conv2DBackpropInput",
                                                        "Conv2DBackpropFilter",
                                                        "MatMul",
                                                        "MaxPool",
                                                        "MaxPoolGrad",
                                                        "AvgPool",
                                                        "AvgPoolGrad",
                                                        "SparseSoftmaxCrossEntropyWithLogits"};
  if (heavy.count(s.node->op)) return true;
  for (const auto& shape : s.node->output_shapes) {
    if (!shape.is_fully_defined() || shape.num_elements() >= (1 << 14)) return true;
  }
  return false;
}

struct GraphState;  // CUDA-graph capture of the plan (SessionOptions::use_cuda_graphs)

// Everything about a (feeds, fetches, targets) signature that does not change between runs.
struct Plan {
  std::vector<Step> steps;
  int num_slots = 0;
  std::vector<int> feed_slots;   // per feed, in the caller's order
  std::vector<int> fetch_slots;  // per fetch
  // The values of the plan's Const steps (graph constants and folded nodes, shared by every
  // run and plan): a fetch sharing one's buffer is returned as a copy, so a caller writing to
  // it cannot change what later runs compute.
  std::vector<Tensor> constants;
  std::vector<int> roots;                     // steps with no dependencies
  std::vector<int> slot_uses;                 // readers per slot; fetched slots are never released
  std::vector<devices::Device*> gpu_devices;  // synchronized at the end of a run

  std::vector<CopyEdge> copy_edges;
  std::int64_t num_graph_steps = 0;
  std::int64_t nodes_folded = 0;  // SessionOptions::constant_folding
  std::int64_t nodes_forwarded = 0;
  std::int64_t updates_grouped = 0;    // SessionOptions::group_updates
  std::shared_ptr<GraphState> graphs;  // set when the session uses CUDA graphs
  // The plan has Switches (tf.cond): runs track dead tensors, and the steps that may be dead
  // are neither folded, forwarded, grouped nor captured in CUDA graphs.
  bool dead_possible = false;
};

// Sets seen[s] for every step s reachable from `from` through successors, `from` included
// (seen is cleared first; its size is the plan's step count).
void mark_reachable(const Plan& p, int from, std::vector<char>& seen) {
  std::fill(seen.begin(), seen.end(), 0);
  std::vector<int> stack{from};
  seen[static_cast<std::size_t>(from)] = 1;
  while (!stack.empty()) {
    const int x = stack.back();
    stack.pop_back();
    for (int y : p.steps[static_cast<std::size_t>(x)].successors)
      if (!seen[static_cast<std::size_t>(y)]) {
        seen[static_cast<std::size_t>(y)] = 1;
        stack.push_back(y);
      }
  }
}

// Orders every step that reads a variable's value (a `read` Identity, a copy to another device,
// an Assign's value) before the plan's optimizer updates (Apply*) of that variable, unless the
// reader comes after the update (depends on it). An update copies the variable on write only
// while a reader of the step still holds its buffer (Impl::copy_on_write): a reader with no
// path to the update that ran after it would see the new value. Inline, a read ran right after
// its variable step, but an expensive read (every GPU kernel, a large CPU tensor) went to the
// pool and raced the update (on an H200: `ReadsInAStepSeeThePreUpdateValue` read -1 for 0).
// Assign/AssignAdd/AssignSub keep TF1's ref semantics (in place, no edges). Each edge is added
// only when the reader is not reachable from the update in the graph so far, so no cycle forms.
void order_reads_before_updates(Plan& p) {
  std::unordered_map<const Node*, std::vector<int>> readers;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    if (s.kind == StepKind::kApply || s.kind == StepKind::kIsInitialized) continue;
    for (std::size_t k = 0; k < s.inputs.size(); ++k) {
      const Node* var = s.inputs[k].variable;
      const bool ref_operand =
          k == 0 && (s.kind == StepKind::kAssign || s.kind == StepKind::kAssignUpdate);
      if (var != nullptr && !ref_operand) readers[var].push_back(static_cast<int>(i));
    }
  }
  if (readers.empty()) return;
  std::vector<char> reached(p.steps.size());
  for (std::size_t a = 0; a < p.steps.size(); ++a) {
    if (p.steps[a].kind != StepKind::kApply) continue;
    std::vector<int> candidates;
    for (const auto& in : p.steps[a].inputs)
      if (in.variable != nullptr)
        if (auto it = readers.find(in.variable); it != readers.end())
          candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    if (candidates.empty()) continue;
    mark_reachable(p, static_cast<int>(a), reached);  // the steps after the update
    for (int r : candidates) {
      auto& succ = p.steps[static_cast<std::size_t>(r)].successors;
      if (reached[static_cast<std::size_t>(r)] ||
          std::find(succ.begin(), succ.end(), static_cast<int>(a)) != succ.end())
        continue;
      succ.push_back(static_cast<int>(a));
      ++p.steps[a].num_deps;
    }
  }
}

// SessionOptions::group_updates: the plan's optimizer updates (Apply*) of one op on one device
// whose hyperparameter inputs are the same tensors (and attrs the same) run as one call of the
// op's "group" kernel, on the first member's step (the leader), with every member's inputs. The
// others become kGroupMember steps that only publish their variable. The leader takes over the
// members' incoming edges and precedes them; members reachable from one another (one update
// waiting for another) are not grouped, so no cycle forms. Returns the members grouped into
// another's step.
std::int64_t group_updates(Plan& p, bool gpu_only) {
  const auto& registry = kernels::kernel_registry();
  // A hyperparameter: the slot or variable it comes from; a scalar Const by its value (each
  // apply_gradients call makes its own learning-rate Const).
  using Hyper = std::tuple<int, const Node*, std::uint32_t>;
  using Key = std::tuple<std::string, const devices::Device*, DType, bool, std::vector<Hyper>>;
  std::vector<int> slot_owner(static_cast<std::size_t>(p.num_slots), -1);
  for (std::size_t i = 0; i < p.steps.size(); ++i)
    for (int o = 0; o < p.steps[i].num_outputs; ++o)
      if (p.steps[i].out_slot >= 0)
        slot_owner[static_cast<std::size_t>(p.steps[i].out_slot + o)] = static_cast<int>(i);
  auto hyper_of = [&](const InputRef& in) -> Hyper {
    if (in.slot >= 0 && slot_owner[static_cast<std::size_t>(in.slot)] >= 0) {
      const Step& src =
          p.steps[static_cast<std::size_t>(slot_owner[static_cast<std::size_t>(in.slot)])];
      if (src.kind == StepKind::kConst && src.node->op == "Const") {
        const Tensor& v = src.node->attrs.get<Tensor>("value");
        if (v.on_host() && v.dtype() == DType::kFloat32 && v.num_elements() == 1) {
          std::uint32_t bits;
          std::memcpy(&bits, v.raw_data(), sizeof bits);
          return {-1, nullptr, bits};
        }
      }
    }
    return {in.slot, in.variable, 0};
  };
  std::map<Key, std::vector<int>> candidates;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    if (s.kind != StepKind::kApply || s.kernel_on_host || s.inputs.empty() ||
        s.inputs[0].variable == nullptr || s.may_die ||
        (gpu_only && s.device->type() != devices::DeviceType::kGPU))
      continue;
    const std::string& op = s.node->op;
    const kernels::ApplySignature* sig = kernels::apply_signature(op);
    const DType dt = kernel_dtype(*s.node);
    if (sig == nullptr || s.inputs.size() != sig->arity ||
        !registry.contains(op, s.device->type(), dt, "group"))
      continue;
    std::vector<Hyper> hyper;
    for (std::size_t k : sig->scalars) hyper.push_back(hyper_of(s.inputs[k]));
    candidates[{op, s.device.get(), dt, s.node->attrs.get_or<bool>("use_nesterov", false),
                std::move(hyper)}]
        .push_back(static_cast<int>(i));
  }
  std::int64_t grouped = 0;
  std::vector<std::vector<int>> preds;
  auto reach = [&](int from) {
    std::vector<char> seen(p.steps.size());
    mark_reachable(p, from, seen);
    return seen;
  };
  for (auto& [key, members] : candidates) {
    if (members.size() < 2) continue;
    // The inputs each update writes in place: the variable and its slots.
    const std::vector<std::size_t>& written = kernels::apply_signature(std::get<0>(key))->in_place;
    std::vector<int> group;
    std::vector<std::vector<char>> reached;
    std::unordered_set<const Node*> updated;
    for (int m : members) {
      const auto& in = p.steps[static_cast<std::size_t>(m)].inputs;
      // Two updates of one variable stay apart (in one call, the second would copy the variable
      // on write while the call holds it, and the first update would be lost).
      bool independent = true;
      for (std::size_t k : written)
        independent = independent && (in[k].variable == nullptr || !updated.count(in[k].variable));
      if (!independent) continue;
      auto r = reach(m);
      for (std::size_t g = 0; g < group.size() && independent; ++g)
        independent =
            !reached[g][static_cast<std::size_t>(m)] && !r[static_cast<std::size_t>(group[g])];
      if (!independent) continue;
      group.push_back(m);
      reached.push_back(std::move(r));
      for (std::size_t k : written)
        if (in[k].variable != nullptr) updated.insert(in[k].variable);
    }
    if (group.size() < 2) continue;
    if (preds.empty()) {
      preds.resize(p.steps.size());
      for (std::size_t i = 0; i < p.steps.size(); ++i)
        for (int next : p.steps[i].successors)
          preds[static_cast<std::size_t>(next)].push_back(static_cast<int>(i));
    }
    const int leader = group[0];
    Step& l = p.steps[static_cast<std::size_t>(leader)];
    l.group = group;
    l.group_kernel = &registry.find(std::get<0>(key), l.device->type(), std::get<2>(key), "group");
    l.kernel_label = str_cat(l.kernel_label, " (group of ", group.size(), ")");
    for (std::size_t g = 1; g < group.size(); ++g) {
      const int m = group[g];
      Step& ms = p.steps[static_cast<std::size_t>(m)];
      l.inputs.insert(l.inputs.end(), ms.inputs.begin(), ms.inputs.end());
      ms.inputs.resize(1);  // the variable, which the member publishes after the update
      ms.kind = StepKind::kGroupMember;
      // Every edge into the member now goes into the leader; the member waits for the leader.
      for (int pr : preds[static_cast<std::size_t>(m)]) {
        for (int& next : p.steps[static_cast<std::size_t>(pr)].successors)
          if (next == m) {
            next = leader;
            ++l.num_deps;
          }
        preds[static_cast<std::size_t>(leader)].push_back(pr);
      }
      preds[static_cast<std::size_t>(m)].assign(1, leader);
      ms.num_deps = 1;
      l.successors.push_back(m);
      ++grouped;
    }
  }
  return grouped;
}

// One feed signature's captured graph and what a replay of it needs.
struct GraphEntry {
  std::vector<std::int64_t> signature;  // per feed: dtype, rank, dims
  int runs = 0;                         // runs of this signature so far
  std::int64_t replays = 0;
  std::uint64_t last_used = 0;
  // NOTE: declared before `graph`, so destroyed after it: ~CapturedStep synchronizes, and only
  // then may the pinned words its copies write go back.
  std::vector<kernels::DeferredCheck> checks;  // the captured kernels', reset before each replay
  std::unique_ptr<cuda_graph::CapturedStep> graph;
  std::vector<Tensor> staged;  // per GraphState::staged_copies: the device buffer the graph reads
  std::vector<std::pair<const Node*, const void*>> variables;   // buffers the graph addresses
  std::vector<std::pair<const Node*, std::uint64_t>> counters;  // random nodes, per counter word
  std::vector<std::pair<std::size_t, Tensor>> fetches;          // (fetch, captured tensor)
  std::vector<std::pair<std::size_t, const Node*>> fetched_variables;  // (fetch, variable)
  void drop() {
    graph.reset();
    staged.clear();
    variables.clear();
    counters.clear();
    fetches.clear();
    fetched_variables.clear();
    checks.clear();
  }
};

// A plan's CUDA-graph state: eligibility (fixed at plan time) and the captured graphs. `mu` is
// held for a whole run of the plan in graph mode (capture or replay, then the fetch copies).
struct GraphState {
  std::mutex mu;
  cuda_graph::Eligibility eligibility;
  std::vector<char> in_graph;                              // per step: 1 = captured pass
  std::vector<std::pair<int, std::size_t>> staged_copies;  // (copy step, feed index)
  std::vector<const Node*> variables;                      // variables the graph steps use
  std::vector<const Node*> random_nodes;                   // random ops in the graph
  std::vector<std::shared_ptr<devices::Device>> gpus;      // the graph's devices
  std::vector<std::unique_ptr<devices::Stream>> streams;   // capture streams, per gpus
  std::vector<GraphEntry> entries;                         // per feed signature
  int wasted = 0;        // failed captures and graphs dropped before their first replay
  std::string disabled;  // set once wasted reaches kMaxFailedCaptures: why
  std::uint64_t clock = 0;
};

using PlanKey = std::vector<std::uintptr_t>;
struct PlanKeyHash {
  std::size_t operator()(const PlanKey& k) const {
    std::size_t h = k.size();
    for (auto v : k) h = h * 1099511628211ULL ^ std::hash<std::uintptr_t>()(v);
    return h;
  }
};

// One run of a plan: value slots and dependency counters.
struct RunState {
  explicit RunState(const Plan& p)
      : plan(p),
        slots(static_cast<std::size_t>(p.num_slots)),
        pending(std::make_unique<std::atomic<int>[]>(p.steps.size())),
        uses(std::make_unique<std::atomic<int>[]>(static_cast<std::size_t>(p.num_slots))) {
    for (std::size_t i = 0; i < p.steps.size(); ++i)
      pending[i].store(p.steps[i].num_deps, std::memory_order_relaxed);
    for (std::size_t i = 0; i < p.slot_uses.size(); ++i)
      uses[i].store(p.slot_uses[i], std::memory_order_relaxed);
    if (p.dead_possible) {
      slot_dead = std::make_unique<std::atomic<char>[]>(static_cast<std::size_t>(p.num_slots));
      step_dead = std::make_unique<std::atomic<char>[]>(p.steps.size());
      for (int i = 0; i < p.num_slots; ++i)
        slot_dead[static_cast<std::size_t>(i)].store(0, std::memory_order_relaxed);
      for (std::size_t i = 0; i < p.steps.size(); ++i)
        step_dead[i].store(0, std::memory_order_relaxed);
    }
  }
  // tf.cond's dead tensors (Plan::dead_possible): per slot and per step, written before the
  // step's successors are released (the pending counters order them).
  std::unique_ptr<std::atomic<char>[]> slot_dead, step_dead;
  bool input_dead(const InputRef& in) const {
    return (in.slot >= 0 &&
            slot_dead[static_cast<std::size_t>(in.slot)].load(std::memory_order_relaxed) != 0) ||
           (in.guard >= 0 &&
            slot_dead[static_cast<std::size_t>(in.guard)].load(std::memory_order_relaxed) != 0);
  }
  // TF's executor: a Merge is dead when every data input is; any other step when one input
  // or control input is.
  bool dead(const Step& s) const {
    if (s.kind == StepKind::kMerge)  // (TF's executor ignores a Merge's dead control inputs)
      return std::all_of(s.inputs.begin(), s.inputs.end(),
                         [&](const InputRef& in) { return input_dead(in); });
    for (int c : s.control_steps)
      if (step_dead[static_cast<std::size_t>(c)].load(std::memory_order_relaxed) != 0) return true;
    return std::any_of(s.inputs.begin(), s.inputs.end(),
                       [&](const InputRef& in) { return input_dead(in); });
  }
  void mark_dead(const Step& s, std::size_t index) {
    step_dead[index].store(1, std::memory_order_relaxed);
    for (int i = 0; i < s.num_outputs; ++i)
      slot_dead[static_cast<std::size_t>(s.out_slot + i)].store(1, std::memory_order_relaxed);
  }
  const Plan& plan;
  std::vector<Tensor> slots;
  std::unique_ptr<std::atomic<int>[]> pending;
  std::unique_ptr<std::atomic<int>[]> uses;
  std::atomic<int> outstanding{0};
  std::atomic<bool> failed{false};
  std::atomic<std::int64_t> nodes_executed{0}, copies{0}, host_copies{0}, bytes_copied{0};
  // CUDA graphs: a pass runs only the steps whose in_graph flag equals `pass` (others complete
  // at once); the captured pass also has the capture and the staged feed buffers.
  const std::vector<char>* mask = nullptr;
  char pass = 0;
  cuda_graph::CapturedStep* capture = nullptr;
  const std::vector<std::pair<int, std::size_t>>* staged_copies = nullptr;
  const std::vector<Tensor>* staged = nullptr;
  // The captured pass's advance of each random op's counter (under the op's lock), so that a
  // failed capture takes back its own draws only.
  std::unordered_map<const Node*, std::uint64_t> capture_advances;
  bool skipped(std::size_t s) const { return mask != nullptr && (*mask)[s] != pass; }
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  std::atomic<bool> finished{false};  // `done`, readable without `mu` (ThreadPool::help_until)
  std::exception_ptr error;           // the first failure
  // The GPU kernels' deferred checks (kernels::DeferredCheck), raised after the synchronization.
  std::mutex checks_mu;
  std::vector<kernels::DeferredCheck> checks;
  // A replay's: its graph entry's checks, read in place (the plan's graph lock is held until
  // the run returns).
  const std::vector<kernels::DeferredCheck>* replay_checks = nullptr;
  // RunOptions::trace_level: per executed step, its host interval and, for GPU work, events
  // recorded on the device's compute stream around it.
  struct TraceRecord {
    int step = 0;
    int thread = 0;
    std::chrono::steady_clock::time_point start, end;
    std::unique_ptr<devices::Event> gpu_start, gpu_end;
  };
  bool trace = false;
  std::mutex trace_mu;
  std::vector<TraceRecord> trace_records;
};

// A step's update mutexes (Step::update_locks), held for its lifetime, in their order.
class UpdateLocks {
 public:
  explicit UpdateLocks(const std::vector<std::mutex*>& mus) : mus_(mus) {
    for (std::size_t i = 0; i < mus_.size(); ++i) {
      try {
        mus_[i]->lock();
      } catch (...) {
        while (i-- > 0) mus_[i]->unlock();
        throw;
      }
    }
  }
  ~UpdateLocks() {
    for (auto it = mus_.rbegin(); it != mus_.rend(); ++it) (*it)->unlock();
  }
  UpdateLocks(const UpdateLocks&) = delete;
  UpdateLocks& operator=(const UpdateLocks&) = delete;

 private:
  const std::vector<std::mutex*>& mus_;
};

// A kernel's deferred checks (kernels::DeferredCheck) join the run's, raised after its
// synchronization. Every path that runs a kernel calls it: a check left in a dropped context
// would be skipped.
void collect_checks(RunState& st, kernels::KernelContext& c) {
  if (c.deferred_checks.empty()) return;
  std::lock_guard<std::mutex> lock(st.checks_mu);
  for (auto& check : c.deferred_checks) st.checks.push_back(std::move(check));
  c.deferred_checks.clear();
}

// An update may name a variable twice (ApplyMomentum(var, accum, lr, accum, momentum)): input
// k's earlier input in [first, k) that names the same variable, or k (also when input k is no
// variable). Every input naming it then takes the one buffer copied on write for the first: a
// second copy on write would find that buffer held, move the variable to a fresh copy, and
// the update written to the first would be lost. A scan of an op's few inputs, no allocation
// on the step's path.
template <class Inputs>
std::size_t first_naming_same_variable(const Inputs& inputs, std::size_t first, std::size_t k) {
  if (inputs[k].variable == nullptr) return k;  // not a variable
  std::size_t j = first;
  while (j < k && inputs[j].variable != inputs[k].variable) ++j;
  return j;
}

// A kernel's context for graph node `n` on `where`, its work queued on `stream`, in run `st`
// (captured when the run captures a CUDA graph). Every step that runs a kernel starts here
// (constant folding, at plan time, runs host kernels with a context of its own).
kernels::KernelContext kernel_context(const RunState& st, const Node* n,
                                      const std::shared_ptr<devices::Device>& where,
                                      devices::Stream& stream) {
  kernels::KernelContext c;
  c.device = where.get();
  c.device_ptr = where;
  c.stream = &stream;
  c.capturing = st.capture != nullptr;
  c.attrs = &n->attrs;
  c.node_name = n->name;
  return c;
}

// A small id per thread for traces (the calling thread and the inter-op pool's threads).
int trace_thread_id() {
  static std::atomic<int> next{0};
  thread_local const int id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}

// True when a step's work is queued on its GPU's compute stream (traced with events).
bool traced_on_gpu(const Step& s) {
  if (!s.device || s.device->type() != devices::DeviceType::kGPU) return false;
  switch (s.kind) {
    case StepKind::kKernel:
    case StepKind::kCopy: return true;
    case StepKind::kApply:
    case StepKind::kAssignUpdate: return !s.kernel_on_host;
    default: return false;
  }
}

}  // namespace

struct Session::Impl {
  SessionOptions options;
  Graph graph;
  std::unique_ptr<devices::DeviceManager> manager;
  std::unique_ptr<ThreadPool> pool;

  // Placement and plans (built under plan_mu; a built plan is immutable).
  mutable std::mutex plan_mu;
  std::unordered_map<const Node*, std::shared_ptr<devices::Device>> placement;
  std::unordered_map<PlanKey, std::shared_ptr<const Plan>, PlanKeyHash> plans;
  // Device copies of Const values, one per (Const node, device), shared by every plan (under
  // plan_mu). NOTE: per plan they would grow with the number of cached plans (each fetch/feed
  // signature is a plan, never evicted), and a large Const would be copied once per plan.
  // Sharing is safe: nothing writes a Const's tensor in place (host Consts are shared too).
  std::map<std::pair<const Node*, const devices::Device*>, Tensor> const_copies;
  // SessionOptions::constant_folding: folded nodes' host values (under plan_mu), computed once
  // and shared by the plans that fold them (a plan that feeds one of a node's inputs does not).
  std::unordered_map<const Node*, Tensor> folded_values;

  // Variables' buffers (VariableV2 node -> value).
  mutable std::mutex var_mu;
  std::unordered_map<const Node*, Tensor> variables;
  // One mutex per variable, held by an update (Apply*, Assign, AssignAdd/Sub) from taking the
  // variable's buffer until its kernel has run (on a GPU: was queued on the stream, which
  // orders it): concurrent runs of one session (Session::run from several threads) then
  // update a variable one after another. Without it a run's copy on write could copy a buffer
  // another run's update was still writing and drop the rest of that update, and AssignAdd's
  // read, add and write could interleave with another's (session 11's review: 4 threads x 50
  // SGD steps lost 7-18% of them). Plans resolve them once (Step::update_locks).
  std::mutex update_mus_mu;
  std::unordered_map<const Node*, std::unique_ptr<std::mutex>> update_mus;
  // The update mutexes of `vars` (nullptr and repeats allowed), sorted by address: the order
  // every update locks them in, so two updates of overlapping variable sets never wait on
  // each other in a cycle.
  std::vector<std::mutex*> update_mutexes(const std::vector<const Node*>& vars) {
    std::vector<std::mutex*> mus;
    std::lock_guard<std::mutex> lock(update_mus_mu);
    for (const Node* v : vars) {
      if (v == nullptr) continue;
      auto& m = update_mus[v];
      if (!m) m = std::make_unique<std::mutex>();
      mus.push_back(m.get());
    }
    std::sort(mus.begin(), mus.end(), std::less<std::mutex*>());
    mus.erase(std::unique(mus.begin(), mus.end()), mus.end());
    return mus;
  }

  // Stateful random ops: the Philox key and the counter where the next run starts.
  struct RngState {
    std::uint64_t seed = 0;
    std::uint64_t offset = 0;
    mutable std::mutex mu;
  };
  mutable std::mutex rng_mu;
  std::unordered_map<const Node*, RngState> rng;
  std::mt19937_64 seeder{std::random_device{}()};

  mutable std::mutex stats_mu;
  RunStats last_stats;
  std::shared_ptr<const Plan> last_plan;

  std::shared_ptr<devices::Device> place(const Node* n);  // needs plan_mu
  std::shared_ptr<const Plan> get_plan(const std::vector<Output>& fetches,
                                       const std::vector<Operation>& targets, const FeedDict& feeds,
                                       bool* reused);
  std::shared_ptr<const Plan> build_plan(const std::vector<Output>& fetches,
                                         const std::vector<Operation>& targets,
                                         const FeedDict& feeds);
  std::vector<Tensor> execute(const std::vector<Output>& fetches,
                              const std::vector<Operation>& targets, const FeedDict& feeds,
                              const RunOptions* options = nullptr,
                              RunMetadata* run_metadata = nullptr);
  void traced_step(RunState& st, const Step& step, int index);
  // A group leader's step (SessionOptions::group_updates): every member's update in one call.
  void run_update_group(RunState& st, const Step& step, devices::Stream& stream);
  void run_pass(const std::shared_ptr<RunState>& st);
  // Runs steps from `first` (a stack: the last runs first) and whatever they make ready.
  void process(const std::shared_ptr<RunState>& st, std::vector<int> first);
  void process(const std::shared_ptr<RunState>& st, int first) {
    process(st, std::vector<int>{first});
  }
  // CUDA graphs (see cuda_graph.h). analyze_graphs: at plan time. graph_pass: the GPU part of
  // a run by replay or capture (true: done, st's graph fetch slots filled, st masked to the
  // host steps), or nothing (false: run the whole plan ordinarily); `state` for RunStats.
  std::shared_ptr<GraphState> analyze_graphs(const Plan& p);
  bool graph_pass(const Plan& p, const FeedDict& feeds, RunState& st, std::string* state,
                  std::int64_t* graph_nodes);
  bool capture_graph(const Plan& p, GraphState& g, GraphEntry& e, const FeedDict& feeds,
                     RunState& st, std::string* state, std::int64_t* graph_nodes);
  void stage_feeds(const Plan& p, GraphState& g, GraphEntry& e, const FeedDict& feeds);
  void run_step(RunState& st, const Step& step);
  Tensor input(RunState& st, const Step& step, std::size_t k);
  Tensor read_variable(const Node* var) const {
    std::lock_guard<std::mutex> lock(var_mu);
    auto it = variables.find(var);
    return it == variables.end() ? Tensor() : it->second;
  }
  // TF's Assign: the new value is copied into the variable's buffer when the shapes match
  // (readers that alias the buffer see the update, as with TF's ref variables); otherwise the
  // variable gets a new buffer on `device`.
  // Under a CUDA-graph capture the in-place copy goes to the capture's streams.
  Tensor update_variable(const Node* var, const Tensor& value,
                         const std::shared_ptr<devices::Device>& device,
                         cuda_graph::CapturedStep* capture = nullptr) {
    Tensor current = read_variable(var);
    if (current.initialized() && current.shape() == value.shape() &&
        current.dtype() == value.dtype() && current.dtype() != DType::kString &&
        current.device_ptr() == device) {
      if (current.shares_buffer_with(value)) return current;
      if (capture != nullptr && device->type() == devices::DeviceType::kGPU &&
          value.device_ptr()->type() == devices::DeviceType::kGPU)
        capture->copy(*device, current.raw_data(), *value.device_ptr(), value.raw_data(),
                      value.bytes());
      else
        devices::copy_bytes_async(*device, current.raw_data(), *value.device_ptr(),
                                  value.raw_data(), value.bytes());
      return current;
    }
    Tensor fresh = value.to(device);
    write_variable(var, fresh);
    return fresh;
  }
  // The buffer an optimizer update may write in place: the variable's own, or, while
  // readers of this step still hold it (a `read` output not yet consumed by every reader),
  // a fresh copy that becomes the variable's buffer. So every read in a step sees the value
  // from before the step's update, whatever order the executor picks (TF's ref variables
  // race here; its resource variables copy on write the same way). Assign/AssignAdd stay in
  // place (TF1's ref semantics, which control_dependencies rely on).
  Tensor copy_on_write(const Node* var) {
    std::lock_guard<std::mutex> lock(var_mu);
    auto it = variables.find(var);
    if (it == variables.end()) return Tensor();
    Tensor& current = it->second;
    if (current.initialized() && current.buffer_use_count() > 1)
      current = current.to(current.device_ptr());
    return current;
  }
  // Why a CUDA graph cannot use `var` now ("" when it can): uninitialized, moved off the
  // buffer it was captured at (`captured`, when given), or held elsewhere too (the step's
  // update would copy on write). The caller holds var_mu.
  std::string graph_unusable(const Node* var, const void* captured) const {
    auto it = variables.find(var);
    if (it == variables.end() || !it->second.initialized())
      return str_cat("variable ", var->name, " is uninitialized");
    if (captured != nullptr && it->second.raw_data() != captured)
      return str_cat("variable ", var->name, " has a new buffer (assigned or restored)");
    if (it->second.buffer_use_count() > 1)
      return str_cat("variable ", var->name,
                     " is also held elsewhere (a Tensor from variable_value or a fetch)");
    return "";
  }
  void write_variable(const Node* var, Tensor value) {
    std::lock_guard<std::mutex> lock(var_mu);
    variables[var] = std::move(value);
  }
};

Session::Session(const SessionOptions& options) : Session(options, get_default_graph()) {}

Session::Session(const SessionOptions& options, Graph graph) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->graph = std::move(graph);
  devices::DeviceManagerOptions dm;
  for (const auto& [type, count] : options.device_count) {
    if (type == "CPU") {
      dm.num_cpus = count;
    } else if (type == "GPU") {
      dm.max_gpus = count;
    } else {
      throw InvalidArgumentError(str_cat("Session: unknown device type '", type,
                                         "' in device_count (expected CPU or GPU)"));
    }
  }
  if (options.inter_op_parallelism_threads < 0)
    throw InvalidArgumentError(str_cat("Session: inter_op_parallelism_threads must be >= 0, got ",
                                       options.inter_op_parallelism_threads));
  dm.logical_gpus = options.logical_gpus;
  dm.pin_cpu_memory = options.pin_host_memory;
  impl_->manager = std::make_unique<devices::DeviceManager>(dm);
  int threads = options.inter_op_parallelism_threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->pool = std::make_unique<ThreadPool>(threads - 1);  // the caller is the other one
}

Session::~Session() = default;

Graph Session::graph() const { return impl_->graph; }
const devices::DeviceManager& Session::device_manager() const { return *impl_->manager; }

std::shared_ptr<devices::Device> Session::Impl::place(const Node* n) {
  if (auto it = placement.find(n); it != placement.end()) return it->second;
  std::shared_ptr<devices::Device> chosen;
  // Ops that use a variable by reference live with it.
  if (is_assign_like(n->op) && !n->inputs.empty() &&
      ref_source(n->inputs[0].first)->op == "VariableV2") {
    chosen = place(ref_source(n->inputs[0].first));
  } else if (!n->colocate_with.empty()) {
    // Initializer and read ops live with their variable where a kernel allows (TF's
    // colocation); otherwise on CPU:0, which is what soft placement would pick.
    auto target = graph.find_operation(n->colocate_with);
    chosen = target ? place(target->node()) : manager->cpu(0);
    if (!has_kernel_for(*n, chosen->type())) {
      SF_LOG_DEBUG(n->name, " (", n->op, "): no ", devices::device_type_name(chosen->type()),
                   " kernel; colocation with ", n->colocate_with, " relaxed to CPU:0");
      chosen = manager->cpu(0);
    }
  } else {
    DeviceSpec spec;
    try {
      spec = DeviceSpec::from_string(n->device);
    } catch (const ValueError& e) {
      throw InvalidArgumentError(
          str_cat("Cannot assign a device for operation ", n->name, ": ", e.what()));
    }
    auto has_kernel = [&](devices::DeviceType t) { return has_kernel_for(*n, t); };
    const bool remote_job = spec.job() && *spec.job() != "localhost";
    std::shared_ptr<devices::Device> wanted;
    if (spec.device_type() && !remote_job) {
      wanted = manager->find(
          str_cat("/device:", *spec.device_type(), ":", spec.device_index().value_or(0)));
    } else if (!spec.device_type() && !remote_job) {
      // No request: the first GPU with a kernel, else CPU:0 (TF prefers GPUs).
      if (manager->num_gpus() > 0 && has_kernel(devices::DeviceType::kGPU))
        wanted = manager->gpu(0);
      else
        wanted = manager->cpu(0);
    }
    if (wanted && has_kernel(wanted->type())) {
      chosen = wanted;
    } else {
      std::string why = wanted ? str_cat("no ", wanted->name().substr(8), " kernel for ", n->op,
                                         " (", dtype_name(kernel_dtype(*n)), ")")
                               : str_cat("no such device");
      if (!options.allow_soft_placement || !has_kernel(devices::DeviceType::kCPU))
        throw InvalidArgumentError(str_cat(
            "Cannot assign a device for operation ", n->name,
            ": Operation was explicitly assigned to ", n->device, " but available devices are [ ",
            [&] {
              std::string list;
              for (const auto& d : manager->devices())
                list += (list.empty() ? "" : ", ") + d->full_name();
              return list;
            }(),
            " ]. Make sure the device specification refers to a valid device (", why, ")."));
      chosen = manager->cpu(0);
      SF_LOG_WARN("Soft placement: ", n->name, " (", n->op, ") requested '", n->device, "' (", why,
                  "); placed on ", chosen->name());
    }
  }
  placement[n] = chosen;
  if (options.log_device_placement)
    std::cerr << n->name << ": (" << n->op << "): " << chosen->full_name() << "\n";
  return chosen;
}

std::string Session::assigned_device(const Operation& op) {
  op.check();
  std::lock_guard<std::mutex> lock(impl_->plan_mu);
  return impl_->place(op.node())->full_name();
}

Tensor Session::variable_value(const std::string& name) const {
  auto op = impl_->graph.find_operation(name);
  if (!op || op->type() != "VariableV2")
    throw NotFoundError(str_cat("No variable named '", name, "'"));
  return impl_->read_variable(op->node());
}

void Session::set_variable_value(const std::string& name, const Tensor& value) {
  auto op = impl_->graph.find_operation(name);
  if (!op || op->type() != "VariableV2")
    throw NotFoundError(str_cat("No variable named '", name, "'"));
  const Node* n = op->node();
  if (value.dtype() != n->output_dtypes[0])
    throw InvalidArgumentError(str_cat("Variable ", name, " is ", dtype_name(n->output_dtypes[0]),
                                       ", the value is ", dtype_name(value.dtype())));
  if (!n->output_shapes[0].is_compatible_with(value.shape()))
    throw InvalidArgumentError(str_cat("Variable ", name, " has shape ",
                                       n->output_shapes[0].to_string(), ", the value has shape ",
                                       value.shape().to_string()));
  std::shared_ptr<devices::Device> device;
  {
    std::lock_guard<std::mutex> lock(impl_->plan_mu);
    device = impl_->place(n);
  }
  impl_->write_variable(n, value.to(device));
}

std::map<std::string, std::uint64_t> Session::random_counters() const {
  std::map<std::string, std::uint64_t> out;
  std::lock_guard<std::mutex> lock(impl_->rng_mu);
  for (auto& [node, state] : impl_->rng) {
    std::lock_guard<std::mutex> node_lock(state.mu);
    out[node->name] = state.offset;
  }
  return out;
}

void Session::set_random_counters(const std::map<std::string, std::uint64_t>& counters) {
  std::vector<std::pair<const Node*, std::uint64_t>> nodes;
  for (const auto& [name, offset] : counters) {
    auto op = impl_->graph.find_operation(name);
    if (!op || !is_random(op->type()))
      throw NotFoundError(str_cat("set_random_counters: no random op named '", name, "'"));
    nodes.emplace_back(op->node(), offset);
  }
  std::lock_guard<std::mutex> lock(impl_->rng_mu);
  for (const auto& [node, offset] : nodes) {
    auto& state = impl_->rng[node];
    std::lock_guard<std::mutex> node_lock(state.mu);
    if (state.seed == 0) state.seed = impl_->seeder() | 1;
    state.offset = offset;
  }
}

RunStats Session::last_run_stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  RunStats s = impl_->last_stats;
  if (impl_->last_plan) {
    s.copy_edges = impl_->last_plan->copy_edges;
    s.nodes_folded = impl_->last_plan->nodes_folded;
    s.nodes_forwarded = impl_->last_plan->nodes_forwarded;
    s.updates_grouped = impl_->last_plan->updates_grouped;
  }
  return s;
}

// ---------------------------------------------------------------- plans

std::shared_ptr<const Plan> Session::Impl::get_plan(const std::vector<Output>& fetches,
                                                    const std::vector<Operation>& targets,
                                                    const FeedDict& feeds, bool* reused) {
  const auto& gimpl = graph.impl();
  PlanKey key;
  key.reserve(3 + 2 * (feeds.size() + fetches.size()) + targets.size());
  auto add_tensor = [&](const Output& out, const char* what) {
    if (!out.valid() || out.graph().impl() != gimpl)
      throw InvalidArgumentError(str_cat(what, " is not a tensor of this session's graph"));
    key.push_back(reinterpret_cast<std::uintptr_t>(out.node()));
    key.push_back(static_cast<std::uintptr_t>(out.index()));
  };
  key.push_back(feeds.size());
  for (const auto& [out, value] : feeds) add_tensor(out, "Feed key");
  // TF's _assert_fetchable: the inside of a tf.cond branch is not fetchable.
  auto assert_fetchable = [](const Node* n) {
    if (!n->fetchable)
      throw InaccessibleTensorError(
          str_cat("Operation ", n->name,
                  " has been marked as not fetchable. Typically this happens when it is defined "
                  "in another function or code block. Use return values, explicit Python locals "
                  "or TensorFlow collections to access it."));
  };
  key.push_back(fetches.size());
  for (const auto& f : fetches) {
    add_tensor(f, "Fetch");
    assert_fetchable(f.node());
  }
  key.push_back(targets.size());
  for (const auto& t : targets) {
    if (!t.valid() || t.graph().impl() != gimpl)
      throw InvalidArgumentError("Target is not an operation of this session's graph");
    assert_fetchable(t.node());
    key.push_back(reinterpret_cast<std::uintptr_t>(t.node()));
  }
  std::lock_guard<std::mutex> lock(plan_mu);
  if (auto it = plans.find(key); it != plans.end()) {
    *reused = true;
    return it->second;
  }
  *reused = false;
  auto plan = build_plan(fetches, targets, feeds);
  plans.emplace(std::move(key), plan);
  return plan;
}

std::shared_ptr<const Plan> Session::Impl::build_plan(const std::vector<Output>& fetches,
                                                      const std::vector<Operation>& targets,
                                                      const FeedDict& feeds) {
  using Key = std::pair<const Node*, int>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.first) * 31 + static_cast<std::size_t>(k.second);
    }
  };
  auto plan = std::make_shared<Plan>();
  Plan& p = *plan;

  // Feeds get their own slots; a tensor fed twice takes the later value.
  std::unordered_map<Key, int, KeyHash> feed_slot;
  for (const auto& [out, value] : feeds) {
    auto [it, inserted] = feed_slot.try_emplace({out.node(), out.index()}, p.num_slots);
    if (inserted) ++p.num_slots;
    p.feed_slots.push_back(it->second);
  }
  auto fed = [&](const Node* n, int i) { return feed_slot.count({n, i}) != 0; };

  // The needed nodes, in topological order (iterative DFS, post-order).
  std::vector<const Node*> order;
  std::unordered_set<const Node*> seen;
  std::vector<std::pair<const Node*, std::size_t>> stack;
  auto visit = [&](const Node* root) {
    if (seen.count(root)) return;
    seen.insert(root);
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      const std::size_t n_data = n->inputs.size();
      if (next < n_data + n->control_inputs.size()) {
        const std::size_t k = next++;
        const Node* dep;
        if (k < n_data) {
          if (fed(n->inputs[k].first, n->inputs[k].second)) continue;
          dep = n->inputs[k].first;
        } else {
          dep = n->control_inputs[k - n_data];
        }
        if (!seen.count(dep)) {
          seen.insert(dep);
          stack.emplace_back(dep, 0);
        }
      } else {
        order.push_back(n);
        stack.pop_back();
      }
    }
  };
  for (const auto& f : fetches)
    if (!fed(f.node(), f.index())) visit(f.node());
  for (const auto& t : targets) visit(t.node());

  const auto& registry = kernels::kernel_registry();
  const auto host = manager->cpu(0);  // where fed values live

  // tf.cond: the nodes that may receive a dead tensor. Per node, the conditions its liveness
  // needs: (predicate, branch) pairs, one added by each Switch output on the way (the
  // predicate followed through Identity ops, so a cond's pivots and its branches' Switches
  // agree), and `other` for what the analysis does not follow. A Merge of the two branches of
  // one predicate whose inputs need nothing else is live whenever the rest is (one branch is
  // always taken: a top-level cond's Merge is never dead); any other Merge with a
  // conditional input is counted as may-die.
  struct Liveness {
    std::set<std::pair<const Node*, int>> needs;
    bool other = false;
    bool may_die() const { return other || !needs.empty(); }
  };
  std::unordered_map<const Node*, Liveness> live;
  auto pred_key = [](const Node* n) {
    for (int hops = 0; n->op == "Identity" && !n->inputs.empty() && hops < 64; ++hops)
      n = n->inputs[0].first;
    return n;
  };
  // What consuming output i of src needs (a fed tensor: nothing).
  auto needs_of = [&](const Node* src, int i) {
    Liveness l;
    if (fed(src, i)) return l;
    l = live[src];
    if (is_switch(src->op)) l.needs.insert({pred_key(src->inputs[1].first), i});
    return l;
  };
  std::unordered_set<const Node*> may_die;
  const bool has_control_flow = std::any_of(order.begin(), order.end(), [](const Node* n) {
    return is_switch(n->op) || is_merge(n->op);
  });
  for (const Node* n : order) {
    if (!has_control_flow) break;  // no Switch, no Merge: nothing may die
    Liveness l;
    if (is_merge(n->op)) {
      std::vector<Liveness> ins;
      for (const auto& [src, i] : n->inputs) ins.push_back(needs_of(src, i));
      const bool any =
          std::any_of(ins.begin(), ins.end(), [](const Liveness& x) { return x.may_die(); });
      if (any) {
        l.other = true;
        if (ins.size() == 2 && !ins[0].other && !ins[1].other) {
          for (const auto& [key, branch] : ins[0].needs) {
            if (!ins[1].needs.count({key, 1 - branch})) continue;
            auto rest0 = ins[0].needs, rest1 = ins[1].needs;
            rest0.erase({key, branch});
            rest1.erase({key, 1 - branch});
            if (rest0 == rest1) {
              l.other = false;
              l.needs = rest0;
              break;
            }
          }
        }
      }
    } else {
      for (const auto& [src, i] : n->inputs) {
        Liveness in = needs_of(src, i);
        l.other = l.other || in.other;
        l.needs.insert(in.needs.begin(), in.needs.end());
      }
    }
    // A control input is dead when its node is (a Merge ignores dead control inputs).
    if (!is_merge(n->op))
      for (const Node* c : n->control_inputs) {
        const Liveness& in = live[c];
        l.other = l.other || in.other;
        l.needs.insert(in.needs.begin(), in.needs.end());
      }
    if (is_switch(n->op) || l.may_die()) may_die.insert(n);
    live[n] = std::move(l);
  }
  p.dead_possible = !may_die.empty();

  // SessionOptions::constant_folding (TF's grappler ConstantFolding, the parts a training step
  // gains from): `folded` nodes become Const steps; `forwards` (x * 1, x / 1, x + 0, x - 0 that
  // keep x's shape) forward the operand at the given index.
  std::unordered_map<const Node*, const Tensor*> folded;
  std::unordered_map<const Node*, std::size_t> forwards;
  // The host value of `src`'s output i when it is constant in this plan.
  auto constant_of = [&](const Node* src, int i) -> const Tensor* {
    if (fed(src, i)) return nullptr;
    if (src->op == "Const") {
      const Tensor& v = src->attrs.get<Tensor>("value");
      return v.on_host() ? &v : nullptr;
    }
    auto it = folded.find(src);
    return it != folded.end() && i == 0 ? it->second : nullptr;
  };
  if (options.constant_folding) {
    // Not a variable's value: forwarded, it would alias the variable's buffer, which an
    // Assign later in the step writes in place (x * 1 must stay a snapshot, as TF's
    // grappler makes it one), and a variable's run-time shape may differ from its declared
    // one (Assign with validate_shape false).
    // Through Identity ops, forwarded nodes, Switches and Merges (a cond that returns a
    // variable's value passes on its buffer).
    std::function<bool(const Node*, int)> backed_by_variable = [&](const Node* src, int depth) {
      for (int hops = 0; src != nullptr && hops < 64; ++hops) {
        if (src->op == "VariableV2") return true;
        if (depth > 8) return true;  // deep: not forwarded, to be safe
        if (is_merge(src->op)) {
          for (const auto& [in, i] : src->inputs)
            if (backed_by_variable(in, depth + 1)) return true;
          return false;
        }
        if (auto f = forwards.find(src); f != forwards.end())
          src = src->inputs[f->second].first;
        else if ((src->op == "Identity" || is_switch(src->op)) && !src->inputs.empty())
          src = src->inputs[0].first;
        else
          return false;
      }
      return true;  // a long chain: not forwarded, to be safe
    };
    for (const Node* n : order) {
      if (may_die.count(n)) continue;  // a dead tensor must stay dead
      // TF's grappler materializes Shape and Size of a tensor whose shape is fully defined
      // (a fed one included: feeds are checked against it; not a variable's: Assign with
      // validate_shape false may change it).
      if ((n->op == "Shape" || n->op == "Size") && n->inputs.size() == 1 && !fed(n, 0)) {
        const auto& [src, i] = n->inputs[0];
        const Shape& s = src->output_shapes[static_cast<std::size_t>(i)];
        if (!s.is_fully_defined() || backed_by_variable(src, 0)) continue;
        if (auto it = folded_values.find(n); it != folded_values.end()) {
          folded[n] = &it->second;
          continue;
        }
        std::vector<std::int64_t> v =
            n->op == "Shape" ? s.dims() : std::vector<std::int64_t>{s.num_elements()};
        const Shape out_shape = n->output_shapes[0];
        Tensor value;
        if (n->output_dtypes[0] == DType::kInt64) {
          value = Tensor::from_vector<std::int64_t>(v, out_shape);
        } else {
          if (std::any_of(v.begin(), v.end(), [](std::int64_t d) {
                return d > std::numeric_limits<std::int32_t>::max();
              }))
            continue;  // the kernel raises
          value = Tensor::from_vector<std::int32_t>(std::vector<std::int32_t>(v.begin(), v.end()),
                                                    out_shape);
        }
        folded[n] = &folded_values.emplace(n, std::move(value)).first->second;
        continue;
      }
      const OpDef* def = op_registry().find(n->op);
      if (def == nullptr || def->stateful || is_runtime_op(n->op) || is_random(n->op) ||
          n->output_dtypes.size() != 1 || fed(n, 0) || n->output_dtypes[0] == DType::kString ||
          n->inputs.empty())
        continue;
      std::vector<const Tensor*> values;
      std::int64_t input_bytes = 0;
      for (const auto& [src, i] : n->inputs) {
        values.push_back(constant_of(src, i));
        if (values.back() != nullptr)
          input_bytes += static_cast<std::int64_t>(values.back()->bytes());
      }
      const bool all_constant =
          std::none_of(values.begin(), values.end(), [](const Tensor* v) { return !v; });
      if (!all_constant) {
        // Arithmetic with ones or zeros, the other operand's shape kept.
        static const std::unordered_map<std::string, std::pair<int, bool>> identities = {
            // op -> (the neutral value, whether the neutral operand may come first)
            {"Mul", {1, true}},
            {"RealDiv", {1, false}},
            {"Add", {0, true}},
            {"AddV2", {0, true}},
            {"Sub", {0, false}}};
        auto id = identities.find(n->op);
        if (id == identities.end() || n->inputs.size() != 2) continue;
        for (std::size_t c = id->second.second ? 0 : 1; c < 2; ++c) {
          const std::size_t x = 1 - c;
          const auto& [xs, xi] = n->inputs[x];
          if (values[c] != nullptr && all_elements_are(*values[c], id->second.first) &&
              !backed_by_variable(n->inputs[x].first, 0) &&
              xs->output_dtypes[static_cast<std::size_t>(xi)] == n->output_dtypes[0] &&
              xs->output_shapes[static_cast<std::size_t>(xi)].is_fully_defined() &&
              xs->output_shapes[static_cast<std::size_t>(xi)] == n->output_shapes[0]) {
            forwards[n] = x;
            break;
          }
        }
        continue;
      }
      const Shape& shape = n->output_shapes[0];
      if (!shape.is_fully_defined()) continue;
      const std::int64_t bytes =
          shape.num_elements() * static_cast<std::int64_t>(dtype_size(n->output_dtypes[0]));
      if (bytes > kMaxFoldedBytes || (bytes > kFoldedGrowthBytes && bytes > input_bytes)) continue;
      if (auto it = folded_values.find(n); it != folded_values.end()) {
        folded[n] = &it->second;
        continue;
      }
      const DType dt = kernel_dtype(*n);
      if (!registry.contains(n->op, devices::DeviceType::kCPU, dt)) continue;
      kernels::KernelContext c;
      c.device_ptr = devices::host_device();
      c.device = c.device_ptr.get();
      c.attrs = &n->attrs;
      c.node_name = n->name;
      for (const Tensor* v : values) c.inputs.push_back(*v);
      // The run's OpenMP team size too, so a folded value has the bits the step would compute
      // (a MatMul summed in another order differed in its last digits).
      std::optional<kernels::IntraOpThreadLimit> thread_share;
      if (options.intra_op_parallelism_threads > 0)
        thread_share.emplace(options.intra_op_parallelism_threads);
      try {
        registry.find(n->op, devices::DeviceType::kCPU, dt)(c);
      } catch (const std::exception&) {
        continue;  // raised again when the step runs
      }
      if (!c.deferred_checks.empty() || c.outputs.empty() || !c.outputs[0].initialized() ||
          c.outputs[0].dtype() != n->output_dtypes[0] || !(c.outputs[0].shape() == shape) ||
          !c.outputs[0].on_host())
        continue;
      folded[n] = &folded_values.emplace(n, std::move(c.outputs[0])).first->second;
    }
  }
  std::unordered_map<const Node*, int> step_of;
  // Copy nodes, one per (source, destination device): TF's Send/Recv pairs.
  std::map<std::tuple<int, const Node*, const devices::Device*>, int> copy_of;
  std::unordered_set<devices::Device*> gpus;
  auto add_edge = [&](int from, int to) {
    p.steps[static_cast<std::size_t>(from)].successors.push_back(to);
    ++p.steps[static_cast<std::size_t>(to)].num_deps;
  };

  // Wires input k of graph node `n` into step `index` (on `device`): a feed slot, a variable,
  // or its producer's slot, through a copy node when it lives elsewhere and must be on `device`.
  auto wire_input = [&](int index, const Node* n, const std::shared_ptr<devices::Device>& device,
                        bool inputs_on_device, std::size_t k) {
    const std::string& op = n->op;
    auto [src, i] = n->inputs[k];
    InputRef in;
    std::shared_ptr<devices::Device> where;
    int producer = -1;
    if (auto f = feed_slot.find({src, i}); f != feed_slot.end()) {
      in.slot = f->second;
      where = host;
    } else {
      producer = step_of.at(src);
      where = p.steps[static_cast<std::size_t>(producer)].device;
      if (src->op == "VariableV2") {
        in.variable = src;
      } else if (src->op == "RefSwitch" && ref_source(src)->op == "VariableV2") {
        in.variable = ref_source(src);  // the variable itself, dead with the switch's output
        in.guard = p.steps[static_cast<std::size_t>(producer)].out_slot + i;
      } else {
        in.slot = p.steps[static_cast<std::size_t>(producer)].out_slot + i;
      }
    }
    // A Const (or a folded node) that a GPU kernel reads on the host: its host value, no copy
    // node.
    const Tensor* constant = producer >= 0 ? constant_of(src, i) : nullptr;
    if (constant != nullptr && device->type() == devices::DeviceType::kGPU &&
        p.steps[static_cast<std::size_t>(index)].kind == StepKind::kKernel &&
        host_memory_input(op, k, n->inputs.size())) {
      auto& host_inputs = p.steps[static_cast<std::size_t>(index)].host_inputs;
      host_inputs.resize(n->inputs.size());
      host_inputs[k] = *constant;
      add_edge(producer, index);
      p.steps[static_cast<std::size_t>(index)].inputs.push_back(in);
      return;
    }
    // The variable operands of assign-like ops are the variables themselves, never copies
    // (optimizer slots are colocated with their variable).
    const bool ref_operand =
        in.variable != nullptr && (k == 0 || is_apply(op)) && is_assign_like(op);
    if (ref_operand && where != device && is_apply(op))
      throw InvalidArgumentError(str_cat(n->name, " (", op, ") on ", device->name(), " updates ",
                                         src->name, " on ", where->name(),
                                         ": an optimizer slot must live with its variable"));
    if (inputs_on_device && !ref_operand && where != device) {
      auto copy_key = std::make_tuple(std::max(in.slot, in.guard), in.variable, device.get());
      auto c = copy_of.find(copy_key);
      if (c == copy_of.end()) {
        Step copy;
        copy.kind = StepKind::kCopy;
        copy.node = n;
        copy.device = device;
        copy.inputs = {in};
        copy.num_outputs = 1;
        copy.out_slot = p.num_slots++;
        copy.copy_edge = p.copy_edges.size();
        copy.expensive = !both_cpu(*where, *device);
        copy.may_die = producer >= 0 && p.steps[static_cast<std::size_t>(producer)].may_die;
        p.copy_edges.push_back({str_cat(src->name, ":", i), where->name(), device->name()});
        const int ci = static_cast<int>(p.steps.size());
        p.steps.push_back(std::move(copy));
        if (producer >= 0) add_edge(producer, ci);
        c = copy_of.emplace(copy_key, ci).first;
      }
      add_edge(c->second, index);
      in = InputRef{p.steps[static_cast<std::size_t>(c->second)].out_slot, nullptr, -1};
    } else if (producer >= 0) {
      add_edge(producer, index);
    }
    p.steps[static_cast<std::size_t>(index)].inputs.push_back(in);
  };
  // NcclAllReduce groups: one kCollective step each, added with the group's last participant.
  const auto collectives = plan_collectives(
      order, graph, [&](const Node* n) { return place(n); }, fed);
  std::unordered_map<const CollectiveGroup*, std::size_t> participants_seen;
  // A group's step: every participant's input (on the participant's device) in, one output per
  // participant out, which the participant's own step forwards. The participants' control
  // inputs gate the reduction itself.
  auto add_collective_step = [&](const std::shared_ptr<const CollectiveGroup>& g) {
    Step c;
    c.kind = StepKind::kCollective;
    c.node = g->members.back();
    c.device = g->devices[0];
    c.collective = g;
    c.num_outputs = static_cast<int>(g->members.size());
    c.out_slot = p.num_slots;
    p.num_slots += c.num_outputs;
    const int ci = static_cast<int>(p.steps.size());
    p.steps.push_back(std::move(c));
    for (std::size_t j = 0; j < g->members.size(); ++j) {
      const Node* m = g->members[j];
      wire_input(ci, m, g->devices[j], /*inputs_on_device=*/true, 0);
      for (const Node* dep : m->control_inputs) add_edge(step_of.at(dep), ci);
      const int mi = step_of.at(m);
      p.steps[static_cast<std::size_t>(mi)].inputs = {
          InputRef{p.steps[static_cast<std::size_t>(ci)].out_slot + static_cast<int>(j), nullptr}};
      add_edge(ci, mi);
    }
  };

  for (const Node* n : order) {
    const auto device = place(n);
    if (device->type() == devices::DeviceType::kGPU) gpus.insert(device.get());
    Step step;
    step.node = n;
    step.device = device;
    step.num_outputs = static_cast<int>(n->output_dtypes.size());
    step.out_slot = p.num_slots;
    p.num_slots += step.num_outputs;
    const std::string& op = n->op;
    const DType dt = kernel_dtype(*n);
    bool inputs_on_device = false;  // kernel inputs must be on the step's device
    step.may_die = may_die.count(n) != 0;
    const auto fold = folded.find(n);
    const auto forward = forwards.find(n);
    const bool forwarding = forward != forwards.end() && !step.may_die &&
                            registry.contains("Identity", device->type(), dt);
    if (fold != folded.end()) {
      step.kind = StepKind::kConst;
      step.kernel_label = "constant folding";
      if (device->type() == devices::DeviceType::kCPU) {
        step.constant = *fold->second;
      } else {
        Tensor& copy = const_copies[{n, device.get()}];
        if (!copy.initialized()) copy = fold->second->to(device);
        step.constant = copy;
      }
    } else if (forwarding) {
      step.kind = StepKind::kKernel;
      step.forwarded = true;
      step.kernel = &registry.find("Identity", device->type(), dt);
      step.kernel_label =
          str_cat("forward: ", registry.labels("Identity", device->type(), dt).front());
      inputs_on_device = true;
    } else if (op == "NoOp") {
      step.kind = StepKind::kNoOp;
    } else if (is_switch(op)) {
      step.kind = StepKind::kSwitch;
    } else if (is_merge(op)) {
      step.kind = StepKind::kMerge;
    } else if (op == "Placeholder") {
      if (!fed(n, 0))
        throw InvalidArgumentError(str_cat(
            "You must feed a value for placeholder tensor '", n->name, "' with dtype ",
            tf_dtype_text(n->output_dtypes[0]), " and shape ", n->output_shapes[0].to_string()));
      step.kind = StepKind::kNoOp;
    } else if (op == "Const") {
      step.kind = StepKind::kConst;
      const Tensor& value = n->attrs.get<Tensor>("value");
      if (both_cpu(*value.device_ptr(), *device) || value.dtype() == DType::kString) {
        step.constant = value;
      } else {
        Tensor& copy = const_copies[{n, device.get()}];
        if (!copy.initialized()) copy = value.to(device);
        step.constant = copy;
      }
    } else if (op == "VariableV2") {
      step.kind = StepKind::kVariable;
    } else if (op == "IsVariableInitialized") {
      step.kind = StepKind::kIsInitialized;
    } else if (op == "Assign" || op == "AssignAdd" || op == "AssignSub") {
      if (n->inputs.empty() || ref_source(n->inputs[0].first)->op != "VariableV2")
        throw InvalidArgumentError(str_cat(n->name, ": ", op, " needs a variable as input 0"));
      if (op == "Assign") {
        step.kind = StepKind::kAssign;
      } else {
        step.kind = StepKind::kAssignUpdate;
        const std::string kop = op == "AssignAdd" ? "AddV2" : "Sub";
        step.kernel_on_host = !registry.contains(kop, device->type(), dt);
        step.kernel = &registry.find(
            kop, step.kernel_on_host ? devices::DeviceType::kCPU : device->type(), dt);
        step.kernel_label =
            registry
                .labels(kop, step.kernel_on_host ? devices::DeviceType::kCPU : device->type(), dt)
                .front();
        inputs_on_device = !step.kernel_on_host;
      }
    } else if (is_apply(op)) {
      // TF: "Input 'var' of 'ApplyGradientDescent' Op requires l-value input". (A folded or
      // computed tensor there was updated in place: a shared folded value changed run by run.)
      if (n->inputs.empty() || ref_source(n->inputs[0].first)->op != "VariableV2")
        throw InvalidArgumentError(str_cat(n->name, " (", op, "): input 0 must be a variable, got ",
                                           n->inputs.empty() ? "none" : n->inputs[0].first->name));
      step.kind = StepKind::kApply;
      step.kernel_on_host = !registry.contains(op, device->type(), dt);
      step.kernel =
          &registry.find(op, step.kernel_on_host ? devices::DeviceType::kCPU : device->type(), dt);
      step.kernel_label =
          registry.labels(op, step.kernel_on_host ? devices::DeviceType::kCPU : device->type(), dt)
              .front();
      inputs_on_device = !step.kernel_on_host;
    } else if (op == "NcclAllReduce") {
      step.kind = StepKind::kCollectiveOutput;  // fed by its group's kCollective step
    } else {
      step.kind = StepKind::kKernel;
      step.kernel = &registry.find(op, device->type(), dt);
      if (auto labels = registry.labels(op, device->type(), dt); !labels.empty())
        step.kernel_label = labels.front();
      inputs_on_device = true;
      if (is_random(op)) {
        std::lock_guard<std::mutex> lock(rng_mu);
        auto& st = rng[n];
        if (st.seed == 0) st.seed = seeder() | 1;
      }
    }
    const int index = static_cast<int>(p.steps.size());
    p.steps.push_back(std::move(step));
    step_of[n] = index;
    if (p.steps.back().kind != StepKind::kNoOp && p.steps.back().kind != StepKind::kCopy)
      ++p.num_graph_steps;

    if (fold != folded.end()) {
      // No data to wait for, but the order stays: the step runs after its inputs' steps, and
      // so after their control inputs (TF moves them onto the folded Const), then its own.
      ++p.nodes_folded;
      for (const auto& [src, i] : n->inputs)
        if (!fed(src, i)) add_edge(step_of.at(src), index);  // a Shape's fed input: no step
      for (const Node* dep : n->control_inputs) add_edge(step_of.at(dep), index);
      continue;
    }
    if (forwarding) {
      ++p.nodes_forwarded;
      wire_input(index, n, device, inputs_on_device, forward->second);
      // The dropped constant still orders the step after its control inputs (TF's grappler
      // turns it into a control input).
      const auto& [dropped, di] = n->inputs[1 - forward->second];
      if (!fed(dropped, di)) add_edge(step_of.at(dropped), index);
    } else if (p.steps.back().kind != StepKind::kCollectiveOutput) {
      for (std::size_t k = 0; k < n->inputs.size(); ++k)
        wire_input(index, n, device, inputs_on_device, k);
    }
    for (const Node* dep : n->control_inputs) {
      add_edge(step_of.at(dep), index);
      if (p.dead_possible)
        p.steps[static_cast<std::size_t>(index)].control_steps.push_back(step_of.at(dep));
    }
    if (auto g = collectives.find(n);
        g != collectives.end() && ++participants_seen[g->second.get()] == g->second->members.size())
      add_collective_step(g->second);
  }

  // NOTE: grouping after the read-before-update edges: a reader ordered before a member (an
  // edge the grouping moves onto the leader) but after another member keeps the two apart.
  order_reads_before_updates(p);
  if (options.group_updates != SessionOptions::UpdateGrouping::kOff)
    p.updates_grouped =
        group_updates(p, options.group_updates == SessionOptions::UpdateGrouping::kGpu);
  for (auto& st : p.steps) {
    if (st.kind == StepKind::kConst && st.constant.initialized())
      p.constants.push_back(st.constant);
    if (st.kind == StepKind::kAssign || st.kind == StepKind::kAssignUpdate) {
      st.update_locks = update_mutexes({ref_source(st.node->inputs[0].first)});
    } else if (st.kind == StepKind::kApply) {  // a group's leader holds every member's inputs
      std::vector<const Node*> vars;
      for (const auto& in : st.inputs) vars.push_back(in.variable);
      st.update_locks = update_mutexes(vars);
    }
  }
  p.slot_uses.assign(static_cast<std::size_t>(p.num_slots), 0);
  for (const auto& s : p.steps)
    for (const auto& in : s.inputs)
      if (in.slot >= 0) ++p.slot_uses[static_cast<std::size_t>(in.slot)];
  for (const auto& f : fetches) {
    auto fs = feed_slot.find({f.node(), f.index()});
    const int slot =
        fs != feed_slot.end()
            ? fs->second
            : p.steps[static_cast<std::size_t>(step_of.at(f.node()))].out_slot + f.index();
    p.fetch_slots.push_back(slot);
    p.slot_uses[static_cast<std::size_t>(slot)] = 1 << 30;  // kept for the caller
  }
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    p.steps[i].expensive = is_expensive(p.steps[i]);
    if (p.steps[i].num_deps == 0) p.roots.push_back(static_cast<int>(i));
  }
  p.gpu_devices.assign(gpus.begin(), gpus.end());

  // NOTE: a step that may be dead has no place in a captured graph (it may not run at all).
  if (options.use_cuda_graphs && !p.dead_possible) p.graphs = analyze_graphs(p);
  return plan;
}

// ---------------------------------------------------------------- execution

Tensor Session::Impl::input(RunState& st, const Step& step, std::size_t k) {
  const InputRef& in = step.inputs[k];
  return in.variable ? read_variable(in.variable) : st.slots[static_cast<std::size_t>(in.slot)];
}

void Session::Impl::run_step(RunState& st, const Step& step) {
  const Node* n = step.node;
  const auto& device = step.device;
  // Under a CUDA-graph capture: work goes to the capture's streams, and anything that would
  // wait for a GPU (a synchronous copy) throws, failing the capture instead of reading
  // memory that captured work has not written yet.
  std::optional<devices::CaptureGuard> capture_guard;
  if (st.capture != nullptr) capture_guard.emplace();
  auto stream_for = [&](const std::shared_ptr<devices::Device>& d) -> devices::Stream& {
    return st.capture != nullptr && d->type() == devices::DeviceType::kGPU ? st.capture->stream(*d)
                                                                           : d->compute_stream();
  };
  Tensor* out = step.out_slot >= 0 ? &st.slots[static_cast<std::size_t>(step.out_slot)] : nullptr;
  auto require_initialized = [&](const Tensor& t, std::size_t k) {
    if (!t.initialized())
      throw FailedPreconditionError(str_cat("Attempting to use uninitialized value ",
                                            n->inputs[k].first->name, "\n\t [[node ", n->name, " (",
                                            n->op, ")]]"));
  };
  // Values the runtime made on the host (IsVariableInitialized, fed tensors) reach GPU
  // kernels through the plan's copy nodes; this catches what is left.
  const auto& host = devices::host_device();

  switch (step.kind) {
    case StepKind::kNoOp: return;
    case StepKind::kConst: *out = step.constant; return;
    case StepKind::kVariable:
      // Readers take the variable itself (InputRef::variable); the slot is only for a fetch.
      // Filling it otherwise would hold the buffer and make every update copy on write.
      if (st.plan.slot_uses[static_cast<std::size_t>(step.out_slot)] > 0) *out = read_variable(n);
      return;
    case StepKind::kIsInitialized:
      *out = Tensor::from_scalar(input(st, step, 0).initialized());
      return;
    case StepKind::kCopy: {
      if (st.staged != nullptr) {  // a feed staged in a device buffer before the capture
        const int index = static_cast<int>(&step - st.plan.steps.data());
        for (std::size_t i = 0; i < st.staged_copies->size(); ++i)
          if ((*st.staged_copies)[i].first == index) {
            *out = (*st.staged)[i];
            return;
          }
      }
      Tensor t = input(st, step, 0);
      if (!t.initialized()) {  // an uninitialized variable: its reader reports it
        *out = t;
        return;
      }
      if (t.device_ptr() == device) {  // already there (a device-resident feed)
        *out = t;
        return;
      }
      st.copies.fetch_add(1, std::memory_order_relaxed);
      st.bytes_copied.fetch_add(static_cast<std::int64_t>(t.bytes()), std::memory_order_relaxed);
      if (t.dtype() != DType::kString && (t.device_ptr()->type() == devices::DeviceType::kCPU) !=
                                             (device->type() == devices::DeviceType::kCPU))
        st.host_copies.fetch_add(1, std::memory_order_relaxed);
      if (t.dtype() == DType::kString || both_cpu(*t.device_ptr(), *device)) {
        *out = t;  // host memory is shared by the logical CPU devices
        return;
      }
      devices::Device& src = *t.device_ptr();
      if (options.inbound_copy_streams && st.capture == nullptr && t.bytes() > 0 &&
          device->type() == devices::DeviceType::kGPU && src.type() == devices::DeviceType::kGPU &&
          src.physical_id() == device->physical_id()) {
        // On the pair's own stream: it waits for the source's queued work; the buffer is
        // stream-ordered for it and declared in use by the destination's compute stream, which
        // waits for the copy, as does the source's stream (whose later work may reuse or
        // update the source buffer). Neither stream waits for the other's queue.
        devices::Stream& x = device->inbound_stream(src);
        x.wait_for(src.compute_stream());
        Tensor dst = Tensor::empty_on_stream(t.dtype(), t.shape(), device, x);
        device->copy_from_device_on_stream(dst.raw_data(), src, t.raw_data(), t.bytes(), x);
        device->allocator().record_stream(dst.raw_data(), device->compute_stream().id());
        device->compute_stream().wait_for(x);
        src.compute_stream().wait_for(x);
        *out = std::move(dst);
        return;
      }
      Tensor dst(t.dtype(), t.shape(), device);
      if (st.capture != nullptr && device->type() == devices::DeviceType::kGPU &&
          t.device_ptr()->type() == devices::DeviceType::kGPU)
        st.capture->copy(*device, dst.raw_data(), *t.device_ptr(), t.raw_data(), t.bytes());
      else
        devices::copy_bytes_async(*device, dst.raw_data(), *t.device_ptr(), t.raw_data(),
                                  t.bytes());
      *out = std::move(dst);
      return;
    }
    case StepKind::kAssign: {
      const Node* var = ref_source(n->inputs[0].first);
      const UpdateLocks locks(step.update_locks);
      Tensor value = input(st, step, 1);
      require_initialized(value, 1);
      const bool validate = n->attrs.get_or<bool>("validate_shape", true);
      if (validate && !var->output_shapes[0].is_compatible_with(value.shape()))
        throw InvalidArgumentError(
            str_cat(n->name, ": Assign requires shapes of both tensors to match. lhs shape= ",
                    var->output_shapes[0].to_string(), " rhs shape= ", value.shape().to_string()));
      *out = update_variable(var, value, device, st.capture);
      return;
    }
    case StepKind::kAssignUpdate: {
      const Node* var = ref_source(n->inputs[0].first);
      const UpdateLocks locks(step.update_locks);  // the read, the add and the write as one
      Tensor current = input(st, step, 0);
      Tensor value = input(st, step, 1);
      require_initialized(current, 0);
      require_initialized(value, 1);
      if (!(value.shape() == current.shape()))  // TF's DenseUpdateOp: no broadcasting
        throw InvalidArgumentError(str_cat(
            n->name, ": Cannot update variable with shape ", current.shape().to_string(),
            " using a Tensor with shape ", value.shape().to_string(), ", shapes must be equal."));
      const auto& where = step.kernel_on_host ? host : device;
      kernels::KernelContext c = kernel_context(st, n, where, stream_for(where));
      c.inputs = {on_device(current, where), on_device(value, where)};
      (*step.kernel)(c);
      collect_checks(st, c);
      if (!(c.outputs.at(0).shape() == current.shape()))
        throw InvalidArgumentError(str_cat(n->name, ": ", n->op,
                                           " shapes differ: ", current.shape().to_string(), " vs ",
                                           value.shape().to_string()));
      *out = update_variable(var, c.outputs[0], device, st.capture);
      return;
    }
    case StepKind::kGroupMember:
      // Its group's leader updated the variable (the leader precedes it).
      if (st.plan.slot_uses[static_cast<std::size_t>(step.out_slot)] > 0)
        *out = read_variable(step.inputs[0].variable);
      return;
    case StepKind::kApply: {
      if (!step.group.empty()) {
        run_update_group(st, step, stream_for(device));
        *out = read_variable(step.inputs[0].variable);
        return;
      }
      // In place on the variable's (and slots') buffers; without a kernel for the variable's
      // device, a round trip through a host kernel.
      const UpdateLocks locks(step.update_locks);
      const auto& where = step.kernel_on_host ? host : device;
      kernels::KernelContext c = kernel_context(st, n, where, stream_for(where));
      std::vector<std::pair<const Node*, Tensor>> round_trips;
      for (std::size_t k = 0; k < step.inputs.size(); ++k) {
        const Node* var = step.inputs[k].variable;
        if (var == nullptr) {
          Tensor t = input(st, step, k);
          require_initialized(t, k);
          c.inputs.push_back(on_device(std::move(t), where));
          continue;
        }
        if (const std::size_t j = first_naming_same_variable(step.inputs, 0, k); j < k) {
          c.inputs.push_back(c.inputs[j]);  // its buffer (or host copy), read and written once
          continue;
        }
        Tensor t = copy_on_write(var);
        require_initialized(t, k);
        if (step.kernel_on_host && !t.on_host()) {
          t = t.to(host);
          round_trips.emplace_back(var, t);
        }
        c.inputs.push_back(t);
      }
      (*step.kernel)(c);
      collect_checks(st, c);
      for (auto& [var, t] : round_trips) write_variable(var, t.to(device));
      *out = step.inputs[0].variable ? read_variable(step.inputs[0].variable) : c.outputs.at(0);
      return;
    }
    case StepKind::kCollectiveOutput: *out = input(st, step, 0); return;
    case StepKind::kSwitch: {
      Tensor pred = input(st, step, 1);
      require_initialized(pred, 1);
      if (pred.dtype() != DType::kBool || pred.shape().rank() != 0)
        throw InvalidArgumentError(str_cat(n->name, ": the predicate must be a bool scalar, got ",
                                           dtype_name(pred.dtype()), " ",
                                           pred.shape().to_string()));
      if (!pred.on_host()) pred = pred.to(host);
      const int taken = *static_cast<const bool*>(pred.raw_data()) ? 1 : 0;
      const auto slot = static_cast<std::size_t>(step.out_slot + taken);
      // A variable (RefSwitch) fills its slot only for a reader of the value: its consumers
      // take the variable itself.
      if (!step.inputs[0].variable || st.plan.slot_uses[slot] > 0) out[taken] = input(st, step, 0);
      st.slot_dead[static_cast<std::size_t>(step.out_slot + 1 - taken)].store(
          1, std::memory_order_relaxed);
      return;
    }
    case StepKind::kMerge:
      for (std::size_t k = 0; k < step.inputs.size(); ++k) {
        if (st.input_dead(step.inputs[k])) continue;
        out[0] = input(st, step, k);
        out[1] = Tensor::from_scalar(static_cast<std::int32_t>(k));
        return;
      }
      return;  // not reached: process() marks a Merge with every input dead dead
    case StepKind::kCollective: {
      std::vector<Tensor> in;
      for (std::size_t k = 0; k < step.inputs.size(); ++k) in.push_back(input(st, step, k));
      auto results = run_collective(*step.collective, in);
      for (std::size_t j = 0; j < results.size(); ++j) out[j] = std::move(results[j]);
      return;
    }
    case StepKind::kKernel: {
      kernels::KernelContext c = kernel_context(st, n, device, stream_for(device));
      c.inputs.reserve(step.inputs.size());
      for (std::size_t k = 0; k < step.inputs.size(); ++k) {
        if (k < step.host_inputs.size() && step.host_inputs[k].initialized()) {
          c.inputs.push_back(step.host_inputs[k]);
          continue;
        }
        Tensor t = input(st, step, k);
        // _InitializedValueOr decides itself what an uninitialized variable means.
        if (k == 0 && !t.initialized() && n->op == "_InitializedValueOr") {
          c.inputs.push_back(std::move(t));
          continue;
        }
        require_initialized(t, k);
        c.inputs.push_back(on_device(std::move(t), device));
      }
      // A stateful random op runs under its node's lock, so that concurrent runs of the
      // same node each draw a fresh counter range.
      std::unique_lock<std::mutex> rng_lock;
      RngState* rs = nullptr;
      if (is_random(n->op)) {
        {
          std::lock_guard<std::mutex> lock(rng_mu);
          rs = &rng.at(n);  // NOTE: unordered_map elements keep their address on rehash
        }
        rng_lock = std::unique_lock<std::mutex>(rs->mu);
        c.rng_seed = rs->seed;
        c.rng_offset = rs->offset;
        // Captured: the kernel reads the counter from a device word that each replay fills.
        if (st.capture != nullptr && device->type() == devices::DeviceType::kGPU)
          c.rng_offset_device = st.capture->bind_counter(n, rs->offset, *c.stream);
      }
      // SessionOptions::intra_op_parallelism_threads: the OpenMP team of an expensive CPU
      // kernel (oneDNN). NOTE: a fixed number, so that the summation order is the same on
      // every run.
      std::optional<kernels::IntraOpThreadLimit> thread_share;
      if (step.expensive && options.intra_op_parallelism_threads > 0 &&
          device->type() == devices::DeviceType::kCPU)
        thread_share.emplace(options.intra_op_parallelism_threads);
      try {
        (*step.kernel)(c);
      } catch (const ValueError& e) {
        throw InvalidArgumentError(e.what());
      }
      collect_checks(st, c);
      if (rs != nullptr && !c.outputs.empty()) {
        rs->offset += static_cast<std::uint64_t>(c.outputs[0].num_elements());
        if (st.capture != nullptr)  // one thread runs a capture's pass
          st.capture_advances[n] += static_cast<std::uint64_t>(c.outputs[0].num_elements());
        if (c.rng_offset_device != nullptr)
          st.capture->note_advance(n, static_cast<std::uint64_t>(c.outputs[0].num_elements()));
      }
      for (std::size_t i = 0;
           i < c.outputs.size() && i < static_cast<std::size_t>(step.num_outputs); ++i)
        out[i] = std::move(c.outputs[i]);
      return;
    }
  }
}

void Session::Impl::run_update_group(RunState& st, const Step& step, devices::Stream& stream) {
  const std::size_t arity = step.inputs.size() / step.group.size();
  auto member = [&](std::size_t j) -> const Step& {
    return st.plan.steps[static_cast<std::size_t>(step.group[j])];
  };
  auto context = [&](const Node* node) { return kernel_context(st, node, step.device, stream); };
  const UpdateLocks locks(step.update_locks);
  {
    kernels::KernelContext c = context(step.node);
    c.inputs.reserve(step.inputs.size());
    for (std::size_t k = 0; k < step.inputs.size(); ++k) {
      const Node* var = step.inputs[k].variable;
      // Within a member only: two members never write one variable (group_updates).
      if (const std::size_t j = first_naming_same_variable(step.inputs, k - k % arity, k);
          var != nullptr && j < k) {
        c.inputs.push_back(c.inputs[j]);
        continue;
      }
      Tensor t = var ? copy_on_write(var) : input(st, step, k);
      if (!t.initialized()) {
        const Node* n = member(k / arity).node;
        throw FailedPreconditionError(str_cat("Attempting to use uninitialized value ",
                                              n->inputs[k % arity].first->name, "\n\t [[node ",
                                              n->name, " (", n->op, ")]]"));
      }
      c.inputs.push_back(var ? std::move(t) : on_device(std::move(t), step.device));
    }
    try {
      (*step.group_kernel)(c);
      collect_checks(st, c);
      return;
    } catch (const InvalidArgumentError&) {
      // The grouped kernel validates every member before it updates any (its only
      // InvalidArgumentErrors): run them one by one below, for the error naming the member.
    }
  }
  for (std::size_t j = 0; j < step.group.size(); ++j) {
    const Step& m = member(j);
    kernels::KernelContext c = context(m.node);
    for (std::size_t k = 0; k < arity; ++k) {
      const std::size_t at = j * arity + k;
      const Node* var = step.inputs[at].variable;
      if (const std::size_t first = first_naming_same_variable(step.inputs, j * arity, at);
          var != nullptr && first < at)
        c.inputs.push_back(c.inputs[first - j * arity]);
      else
        c.inputs.push_back(var ? copy_on_write(var) : on_device(input(st, step, at), step.device));
    }
    (*m.kernel)(c);
    collect_checks(st, c);
  }
}

void Session::Impl::traced_step(RunState& st, const Step& step, int index) {
  RunState::TraceRecord r;
  r.step = index;
  r.thread = trace_thread_id();
  const bool gpu = traced_on_gpu(step);
  if (gpu) {
    r.gpu_start = step.device->create_event();
    r.gpu_start->record(step.device->compute_stream());
  }
  r.start = std::chrono::steady_clock::now();
  run_step(st, step);
  r.end = std::chrono::steady_clock::now();
  if (gpu) {
    r.gpu_end = step.device->create_event();
    r.gpu_end->record(step.device->compute_stream());
  }
  std::lock_guard<std::mutex> lock(st.trace_mu);
  st.trace_records.push_back(std::move(r));
}

void Session::Impl::process(const std::shared_ptr<RunState>& st, std::vector<int> first) {
  const Plan& p = st->plan;
  std::vector<int> local = std::move(first);
  while (!local.empty()) {
    const int s = local.back();
    local.pop_back();
    const Step& step = p.steps[static_cast<std::size_t>(s)];
    if (p.dead_possible && (step.may_die || step.kind == StepKind::kMerge) &&
        !st->failed.load(std::memory_order_acquire) && st->dead(step)) {
      st->mark_dead(step, static_cast<std::size_t>(s));  // TF: the op does not run
    } else if (!st->failed.load(std::memory_order_acquire) &&
               !st->skipped(static_cast<std::size_t>(s))) {
      try {
        if (st->trace)
          traced_step(*st, step, s);
        else
          run_step(*st, step);
        if (step.kind != StepKind::kCopy && step.kind != StepKind::kNoOp &&
            step.kind != StepKind::kCollective)
          st->nodes_executed.fetch_add(1, std::memory_order_relaxed);
      } catch (...) {
        std::lock_guard<std::mutex> lock(st->mu);
        if (!st->error) st->error = std::current_exception();
        st->failed.store(true, std::memory_order_release);
      }
    }
    if (!st->failed.load(std::memory_order_acquire)) {
      // Cheap ready successors run on this thread (a pool hand-off costs more than they do);
      // of the expensive ones, the first continues here when nothing else is queued and the
      // others go to the pool (TF's executor does the same with its "expensive" kernels).
      bool kept_expensive = false;
      for (int next : step.successors) {
        if (st->pending[static_cast<std::size_t>(next)].fetch_sub(1, std::memory_order_acq_rel) !=
            1)
          continue;
        st->outstanding.fetch_add(1, std::memory_order_relaxed);
        const Step& n = p.steps[static_cast<std::size_t>(next)];
        // GPU work on the device this step just used stays on this thread: its stream runs it
        // in order anyway, and a hand-off would put a worker's wake-up (5-20 us) on the
        // critical path of a host-bound step (TF's executor counts GPU kernels inexpensive for
        // the same reason). Work on another device (another tower's GPU) still fans out, so
        // towers launch side by side.
        const bool same_gpu = n.device == step.device && n.device != nullptr &&
                              n.device->type() == devices::DeviceType::kGPU &&
                              (n.kind == StepKind::kKernel || n.kind == StepKind::kApply ||
                               n.kind == StepKind::kAssignUpdate) &&
                              !n.kernel_on_host;
        const bool expensive =
            n.expensive && !same_gpu && !st->skipped(static_cast<std::size_t>(next));
        // NOTE: a capture runs on this thread alone: with one capture stream per GPU the
        // graph is the enqueue order anyway, so pool threads would only make that order (and
        // whether a concurrent reader forces a copy on write, which fails the capture)
        // nondeterministic.
        if (!expensive || pool->size() == 0 || st->capture != nullptr) {
          local.push_back(next);
        } else if (!kept_expensive && local.empty()) {
          kept_expensive = true;
          local.push_back(next);
        } else {
          pool->schedule([this, st, next] { process(st, next); });
        }
      }
    }
    // Inputs nobody else reads are released now (their memory returns to the allocator).
    for (const auto& in : step.inputs)
      if (in.slot >= 0 &&
          st->uses[static_cast<std::size_t>(in.slot)].fetch_sub(1, std::memory_order_acq_rel) == 1)
        st->slots[static_cast<std::size_t>(in.slot)] = Tensor();
    if (st->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->done = true;
        st->finished.store(true, std::memory_order_release);
      }
      st->done_cv.notify_all();
      pool->wake();  // the run's caller may be helping the pool (run_pass)
    }
  }
}

namespace {
// "name = Op(in0, in1:1, ^ctrl)": TF's timeline_label of a node.
std::string timeline_label(const Node& n) {
  std::string label = n.name + " = " + n.op + "(";
  bool first = true;
  for (const auto& [src, index] : n.inputs) {
    label += (first ? "" : ", ") + src->name + (index > 0 ? str_cat(":", index) : "");
    first = false;
  }
  for (const Node* c : n.control_inputs) {
    label += (first ? "^" : ", ^") + c->name;
    first = false;
  }
  return label + ")";
}

std::int64_t micros(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}
}  // namespace

std::vector<Tensor> Session::Impl::execute(const std::vector<Output>& fetches,
                                           const std::vector<Operation>& targets,
                                           const FeedDict& feeds, const RunOptions* options,
                                           RunMetadata* run_metadata) {
  bool reused = false;
  auto plan = get_plan(fetches, targets, feeds, &reused);
  const Plan& p = *plan;
  auto st = std::make_shared<RunState>(p);
  st->trace =
      options != nullptr && options->trace_level != RunOptions::kNoTrace && run_metadata != nullptr;
  // Trace time bases: the epoch time of `t0`, and per GPU an event recorded at `t0` on its
  // compute stream. NOTE: a GPU interval is placed at t0 + (its start event - the base
  // event): exact when the stream is idle at t0 (the previous run synchronized it).
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t t0_epoch_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
  std::map<const devices::Device*, std::unique_ptr<devices::Event>> gpu_base;
  if (st->trace)
    for (auto* d : p.gpu_devices) {
      auto e = d->create_event();
      e->record(d->compute_stream());
      gpu_base[d] = std::move(e);
    }

  // Feeds: dtype and shape checked against the fed tensor.
  for (std::size_t k = 0; k < feeds.size(); ++k) {
    const auto& [out, value] = feeds[k];
    if (value.dtype() != out.dtype())
      throw InvalidArgumentError(str_cat("Cannot feed value of dtype ", dtype_name(value.dtype()),
                                         " for Tensor '", out.name(), "', which has dtype ",
                                         dtype_name(out.dtype())));
    if (!out.shape().is_compatible_with(value.shape()))
      throw InvalidArgumentError(str_cat("Cannot feed value of shape ", value.shape().to_string(),
                                         " for Tensor '", out.name(), "', which has shape ",
                                         out.shape().to_string()));
    st->slots[static_cast<std::size_t>(p.feed_slots[k])] = value;
  }

  // CUDA graphs: the GPU part by replay or capture, then the host steps in run_pass.
  std::unique_lock<std::mutex> graph_lock;
  std::string graph_state = "off";
  std::int64_t graph_nodes = 0;
  if (p.graphs && st->trace) {
    graph_state = "off: traced run";
  } else if (p.graphs) {
    graph_lock = std::unique_lock<std::mutex>(p.graphs->mu);
    graph_pass(p, feeds, *st, &graph_state, &graph_nodes);
  }
  run_pass(st);
  // The run's tensors are dropped when run() returns, fetched or failed: a pool task winding
  // down still holds `st` for a moment, and a variable's buffer left in a slot (an Apply's
  // output nobody reads) would look "held elsewhere" to the next run's CUDA-graph replay. No
  // worker touches the slots once the run is done (each releases its inputs before its last
  // `outstanding` decrement).
  struct DropSlots {
    RunState& st;
    ~DropSlots() { st.slots.clear(); }
  } drop_slots{*st};
  // The step's device work is complete when run() returns (TF's semantics), failed or not.
  for (auto* d : p.gpu_devices) {
    try {
      d->synchronize();
    } catch (...) {
      if (!st->error) st->error = std::current_exception();
    }
  }
  // What the GPU kernels found wrong (an index out of range), now that they have run.
  if (!st->error) {
    try {
      if (st->replay_checks != nullptr) kernels::raise_failed_checks(*st->replay_checks);
      kernels::raise_failed_checks(st->checks);
    } catch (...) {
      st->error = std::current_exception();
    }
  }
  st->checks.clear();  // the pinned words go back now, not when the last pool task lets go
  {
    std::lock_guard<std::mutex> lock(stats_mu);
    last_stats.nodes_executed = st->nodes_executed.load() + graph_nodes;
    last_stats.cuda_graph = graph_state;
    last_stats.copies = st->copies.load();
    last_stats.host_copies = st->host_copies.load();
    last_stats.bytes_copied = st->bytes_copied.load();
    last_stats.plan_reused = reused;
    {
      std::lock_guard<std::mutex> plock(plan_mu);
      last_stats.plans_cached = static_cast<std::int64_t>(plans.size());
    }
    last_plan = plan;
  }
  if (st->error) std::rethrow_exception(st->error);
  if (st->trace) {
    // Lanes: "<device>" (host intervals) and "<device>/stream:compute" (GPU intervals).
    std::map<std::string, std::vector<NodeExecStats>> lanes;
    for (const auto& r : st->trace_records) {
      const Step& step = p.steps[static_cast<std::size_t>(r.step)];
      NodeExecStats ns;
      if (step.kind == StepKind::kCopy) {
        const CopyEdge& e = p.copy_edges[step.copy_edge];
        ns.node_name = "_Copy/" + e.tensor + "/to" + e.dst_device;  // "_Copy/x:0/to/device:GPU:1"
        ns.op = "_Copy";
        ns.timeline_label = ns.node_name + " = _Copy(" + e.tensor + ")";
      } else {
        ns.node_name = step.node->name;
        ns.op = step.node->op;
        ns.timeline_label = timeline_label(*step.node);
      }
      ns.kernel_label = step.kernel_label;
      ns.thread_id = r.thread;
      ns.all_start_micros = t0_epoch_us + micros(r.start - t0);
      ns.all_end_rel_micros = micros(r.end - r.start);
      const std::string device = step.device ? step.device->full_name() : "";
      if (r.gpu_start && r.gpu_end) {
        NodeExecStats gs = ns;
        auto& base = *gpu_base.at(step.device.get());
        gs.all_start_micros =
            t0_epoch_us + static_cast<std::int64_t>(r.gpu_start->elapsed_ms_since(base) * 1000.0);
        gs.all_end_rel_micros =
            static_cast<std::int64_t>(r.gpu_end->elapsed_ms_since(*r.gpu_start) * 1000.0);
        gs.thread_id = 0;
        lanes[device + "/stream:compute"].push_back(std::move(gs));
      }
      lanes[device].push_back(std::move(ns));
    }
    run_metadata->step_stats = StepStats{};
    for (auto& [device, nodes] : lanes) {
      std::sort(nodes.begin(), nodes.end(), [](const NodeExecStats& a, const NodeExecStats& b) {
        return a.all_start_micros < b.all_start_micros;
      });
      run_metadata->step_stats.dev_stats.push_back({device, std::move(nodes)});
    }
  }

  std::vector<Tensor> out;
  out.reserve(fetches.size());
  for (std::size_t k = 0; k < fetches.size(); ++k) {
    const Output& f = fetches[k];
    if (p.dead_possible &&
        st->slot_dead[static_cast<std::size_t>(p.fetch_slots[k])].load() != 0)  // TF's words
      throw InvalidArgumentError(str_cat("Retval[", k, "] does not have value"));
    Tensor t = st->slots[static_cast<std::size_t>(p.fetch_slots[k])];
    if (!t.initialized() && f.node()->op == "VariableV2")
      throw FailedPreconditionError(
          str_cat("Attempting to use uninitialized value ", f.node()->name));
    // NOTE: a fetched value is a snapshot: copy it when it aliases a variable's buffer, which
    // in-place updates (Apply*) would otherwise change under the caller.
    // Nor a constant of the graph (or a folded value), which every later run reads.
    auto aliased = [&] {
      for (const Tensor& c : p.constants)
        if (t.shares_buffer_with(c)) return true;
      std::lock_guard<std::mutex> lock(var_mu);
      for (const auto& [var, value] : variables)
        if (t.shares_buffer_with(value)) return true;
      return false;
    };
    // (Device tensors are copied to the host anyway.)
    out.push_back(t.initialized() && (!t.on_host() || aliased()) ? t.to(devices::host_device())
                                                                 : t);
  }
  return out;
}

// ---------------------------------------------------------------- CUDA graphs
// SessionOptions::use_cuda_graphs; the design is in cuda_graph.h.

namespace {
// A capture that failed or a graph dropped before its first replay; past the limit the plan
// runs ordinarily for good, and RunStats says why.
void note_wasted(GraphState& g, const std::string& why) {
  if (++g.wasted >= cuda_graph::kMaxFailedCaptures) g.disabled = why;
}
}  // namespace

std::shared_ptr<GraphState> Session::Impl::analyze_graphs(const Plan& p) {
  auto g = std::make_shared<GraphState>();
  std::vector<cuda_graph::StepInfo> infos(p.steps.size());
  std::unordered_set<int> feed_slots(p.feed_slots.begin(), p.feed_slots.end());
  std::unordered_set<int> cards;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    auto& info = infos[i];
    info.successors = s.successors;
    info.name = str_cat(s.node->name, " (", s.node->op, ")");
    const bool gpu = s.device->type() == devices::DeviceType::kGPU;
    info.in_graph = gpu;
    info.work = true;
    if (s.kind == StepKind::kNoOp || s.kind == StepKind::kConst || s.kind == StepKind::kVariable ||
        s.kind == StepKind::kGroupMember) {
      info.work = false;
    } else if (s.kind == StepKind::kIsInitialized) {
      info.in_graph = false;  // a host answer about a handle
    } else if (s.kind == StepKind::kAssign) {
    } else if (s.kind == StepKind::kAssignUpdate || s.kind == StepKind::kApply) {
      if (gpu && s.kernel_on_host)
        info.blocker = "no GPU kernel: the update would round-trip through the host";
    } else if (s.kind == StepKind::kKernel) {
      if (gpu) {
        for (std::size_t k = 0; k < s.inputs.size(); ++k)
          if (host_memory_input(s.node->op, k, s.inputs.size()) &&
              (k >= s.host_inputs.size() || !s.host_inputs[k].initialized()))
            info.blocker = str_cat("reads input ", k,
                                   " on the host, and it is computed at run time (not a Const)");
        const DType dt = kernel_dtype(*s.node);
        if ((s.node->op == "RealDiv" || s.node->op == "Div" || s.node->op == "FloorMod" ||
             s.node->op == "FloorDiv") &&
            !s.forwarded && (dt == DType::kInt32 || dt == DType::kInt64))
          info.blocker = "integer division checks its divisor on the host";
        // Its kernel reads the mask back to size the output (a wait on the stream): a capture
        // would always fail (kMaxFailedCaptures wasted runs), so say so at plan time.
        if (s.node->op == "BooleanMask" || s.node->op == "Where")
          info.blocker = "its output's size depends on its input's values (read on the host)";
        if (s.node->op == "DynamicStitch")
          info.blocker =
              "its plan is made from its indices on the host and uploaded from pageable memory";
        if (is_random(s.node->op)) g->random_nodes.push_back(s.node);
      }
    } else if (s.kind == StepKind::kCopy) {
      const CopyEdge& edge = p.copy_edges[s.copy_edge];
      const auto src = manager->find(edge.src_device);
      const bool src_gpu = src && src->type() == devices::DeviceType::kGPU;
      const bool fed = s.inputs[0].slot >= 0 && feed_slots.count(s.inputs[0].slot) != 0;
      if (gpu && fed) {
        // The feed index: the last feed of that slot (a tensor fed twice takes the later value).
        std::size_t k = 0;
        for (std::size_t f = 0; f < p.feed_slots.size(); ++f)
          if (p.feed_slots[f] == s.inputs[0].slot) k = f;
        g->staged_copies.emplace_back(static_cast<int>(i), k);
      } else if (gpu && !src_gpu) {
        info.blocker = str_cat("copies the host value ", edge.tensor, " to ", edge.dst_device);
      } else if (!gpu && src_gpu) {
        info.blocker = str_cat("copies the GPU value ", edge.tensor, " to ", edge.dst_device);
      } else if (!gpu) {
        info.work = false;  // host memory is shared by the logical CPU devices
      }
    } else {
      info.blocker = "a step kind that CUDA-graph capture does not handle";
    }
    if (info.in_graph) {
      cards.insert(s.device->physical_id());
      if (std::find(g->gpus.begin(), g->gpus.end(), s.device) == g->gpus.end())
        g->gpus.push_back(s.device);
      for (const auto& in : s.inputs)
        if (in.variable != nullptr &&
            std::find(g->variables.begin(), g->variables.end(), in.variable) == g->variables.end())
          g->variables.push_back(in.variable);
      if (s.kind == StepKind::kVariable &&
          std::find(g->variables.begin(), g->variables.end(), s.node) == g->variables.end())
        g->variables.push_back(s.node);
    }
  }
  g->eligibility = cuda_graph::analyze(infos);
  if (g->eligibility.eligible && cards.size() > 1) {
    g->eligibility.eligible = false;
    g->eligibility.reason = "GPU steps span physical GPUs (one capture covers one card)";
  }
  if (g->eligibility.eligible && !cuda_graph::built_with_cuda_graphs()) {
    g->eligibility.eligible = false;
    g->eligibility.reason = "this build has no CUDA";
  }
  g->in_graph.resize(infos.size());
  for (std::size_t i = 0; i < infos.size(); ++i) g->in_graph[i] = infos[i].in_graph ? 1 : 0;
  return g;
}

void Session::Impl::stage_feeds(const Plan& p, GraphState& g, GraphEntry& e,
                                const FeedDict& feeds) {
  // A staging that failed part way (an allocation or copy threw) left fewer buffers than
  // copies: start over rather than index past them.
  if (e.staged.size() != g.staged_copies.size()) e.staged.clear();
  const bool fresh = e.staged.empty();
  for (std::size_t i = 0; i < g.staged_copies.size(); ++i) {
    const auto& [copy_step, k] = g.staged_copies[i];
    const Tensor& value = feeds[k].second;
    const auto& device = p.steps[static_cast<std::size_t>(copy_step)].device;
    if (value.dtype() == DType::kString)
      throw InvalidArgumentError(str_cat("Cannot feed a string tensor to ", device->name(),
                                         " for '", feeds[k].first.name(), "'"));
    if (fresh) e.staged.emplace_back(value.dtype(), value.shape(), device);
    Tensor& dst = e.staged[i];
    if (value.on_host())
      device->copy_from_host(dst.raw_data(), value.raw_data(), value.bytes());
    else  // queued on the compute stream; CapturedStep::launch waits for it
      devices::copy_bytes_async(*device, dst.raw_data(), *value.device_ptr(), value.raw_data(),
                                value.bytes());
  }
}

bool Session::Impl::graph_pass(const Plan& p, const FeedDict& feeds, RunState& st,
                               std::string* state, std::int64_t* graph_nodes) {
  GraphState& g = *p.graphs;
  if (!g.eligibility.eligible) {
    *state = "ineligible: " + g.eligibility.reason;
    return false;
  }
  if (!g.disabled.empty()) {
    *state = "ineligible: " + g.disabled;
    return false;
  }
  std::vector<std::int64_t> sig;
  for (const auto& [out, value] : feeds) {
    sig.push_back(static_cast<std::int64_t>(value.dtype()));
    sig.push_back(value.shape().rank());
    for (auto d : value.shape().dims()) sig.push_back(d);
  }
  GraphEntry* e = nullptr;
  for (auto& entry : g.entries)
    if (entry.signature == sig) e = &entry;
  if (e == nullptr) {
    if (g.entries.size() >= cuda_graph::kMaxGraphsPerPlan) {  // drop the least recently used
      auto lru = std::min_element(
          g.entries.begin(), g.entries.end(),
          [](const GraphEntry& a, const GraphEntry& b) { return a.last_used < b.last_used; });
      g.entries.erase(lru);
    }
    g.entries.emplace_back();
    e = &g.entries.back();
    e->signature = std::move(sig);
  }
  e->last_used = ++g.clock;

  if (e->graph) {
    // A replay needs every variable the graph addresses at its captured buffer, held by the
    // session alone (another holder would see the in-place update).
    std::string why;
    {
      std::lock_guard<std::mutex> lock(var_mu);
      for (const auto& [var, data] : e->variables)
        if (why = graph_unusable(var, data); !why.empty()) break;
    }
    if (!why.empty()) {
      if (e->replays == 0) note_wasted(g, str_cat("graphs go stale before a replay: ", why));
      e->drop();
      e->runs = 1;  // the next run of this signature captures again
      *state = "fallback: " + why;
      return false;
    }
    try {
      stage_feeds(p, g, *e, feeds);
      for (std::size_t i = 0; i < e->counters.size(); ++i) {
        RngState* rs;
        {
          std::lock_guard<std::mutex> lock(rng_mu);
          rs = &rng.at(e->counters[i].first);
        }
        std::lock_guard<std::mutex> lock(rs->mu);
        e->graph->set_counter(i, rs->offset);
        rs->offset += e->counters[i].second;
      }
      for (const auto& check : e->checks) check.reset();  // the previous replay has completed
      e->graph->launch();
    } catch (...) {
      e->drop();
      e->runs = 1;
      throw;
    }
    ++e->replays;
    st.replay_checks = &e->checks;
    for (const auto& [k, t] : e->fetches) st.slots[static_cast<std::size_t>(p.fetch_slots[k])] = t;
    for (const auto& [k, var] : e->fetched_variables)
      st.slots[static_cast<std::size_t>(p.fetch_slots[k])] = read_variable(var);
    st.mask = &g.in_graph;
    st.pass = 0;
    *graph_nodes = g.eligibility.graph_work;
    *state = "replayed";
    return true;
  }
  if (e->runs++ == 0) {
    *state = "warmup";
    return false;
  }
  return capture_graph(p, g, *e, feeds, st, state, graph_nodes);
}

bool Session::Impl::capture_graph(const Plan& p, GraphState& g, GraphEntry& e,
                                  const FeedDict& feeds, RunState& st, std::string* state,
                                  std::int64_t* graph_nodes) {
  std::vector<const void*> before;  // the variables' buffers
  {
    std::lock_guard<std::mutex> lock(var_mu);
    for (const Node* var : g.variables) {
      // Uninitialized: the ordinary run reports it. Held elsewhere (a Tensor from
      // variable_value): the step's update would copy on write, a copy on the compute stream
      // that fails the capture; the run is ordinary, as a replay's check makes it. Either
      // way a later run captures.
      if (std::string why = graph_unusable(var, nullptr); !why.empty()) {
        *state = "fallback: " + why;
        return false;
      }
      before.push_back(variables.at(var).raw_data());
    }
  }
  std::vector<std::uint64_t> offsets;  // restored if the capture fails
  for (const Node* n : g.random_nodes) {
    std::lock_guard<std::mutex> lock(rng_mu);
    auto& rs = rng[n];
    std::lock_guard<std::mutex> node_lock(rs.mu);
    offsets.push_back(rs.offset);
  }
  if (g.streams.empty())
    for (const auto& d : g.gpus) g.streams.push_back(d->create_stream());
  std::vector<std::pair<devices::Device*, devices::Stream*>> devs;
  for (std::size_t i = 0; i < g.gpus.size(); ++i)
    devs.emplace_back(g.gpus[i].get(), g.streams[i].get());

  std::string failure;
  auto capture = std::make_unique<cuda_graph::CapturedStep>(devs, g.random_nodes.size());
  stage_feeds(p, g, e, feeds);  // before the capture: this run's values, on the device
  auto gs = std::make_shared<RunState>(p);
  for (std::size_t k = 0; k < feeds.size(); ++k)
    gs->slots[static_cast<std::size_t>(p.feed_slots[k])] = feeds[k].second;
  gs->mask = &g.in_graph;
  gs->pass = 1;
  gs->capture = capture.get();
  gs->staged_copies = &g.staged_copies;
  gs->staged = &e.staged;
  try {
    capture->begin();
    run_pass(gs);
    if (gs->error) std::rethrow_exception(gs->error);
    capture->end();
  } catch (const std::exception& ex) {
    failure = ex.what();
    capture->abort();
  }
  if (!failure.empty()) {
    // The capture's draws are taken back (this run then draws them ordinarily), unless another
    // run drew from the same op meanwhile: rewinding past its range would repeat numbers;
    // skipping the capture's range is harmless.
    const auto advances = std::move(gs->capture_advances);
    gs.reset();       // its blocks are parked by the holds
    capture.reset();  // nothing ran: the holds are released
    for (std::size_t i = 0; i < g.random_nodes.size(); ++i) {
      std::lock_guard<std::mutex> lock(rng_mu);
      auto& rs = rng[g.random_nodes[i]];
      std::lock_guard<std::mutex> node_lock(rs.mu);
      const auto own = advances.find(g.random_nodes[i]);
      if (rs.offset == offsets[i] + (own == advances.end() ? 0 : own->second))
        rs.offset = offsets[i];
    }
    e.drop();
    e.runs = 1;
    note_wasted(g, str_cat("capture failed: ", failure));
    *state = "fallback: capture failed: " + failure;
    SF_LOG_WARN("CUDA graph capture failed; running the step ordinarily: ", failure);
    return false;
  }
  capture->launch();  // this run's step
  st.checks.insert(st.checks.end(), gs->checks.begin(), gs->checks.end());
  std::string changed;
  std::vector<Tensor> var_values;
  {
    std::lock_guard<std::mutex> lock(var_mu);
    for (std::size_t i = 0; i < g.variables.size(); ++i) {
      const Tensor& v = variables[g.variables[i]];
      var_values.push_back(v);
      if (v.raw_data() != before[i] && changed.empty())
        changed = str_cat("variable ", g.variables[i]->name, " changed buffers during the capture");
    }
  }
  *graph_nodes = gs->nodes_executed.load();
  for (std::size_t k = 0; k < p.fetch_slots.size(); ++k) {
    const auto slot = static_cast<std::size_t>(p.fetch_slots[k]);
    // Fed values and host steps' outputs come from the host pass.
    if (!gs->slots[slot].initialized() ||
        std::find(p.feed_slots.begin(), p.feed_slots.end(), p.fetch_slots[k]) != p.feed_slots.end())
      continue;
    st.slots[slot] = gs->slots[slot];
    const Node* var = nullptr;  // a fetched variable (or a view of its buffer)
    for (std::size_t i = 0; i < var_values.size() && var == nullptr; ++i)
      if (var_values[i].shares_buffer_with(gs->slots[slot])) var = g.variables[i];
    if (var != nullptr)
      e.fetched_variables.emplace_back(k, var);
    else
      e.fetches.emplace_back(k, gs->slots[slot]);
  }
  var_values.clear();
  st.mask = &g.in_graph;
  st.pass = 0;
  *state = "captured";
  if (!changed.empty()) {  // launched once, correct for this run; useless for the next
    note_wasted(g, str_cat("graphs go stale before a replay: ", changed));
    e.drop();
    e.runs = 1;
    *state = "captured (dropped: " + changed + ")";
    return true;
  }
  e.graph = std::move(capture);
  e.counters = e.graph->counters();
  e.checks = gs->checks;  // each replay resets and raises them
  for (std::size_t i = 0; i < g.variables.size(); ++i)
    e.variables.emplace_back(g.variables[i], before[i]);
  return true;
}

void Session::Impl::run_pass(const std::shared_ptr<RunState>& st) {
  const Plan& p = st->plan;
  if (p.roots.empty()) return;
  st->outstanding.store(static_cast<int>(p.roots.size()), std::memory_order_relaxed);
  // Expensive roots beyond the first go to the pool; the rest run here. Roots on GPUs go in one
  // group per device: process() keeps a GPU's ready work on the thread that ran its predecessor,
  // so the first GPU's group runs here and each other GPU's group on one pool thread; on one
  // stack, tower 1's variable reads would wait behind tower 0's chain on this thread.
  const bool fan_out = pool->size() > 0 && st->capture == nullptr;  // a capture: one thread
  std::vector<int> here;
  std::vector<std::pair<const devices::Device*, std::vector<int>>> other_gpus;
  const devices::Device* first_gpu = nullptr;
  for (int root : p.roots) {
    const Step& s = p.steps[static_cast<std::size_t>(root)];
    const bool skipped = st->skipped(static_cast<std::size_t>(root));
    if (fan_out && !skipped && s.device && s.device->type() == devices::DeviceType::kGPU) {
      if (first_gpu == nullptr) first_gpu = s.device.get();
      if (s.device.get() != first_gpu) {
        auto g = std::find_if(other_gpus.begin(), other_gpus.end(),
                              [&](const auto& x) { return x.first == s.device.get(); });
        if (g == other_gpus.end()) g = other_gpus.insert(other_gpus.end(), {s.device.get(), {}});
        g->second.push_back(root);
        continue;
      }
    }
    if (s.expensive && !skipped && !here.empty() && fan_out)
      pool->schedule([this, st, root] { process(st, root); });
    else
      here.push_back(root);
  }
  for (auto& [device, roots] : other_gpus) {
    std::reverse(roots.begin(), roots.end());  // the first root runs first
    pool->schedule([this, st, r = std::move(roots)] { process(st, r); });
  }
  // NOTE: the roots go on one stack, not one process() call each: a call runs everything its
  // root makes ready before returning, so tower 1's inputs (a copy of its feed, say) would wait
  // behind tower 0's whole forward pass. On one stack, an expensive step that becomes ready
  // while other roots are pending goes to the pool, and the towers run side by side.
  std::reverse(here.begin(), here.end());  // the first root runs first
  process(st, std::move(here));
  // The caller runs queued steps until its run is done (it is one of the inter-op threads:
  // SessionOptions::inter_op_parallelism_threads counts it), rather than idling while the
  // pool's workers are busy. Not during a capture: that pass runs on this thread alone.
  if (st->capture == nullptr && pool->size() > 0)
    pool->help_until([&] { return st->finished.load(std::memory_order_acquire); });
  std::unique_lock<std::mutex> lock(st->mu);
  st->done_cv.wait(lock, [&] { return st->done; });
}

Tensor Session::run(const Output& fetch, const FeedDict& feeds) {
  return impl_->execute({fetch}, {}, feeds)[0];
}
std::vector<Tensor> Session::run(const std::vector<Output>& fetches, const FeedDict& feeds) {
  return impl_->execute(fetches, {}, feeds);
}
void Session::run(const Operation& target, const FeedDict& feeds) {
  impl_->execute({}, {target}, feeds);
}
std::vector<Tensor> Session::run(const std::vector<Output>& fetches,
                                 const std::vector<Operation>& targets, const FeedDict& feeds) {
  return impl_->execute(fetches, targets, feeds);
}
std::vector<Tensor> Session::run(const std::vector<Output>& fetches,
                                 const std::vector<Operation>& targets, const FeedDict& feeds,
                                 const RunOptions& options, RunMetadata* run_metadata) {
  return impl_->execute(fetches, targets, feeds, &options, run_metadata);
}

}  // namespace scopeflow
