// The Graph: named nodes with TF's op types and unique-naming rules, inputs, control
// inputs, requested devices (device scopes / device functions), attributes, inferred
// output dtypes and shapes, and collections. Operation and Output are cheap handles that
// keep their graph alive.
#pragma once

#include <any>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "devices/base/dtype.h"
#include "devices/base/shape.h"
#include "devices/device_spec.h"
#include "kernels/attr.h"

namespace scopeflow {

class GraphImpl;
class Graph;
class Output;

// What a device function sees of the op being created (TF's NodeDef).
struct NodeDef {
  std::string name;
  std::string op;      // the op type, e.g. "VariableV2"
  std::string device;  // the request so far
  // The node's "dtype" and "shape" attrs when it has them (variables, placeholders): what a
  // load-balancing placement strategy weighs.
  DType dtype = DType::kInvalid;
  Shape shape = Shape::unknown();
};
using DeviceFunction = std::function<std::string(const NodeDef&)>;

struct CondContext;

struct Node {
  int id = 0;
  std::string name;
  std::string op;
  std::vector<std::pair<Node*, int>> inputs;
  std::vector<Node*> control_inputs;
  std::string device;  // requested, after device scopes
  AttrMap attrs;
  std::vector<DType> output_dtypes;
  std::vector<Shape> output_shapes;
  std::string colocate_with;  // name of the node whose device this one takes ("loc:@v")
  // The tf.cond branch the node was created in (nullptr outside any), and TF's
  // prevent_fetching: every op of a branch, its Switches and the cond's own plumbing.
  const CondContext* cond_context = nullptr;
  bool fetchable = true;
  // What graph construction knows output 0 to hold (TF's shape refiner evaluating constant
  // subgraphs): a Const's value; Shape / Size of a fully defined shape, Rank of a known rank;
  // small results (at most
  // 1024 int32 / int64 / float32 / float64 elements) of shape arithmetic over such values
  // (Range, FloorMod, Cast, Pack, DynamicStitch, ...), computed by their CPU kernels. Empty
  // otherwise. Shape functions read it as ShapeContext::input_values.
  std::optional<Tensor> constant;
};

// NOTE: Operation and Output refer to their graph weakly. The graph keeps handles of its own
// (collections, the variable store), so strong references would form cycles that never free
// it. Using a handle whose graph is gone (e.g. after reset_default_graph) is a ValueError.
class Operation {
 public:
  Operation() = default;
  Operation(const std::shared_ptr<GraphImpl>& graph, Node* node) : g_(graph), node_(node) {}
  bool valid() const { return node_ != nullptr; }
  const std::string& name() const;
  // The op type ("Add", "VariableV2").
  const std::string& type() const;
  // The requested device, after merging device scopes ("" when none).
  const std::string& device() const;
  int num_outputs() const;
  Output output(int i = 0) const;
  std::vector<Output> inputs() const;
  std::vector<Operation> control_inputs() const;
  const AttrMap& attrs() const;
  Graph graph() const;
  // The node, unchecked (runtime internals).
  Node* node() const { return node_; }
  // Throws ValueError when the handle is empty or its graph no longer exists.
  void check() const;
  friend bool operator==(const Operation& a, const Operation& b) { return a.node_ == b.node_; }

 private:
  std::weak_ptr<GraphImpl> g_;
  Node* node_ = nullptr;
};

class Output {
 public:
  Output() = default;
  Output(Operation op, int index) : op_(std::move(op)), index_(index) {}
  bool valid() const { return op_.valid(); }
  const Operation& op() const { return op_; }
  int index() const { return index_; }
  // "foo/add:0"
  std::string name() const;
  DType dtype() const;
  Shape shape() const;
  // The requested device of the producing op.
  const std::string& device() const { return op_.device(); }
  Graph graph() const;
  Node* node() const { return op_.node(); }
  friend bool operator==(const Output& a, const Output& b) {
    return a.op_ == b.op_ && a.index_ == b.index_;
  }

 private:
  Operation op_;
  int index_ = 0;
};

// TF1's CondContext: one branch of a tf.cond (sf::cond, scope/ops/control_flow.h) while its
// ops are created (Graph::control_flow_context). An op created inside takes each input from
// outside the branch through a Switch on the cond's predicate (one Switch per tensor and
// branch, named "<op>/Switch", colocated with the tensor), and an op with no inputs takes a
// control input on the branch's pivot, so that the untaken branch's ops receive dead tensors
// and do not run. Contexts live as long as their graph.
struct CondContext {
  Output pred;     // the cond's pred_id
  Output pivot;    // switch_t (true branch) or switch_f
  int branch = 0;  // 1: the true branch
  CondContext* outer = nullptr;
  std::unordered_set<std::string> values;  // tensors the branch sees as its own
  std::unordered_map<std::string, Output> external_values;
};

// One entry of the device-scope stack.
struct DeviceScopeEntry {
  enum class Kind { kSpec, kFunction, kCut };
  Kind kind = Kind::kSpec;
  DeviceSpec spec;
  DeviceFunction fn;
};

class [[nodiscard]] GraphGuard;

class Graph {
 public:
  Graph();
  explicit Graph(std::shared_ptr<GraphImpl> impl) : impl_(std::move(impl)) {}

  // Makes this graph the thread's default until the guard ends.
  [[nodiscard]] GraphGuard as_default();

  // TF's Graph.unique_name: prefixes the name scope; "name", "name_1", ... (case-insensitive).
  std::string unique_name(const std::string& name, bool mark_as_used = true);
  // The current name scope ("" at the root, "a/b" inside).
  const std::string& name_stack() const;
  void set_name_stack(std::string stack);

  // Creates a node. `name` is relative to the name scope unless it ends with '/', in which
  // case it is used as the absolute name (what name_scope yields). Shapes and dtypes come
  // from the op's shape function; ValueError for invalid names or inputs.
  Operation create_op(const std::string& type, const std::vector<Output>& inputs, AttrMap attrs,
                      const std::string& name);

  std::vector<DeviceScopeEntry>& device_stack();
  // One frame per control_dependencies block: its control ops, whether it cleared the
  // outer frames (control_dependencies(nullptr)), and the nodes created inside it.
  struct ControlFrame {
    std::vector<Operation> controls;
    bool reset = false;
    std::vector<Node*> created;
    // A reset frame (control_dependencies(nullptr), TF's init_scope) also leaves any tf.cond
    // branch: the context it left, restored when the frame ends.
    CondContext* saved_context = nullptr;
  };
  std::vector<ControlFrame>& control_frames();
  // Names of ops that newly created ops are colocated with (TF's "_class: loc:@v" scope);
  // the innermost applies.
  std::vector<std::string>& colocation_stack();

  // The tf.cond branch new ops join (nullptr: none). new_cond_context makes one inside the
  // current one (owned by the graph).
  CondContext* control_flow_context() const;
  void set_control_flow_context(CondContext* context);
  CondContext* new_cond_context(Output pred, Output pivot, int branch);
  // TF's CondContext._ProcessOutputTensor: `v` as the branch `ctx` (the current context)
  // returns it; a tensor from outside the branch is switched into it.
  Output cond_branch_result(CondContext* ctx, const Output& v);
  // TF's _SwitchRefOrTensor(data, pred, name): a Switch (RefSwitch for a variable reference)
  // in the current name scope, colocated with `data` and on its device.
  Operation switch_ref_or_tensor(const Output& data, const Output& pred,
                                 const std::string& name = "Switch");
  // TF's prevent_fetching / is_fetchable: Session::run refuses to fetch such an op's outputs
  // or to run it as a target (InaccessibleTensorError).
  void prevent_fetching(const Operation& op);
  bool is_fetchable(const Operation& op) const;

  // Collections (TF's add_to_collection / get_collection) hold any value.
  void add_to_collection(const std::string& key, std::any value);
  const std::vector<std::any>& collection(const std::string& key) const;
  std::vector<std::string> collection_keys() const;

  Operation operation_by_name(const std::string& name) const;  // NotFoundError if absent
  std::optional<Operation> find_operation(const std::string& name) const;
  std::vector<Operation> operations() const;
  int num_nodes() const;

  // Graph-level random seed (sf::set_random_seed) and TF's seed rules.
  std::optional<std::int64_t> seed() const;
  void set_seed(std::optional<std::int64_t> seed);
  // TF's random_seed.get_seed: (seed, seed2) for an op that asked for `op_seed`.
  std::pair<std::int64_t, std::int64_t> get_seed(std::optional<std::int64_t> op_seed);

  // Per-graph state of upper layers (the variable-scope store, the variable store).
  std::shared_ptr<void>& extension(const std::string& key);

  const std::shared_ptr<GraphImpl>& impl() const { return impl_; }
  friend bool operator==(const Graph& a, const Graph& b) { return a.impl_ == b.impl_; }

 private:
  void add_to_cond_context(CondContext* ctx, Node* n);
  Output add_cond_value(CondContext* ctx, const Output& val, const std::string& scope);
  std::shared_ptr<GraphImpl> impl_;
};

class [[nodiscard]] GraphGuard {
 public:
  [[nodiscard]] explicit GraphGuard(Graph g);
  ~GraphGuard();
  GraphGuard(const GraphGuard&) = delete;
  GraphGuard& operator=(const GraphGuard&) = delete;

 private:
  Graph graph_;
};

// The thread's default graph: the innermost as_default() graph, else the process-wide one.
Graph get_default_graph();
// Replaces the process-wide default graph with a new, empty one. ValueError inside an
// as_default() block (as TF's "Do not use tf.reset_default_graph() to clear nested graphs").
void reset_default_graph();

// Whether node n's outputs are TF1 reference tensors (a variable, or an op that passes one on:
// Assign*, Apply*, RefSwitch, RefMerge): a cond switches them with RefSwitch, merges them
// with RefMerge.
bool is_ref_output(const Node* n);

// Regexes of TF's op and scope names.
bool is_valid_op_name(std::string_view name);
bool is_valid_scope_name(std::string_view name);

}  // namespace scopeflow
