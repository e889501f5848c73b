// Graph, Operation, Output and the default graph. See graph.h.
#include "runtime/graph.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <mutex>
#include <random>
#include <unordered_set>

#include "devices/base/errors.h"
#include "devices/device.h"
#include "kernels/kernel.h"
#include "runtime/op_registry.h"

namespace scopeflow {

class GraphImpl {
 public:
  std::deque<std::unique_ptr<Node>> nodes;
  std::unordered_map<std::string, Node*> by_name;
  std::unordered_map<std::string, int> names_in_use;  // lower-cased keys
  std::string name_stack;
  std::vector<DeviceScopeEntry> device_stack;
  std::vector<Graph::ControlFrame> control_frames;
  std::vector<std::string> colocation_stack;
  std::map<std::string, std::vector<std::any>> collections;
  std::optional<std::int64_t> seed;
  std::map<std::string, std::shared_ptr<void>> extensions;
  CondContext* cond_context = nullptr;  // the tf.cond branch new ops join
  std::deque<std::unique_ptr<CondContext>> cond_contexts;
};

namespace {

// Whether context c is `ctx` or inside it.
bool within(const CondContext* c, const CondContext* ctx) {
  for (; c != nullptr; c = c->outer)
    if (c == ctx) return true;
  return false;
}

// TF's constant_value_as_shape: what an int vector (node n's output i) holds as a shape, as far
// as the graph tells: a Shape op's input's static shape, a Const's values (negative: unknown),
// a ConcatV2 along axis 0 of such parts; unknown otherwise.
Shape value_as_shape(const Node* n, int i, int depth) {
  if (i != 0 || depth > 16) return Shape::unknown();
  if (n->op == "Shape")
    return n->inputs[0].first->output_shapes.at(static_cast<std::size_t>(n->inputs[0].second));
  if (n->constant) {
    const Tensor& v = *n->constant;
    if (v.shape().rank() != 1) return Shape::unknown();
    std::vector<std::int64_t> dims;
    if (v.dtype() == DType::kInt32)
      for (auto d : v.to_vector<std::int32_t>()) dims.push_back(d < 0 ? -1 : d);
    else if (v.dtype() == DType::kInt64)
      for (auto d : v.to_vector<std::int64_t>()) dims.push_back(d < 0 ? -1 : d);
    else
      return Shape::unknown();
    return Shape(dims);
  }
  // GatherV2 along axis 0 of such a vector at Const indices (tensordot's free dimensions).
  if (n->op == "GatherV2" && n->inputs.size() == 3) {
    const Node* indices = n->inputs[1].first;
    const Node* axis = n->inputs[2].first;
    if (indices->op != "Const" || axis->op != "Const") return Shape::unknown();
    const Tensor& a = axis->attrs.get<Tensor>("value");
    if (a.num_elements() != 1 ||
        (a.dtype() == DType::kInt32 ? a.scalar<std::int32_t>() : a.scalar<std::int64_t>()) != 0)
      return Shape::unknown();
    const Shape from = value_as_shape(n->inputs[0].first, n->inputs[0].second, depth + 1);
    const Shape at = value_as_shape(indices, 0, depth + 1);
    if (!from.has_rank() || !at.is_fully_defined()) return Shape::unknown();
    std::vector<std::int64_t> dims;
    for (auto k : at.dims()) {
      if (k >= from.rank()) return Shape::unknown();
      dims.push_back(from.dims()[static_cast<std::size_t>(k)]);
    }
    return Shape(dims);
  }
  // InvertPermutation of a known permutation (TF's shape refiner evaluates it: tensordot's
  // transpose gradient keeps its static shape).
  if (n->op == "InvertPermutation" && n->inputs.size() == 1) {
    const Shape p = value_as_shape(n->inputs[0].first, n->inputs[0].second, depth + 1);
    if (!p.is_fully_defined()) return Shape::unknown();
    const auto k = static_cast<std::int64_t>(p.rank());
    std::vector<std::int64_t> inverse(static_cast<std::size_t>(k), -1);
    for (std::int64_t i = 0; i < k; ++i) {
      const std::int64_t d = p.dims()[static_cast<std::size_t>(i)];
      if (d >= k || inverse[static_cast<std::size_t>(d)] != -1) return Shape::unknown();
      inverse[static_cast<std::size_t>(d)] = i;
    }
    return Shape(inverse);
  }
  if (n->op == "ConcatV2" && n->inputs.size() >= 2) {
    const Node* axis = n->inputs.back().first;
    if (axis->op != "Const" || axis->attrs.get<Tensor>("value").num_elements() != 1)
      return Shape::unknown();
    const Tensor& a = axis->attrs.get<Tensor>("value");
    const std::int64_t ax =
        a.dtype() == DType::kInt32 ? a.scalar<std::int32_t>() : a.scalar<std::int64_t>();
    if (ax != 0 && ax != -1) return Shape::unknown();
    std::vector<std::int64_t> dims;
    for (std::size_t k = 0; k + 1 < n->inputs.size(); ++k) {
      const Shape part = value_as_shape(n->inputs[k].first, n->inputs[k].second, depth + 1);
      if (!part.has_rank()) return Shape::unknown();
      dims.insert(dims.end(), part.dims().begin(), part.dims().end());
    }
    return Shape(dims);
  }
  return Shape::unknown();
}

// The ops whose small results graph construction computes from known inputs (TF's
// EvaluateConstantTensor runs the kernels of a constant subgraph): shape arithmetic.
bool evaluable_op(const std::string& op) {
  static const std::unordered_set<std::string> ops = {
      "AddV2",      "Add",      "Sub",      "Mul",           "FloorMod",  "FloorDiv",
      "Maximum",    "Minimum",  "Range",    "Pack",          "Transpose", "Reshape",
      "ConcatV2",   "GatherV2", "Cast",     "DynamicStitch", "Prod",      "InvertPermutation",
      "ExpandDims", "Squeeze",  "Identity", "Fill"};
  return ops.count(op) != 0;
}

// Node n's Node::constant, computed once its output dtypes and shapes are known.
std::optional<Tensor> evaluate_constant_or_throw(const Node& n) {
  if (n.op == "Const") return n.attrs.get<Tensor>("value");
  if (n.output_dtypes.size() != 1) return std::nullopt;
  const DType t = n.output_dtypes[0];
  if (t != DType::kInt32 && t != DType::kInt64 && t != DType::kFloat32 && t != DType::kFloat64)
    return std::nullopt;
  if (n.op == "Rank" && n.inputs.size() == 1) {
    const auto& [src, i] = n.inputs[0];
    const Shape& s = src->output_shapes.at(static_cast<std::size_t>(i));
    if (!s.has_rank()) return std::nullopt;
    return Tensor::from_scalar(static_cast<std::int32_t>(s.rank()));
  }
  if ((n.op == "Shape" || n.op == "Size") && n.inputs.size() == 1) {
    const auto& [src, i] = n.inputs[0];
    const Shape& s = src->output_shapes.at(static_cast<std::size_t>(i));
    if (!s.is_fully_defined()) return std::nullopt;
    const std::vector<std::int64_t> v =
        n.op == "Shape" ? s.dims() : std::vector<std::int64_t>{s.num_elements()};
    if (t == DType::kInt64) return Tensor::from_vector<std::int64_t>(v, n.output_shapes[0]);
    std::vector<std::int32_t> v32;
    for (auto d : v) {
      if (d > std::numeric_limits<std::int32_t>::max()) return std::nullopt;  // the kernel raises
      v32.push_back(static_cast<std::int32_t>(d));
    }
    return Tensor::from_vector<std::int32_t>(v32, n.output_shapes[0]);
  }
  if (!evaluable_op(n.op) || n.inputs.empty()) return std::nullopt;
  const Shape& shape = n.output_shapes[0];
  if (!shape.is_fully_defined() || shape.num_elements() > 1024) return std::nullopt;
  const auto& registry = kernels::kernel_registry();
  if (!registry.contains(n.op, devices::DeviceType::kCPU, t)) return std::nullopt;
  kernels::KernelContext c;
  c.device_ptr = devices::host_device();
  c.device = c.device_ptr.get();
  c.attrs = &n.attrs;
  c.node_name = n.name;
  for (const auto& [src, i] : n.inputs) {
    if (i != 0 || !src->constant) return std::nullopt;
    c.inputs.push_back(*src->constant);
  }
  registry.find(n.op, devices::DeviceType::kCPU, t)(c);
  if (!c.deferred_checks.empty() || c.outputs.size() != 1 || !c.outputs[0].initialized() ||
      c.outputs[0].dtype() != t || !(c.outputs[0].shape() == shape))
    return std::nullopt;
  return std::move(c.outputs[0]);
}
// Best effort: what cannot be evaluated (a kernel's error, a shape too large to count) is
// left to the run, which raises it naming the op.
std::optional<Tensor> evaluate_constant(const Node& n) {
  try {
    return evaluate_constant_or_throw(n);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::mutex& default_mu() {
  static std::mutex mu;
  return mu;
}
Graph& global_default() {
  static Graph g;
  return g;
}
thread_local std::vector<Graph> tl_graph_stack;

}  // namespace

namespace {
// [A-Za-z0-9_.\-/]
bool is_scope_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '/' || c == '>';
}
}  // namespace

// ^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$ (TF's _VALID_OP_NAME_REGEX, with the '>' of TF 2's
// tf.compat.v1, which the golden cases come from), hand-matched: std::regex would dominate
// graph-construction time.
bool is_valid_op_name(std::string_view name) {
  if (name.empty() || name[0] == '_' || name[0] == '-' || name[0] == '/' || name[0] == '>')
    return false;
  for (char c : name)
    if (!is_scope_char(c)) return false;
  return true;
}

// ^[A-Za-z0-9_.\-/>]*$ (TF's _VALID_SCOPE_NAME_REGEX).
bool is_valid_scope_name(std::string_view name) {
  for (char c : name)
    if (!is_scope_char(c)) return false;
  return true;
}

// ---------------------------------------------------------------- Operation / Output
void Operation::check() const {
  if (node_ == nullptr) throw ValueError("Operation handle is empty");
  if (g_.expired())
    throw ValueError(
        "The graph of this Operation/Output no longer exists (was the default graph reset?)");
}
const std::string& Operation::name() const {
  check();
  return node_->name;
}
const std::string& Operation::type() const {
  check();
  return node_->op;
}
const std::string& Operation::device() const {
  check();
  return node_->device;
}
int Operation::num_outputs() const {
  check();
  return static_cast<int>(node_->output_dtypes.size());
}
Output Operation::output(int i) const {
  check();
  if (i < 0 || i >= num_outputs())
    throw ValueError(str_cat("Operation '", node_->name, "' (", node_->op, ") has ", num_outputs(),
                             " outputs; output ", i, " does not exist"));
  return Output(*this, i);
}
std::vector<Output> Operation::inputs() const {
  check();
  std::vector<Output> out;
  auto g = g_.lock();
  for (auto& [n, i] : node_->inputs) out.emplace_back(Operation(g, n), i);
  return out;
}
std::vector<Operation> Operation::control_inputs() const {
  check();
  std::vector<Operation> out;
  auto g = g_.lock();
  for (Node* n : node_->control_inputs) out.emplace_back(g, n);
  return out;
}
const AttrMap& Operation::attrs() const {
  check();
  return node_->attrs;
}
Graph Operation::graph() const {
  check();
  return Graph(g_.lock());
}

std::string Output::name() const { return str_cat(op_.name(), ":", index_); }
DType Output::dtype() const {
  op_.check();
  return op_.node()->output_dtypes.at(static_cast<std::size_t>(index_));
}
Shape Output::shape() const {
  op_.check();
  return op_.node()->output_shapes.at(static_cast<std::size_t>(index_));
}
Graph Output::graph() const { return op_.graph(); }

// ---------------------------------------------------------------- Graph
Graph::Graph() : impl_(std::make_shared<GraphImpl>()) {}

GraphGuard Graph::as_default() { return GraphGuard(*this); }

GraphGuard::GraphGuard(Graph g) : graph_(std::move(g)) { tl_graph_stack.push_back(graph_); }
GraphGuard::~GraphGuard() {
  if (!tl_graph_stack.empty()) tl_graph_stack.pop_back();
}

Graph get_default_graph() {
  if (!tl_graph_stack.empty()) return tl_graph_stack.back();
  std::lock_guard<std::mutex> lock(default_mu());
  return global_default();
}

void reset_default_graph() {
  if (!tl_graph_stack.empty())
    throw ValueError(
        "Do not use reset_default_graph() to clear nested graphs. If you need a cleared graph, "
        "exit the nesting and create a new graph.");
  std::lock_guard<std::mutex> lock(default_mu());
  global_default() = Graph();
}

std::string Graph::unique_name(const std::string& name_in, bool mark_as_used) {
  std::string name = impl_->name_stack.empty() ? name_in : impl_->name_stack + "/" + name_in;
  std::string name_key = lower(name);
  auto& in_use = impl_->names_in_use;
  int i = 0;
  if (auto it = in_use.find(name_key); it != in_use.end()) i = it->second;
  if (mark_as_used) in_use[name_key] = i + 1;
  if (i > 0) {
    const std::string base_key = name_key;
    while (in_use.count(name_key)) {
      name_key = str_cat(base_key, "_", i);
      ++i;
    }
    if (mark_as_used) in_use[name_key] = 1;
    name = str_cat(name, "_", i - 1);
  }
  return name;
}

const std::string& Graph::name_stack() const { return impl_->name_stack; }
void Graph::set_name_stack(std::string stack) { impl_->name_stack = std::move(stack); }
std::vector<DeviceScopeEntry>& Graph::device_stack() { return impl_->device_stack; }
std::vector<Graph::ControlFrame>& Graph::control_frames() { return impl_->control_frames; }
std::vector<std::string>& Graph::colocation_stack() { return impl_->colocation_stack; }

Operation Graph::create_op(const std::string& type, const std::vector<Output>& inputs,
                           AttrMap attrs, const std::string& name) {
  const OpDef* def = op_registry().find(type);
  if (def == nullptr) throw ValueError(str_cat("Op type not registered '", type, "'"));
  const int n_in = static_cast<int>(inputs.size());
  if (n_in < def->min_inputs || (def->max_inputs >= 0 && n_in > def->max_inputs))
    throw ValueError(str_cat(type, " takes ", def->min_inputs,
                             def->max_inputs == def->min_inputs ? std::string()
                             : def->max_inputs < 0              ? std::string(" or more")
                                                                : str_cat(" to ", def->max_inputs),
                             " inputs, got ", n_in));
  for (const auto& in : inputs) {
    if (!in.valid()) throw ValueError(str_cat(type, ": an input is an empty Output"));
    if (in.graph().impl() != impl_)
      throw ValueError(
          str_cat("Tensor ", in.name(), " must be from the same graph as the new ", type, " op"));
  }
  std::string full = name.empty() ? type : name;
  if (full.back() == '/')
    full.pop_back();
  else
    full = unique_name(full);
  if (!is_valid_op_name(full)) throw ValueError(str_cat("'", full, "' is not a valid node name"));
  if (impl_->by_name.count(full))
    throw ValueError(str_cat("Duplicate node name in graph: '", full, "'"));

  auto node = std::make_unique<Node>();
  node->id = static_cast<int>(impl_->nodes.size());
  node->name = full;
  node->op = type;
  node->attrs = std::move(attrs);
  for (const auto& in : inputs) node->inputs.emplace_back(in.node(), in.index());

  // Shape inference.
  ShapeContext sc;
  sc.node_name = full;
  sc.attrs = &node->attrs;
  for (const auto& in : inputs) {
    sc.input_dtypes.push_back(in.dtype());
    sc.input_shapes.push_back(in.shape());
    const Node* p = in.node();
    sc.input_values.push_back(p->constant && in.index() == 0 ? &*p->constant : nullptr);
    sc.input_value_shapes.push_back(p->op == "Const" ? Shape::unknown()
                                                     : value_as_shape(p, in.index(), 0));
  }
  def->shape(sc);
  node->output_dtypes = std::move(sc.output_dtypes);
  node->output_shapes = std::move(sc.output_shapes);
  // Not computed inside a tf.cond branch (but a Const's value): the op's inputs become Switch
  // outputs once it is added.
  if (impl_->cond_context == nullptr || node->op == "Const")
    node->constant = evaluate_constant(*node);

  // Control dependencies of the enclosing control_dependencies blocks, innermost last.
  auto& frames = impl_->control_frames;
  std::size_t first = 0;
  for (std::size_t f = frames.size(); f-- > 0;)
    if (frames[f].reset) {
      first = f;
      break;
    }
  for (std::size_t f = first; f < frames.size(); ++f) {
    bool dominated = false;
    for (const auto& in : inputs)
      dominated = dominated || std::find(frames[f].created.begin(), frames[f].created.end(),
                                         in.node()) != frames[f].created.end();
    if (dominated) continue;
    for (const auto& c : frames[f].controls) {
      bool is_input = false;
      for (const auto& in : inputs) is_input = is_input || in.node() == c.node();
      if (!is_input && std::find(node->control_inputs.begin(), node->control_inputs.end(),
                                 c.node()) == node->control_inputs.end())
        node->control_inputs.push_back(c.node());
    }
  }
  // Seen only by the frames from the last reset on (TF's control_dependencies(None) starts a
  // new controller stack): an op made inside it (a variable's read, say) does not satisfy an
  // outer block's dependencies for the ops built from it later.
  for (std::size_t f = first; f < frames.size(); ++f) frames[f].created.push_back(node.get());

  // Device scopes, newest first: strings fill unset fields, functions answer raw, a cut stops.
  NodeDef def_view{node->name, node->op, "", node->attrs.get_or<DType>("dtype", DType::kInvalid),
                   node->attrs.get_or<Shape>("shape", Shape::unknown())};
  for (auto it = impl_->device_stack.rbegin(); it != impl_->device_stack.rend(); ++it) {
    if (it->kind == DeviceScopeEntry::Kind::kCut) break;
    if (it->kind == DeviceScopeEntry::Kind::kFunction) {
      def_view.device = it->fn ? it->fn(def_view) : def_view.device;
    } else {
      def_view.device = merge_device(it->spec, def_view.device);
    }
  }
  node->device = def_view.device;
  if (!impl_->colocation_stack.empty()) node->colocate_with = impl_->colocation_stack.back();

  Node* raw = node.get();
  impl_->by_name[full] = raw;
  impl_->nodes.push_back(std::move(node));
  if (CondContext* ctx = impl_->cond_context) add_to_cond_context(ctx, raw);
  return Operation(impl_, raw);
}

// TF's CondContext._AddOpInternal, after the op is in the graph (so it precedes its Switches,
// as in TF): inputs from outside the branch go through Switches (AddValue), an op without
// inputs waits for the pivot unless a control input is already inside the branch, and the
// op's outputs become the branch's own.
void Graph::add_to_cond_context(CondContext* ctx, Node* n) {
  if (n->inputs.empty()) {
    const bool inside = std::any_of(n->control_inputs.begin(), n->control_inputs.end(),
                                    [&](const Node* c) { return within(c->cond_context, ctx); });
    if (!inside) n->control_inputs.push_back(ctx->pivot.node());
  } else {
    for (auto& in : n->inputs) {
      const Output x(Operation(impl_, in.first), in.second);
      const Output real = add_cond_value(ctx, x, n->name);
      in = {real.node(), real.index()};
    }
  }
  n->cond_context = ctx;
  n->fetchable = false;
  for (std::size_t i = 0; i < n->output_dtypes.size(); ++i)
    for (CondContext* c = ctx; c != nullptr; c = c->outer)
      c->values.insert(str_cat(n->name, ":", i));
}

// TF's CondContext.AddValue: `val` as the branch sees it. A tensor from outside is switched on
// the predicate (through the outer branches first), once per branch; the Switch is created
// outside any control_dependencies block and colocated with the tensor, in the name scope of
// the op that needs it ("cond/mul/Switch").
Output Graph::add_cond_value(CondContext* ctx, const Output& val, const std::string& scope) {
  const std::string name = val.name();
  if (ctx->values.count(name)) {
    auto it = ctx->external_values.find(name);
    return it == ctx->external_values.end() ? val : it->second;
  }
  Output result = val;
  ctx->values.insert(name);
  if (ctx->outer != nullptr) {
    result = add_cond_value(ctx->outer, val, scope);
    ctx->values.insert(result.name());
    ctx->external_values[result.name()] = result;
  }
  {
    // control_dependencies(None) (which also leaves the branch), then the Switch in the name
    // scope of the op that needs it.
    ControlFrame reset;
    reset.reset = true;
    impl_->control_frames.push_back(std::move(reset));
    CondContext* saved = impl_->cond_context;
    impl_->cond_context = nullptr;
    const std::string old_stack = impl_->name_stack;
    impl_->name_stack = scope;
    try {
      result = switch_ref_or_tensor(result, ctx->pred).output(ctx->branch);
    } catch (...) {
      impl_->name_stack = old_stack;
      impl_->cond_context = saved;
      impl_->control_frames.pop_back();
      throw;
    }
    impl_->name_stack = old_stack;
    impl_->cond_context = saved;
    impl_->control_frames.pop_back();
  }
  Node* sw = result.node();
  sw->cond_context = ctx;
  sw->fetchable = false;
  for (CondContext* c = ctx; c != nullptr; c = c->outer) c->values.insert(result.name());
  ctx->external_values[name] = result;
  return result;
}

// TF's _SwitchRefOrTensor: Switch (RefSwitch for a reference) named "Switch" in the current
// name scope, colocated with the data (ignoring enclosing colocations; its device is the
// data's, whatever device scopes enclose it).
Operation Graph::switch_ref_or_tensor(const Output& data, const Output& pred,
                                      const std::string& name) {
  impl_->colocation_stack.push_back(data.op().name());
  impl_->device_stack.push_back({DeviceScopeEntry::Kind::kCut, {}, {}});
  Operation sw;
  try {
    AttrMap attrs;
    attrs.set("T", data.dtype());
    sw = create_op(is_ref_output(data.node()) ? "RefSwitch" : "Switch", {data, pred},
                   std::move(attrs), name);
  } catch (...) {
    impl_->device_stack.pop_back();
    impl_->colocation_stack.pop_back();
    throw;
  }
  impl_->device_stack.pop_back();
  impl_->colocation_stack.pop_back();
  sw.node()->device = data.op().device();
  return sw;
}

Output Graph::cond_branch_result(CondContext* ctx, const Output& v) {
  const std::string name = v.name();
  if (ctx->values.count(name)) {  // made in the branch, or already switched into it
    auto it = ctx->external_values.find(name);
    return it == ctx->external_values.end() ? v : it->second;
  }
  ctx->values.insert(name);
  Output real = v;
  if (ctx->outer != nullptr) {
    real = add_cond_value(ctx->outer, v, impl_->name_stack);
    ctx->values.insert(real.name());
    ctx->external_values[real.name()] = real;
  }
  real = switch_ref_or_tensor(real, ctx->pred).output(ctx->branch);
  ctx->external_values[name] = real;
  return real;
}

bool is_ref_output(const Node* n) {
  const std::string& op = n->op;
  return op == "VariableV2" || op == "Assign" || op == "AssignAdd" || op == "AssignSub" ||
         op == "RefSwitch" || op == "RefMerge" || op.rfind("Apply", 0) == 0 ||
         op.rfind("_SparseApply", 0) == 0;
}

CondContext* Graph::control_flow_context() const { return impl_->cond_context; }
void Graph::set_control_flow_context(CondContext* context) { impl_->cond_context = context; }

CondContext* Graph::new_cond_context(Output pred, Output pivot, int branch) {
  auto c = std::make_unique<CondContext>();
  c->pred = std::move(pred);
  c->pivot = std::move(pivot);
  c->branch = branch;
  c->outer = impl_->cond_context;
  c->values.insert(c->pred.name());
  c->external_values[c->pred.name()] = c->pred;
  c->values.insert(c->pivot.name());
  c->pivot.node()->cond_context = c.get();
  impl_->cond_contexts.push_back(std::move(c));
  return impl_->cond_contexts.back().get();
}

void Graph::prevent_fetching(const Operation& op) {
  op.check();
  op.node()->fetchable = false;
}

bool Graph::is_fetchable(const Operation& op) const {
  op.check();
  return op.node()->fetchable;
}

void Graph::add_to_collection(const std::string& key, std::any value) {
  impl_->collections[key].push_back(std::move(value));
}

const std::vector<std::any>& Graph::collection(const std::string& key) const {
  static const std::vector<std::any> empty;
  auto it = impl_->collections.find(key);
  return it == impl_->collections.end() ? empty : it->second;
}

std::vector<std::string> Graph::collection_keys() const {
  std::vector<std::string> keys;
  for (const auto& [k, v] : impl_->collections) keys.push_back(k);
  return keys;
}

Operation Graph::operation_by_name(const std::string& name) const {
  auto op = find_operation(name);
  if (!op)
    throw NotFoundError(str_cat("The name '", name, "' refers to an Operation not in the graph"));
  return *op;
}

std::optional<Operation> Graph::find_operation(const std::string& name) const {
  auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) return std::nullopt;
  return Operation(impl_, it->second);
}

std::vector<Operation> Graph::operations() const {
  std::vector<Operation> out;
  for (const auto& n : impl_->nodes) out.emplace_back(impl_, n.get());
  return out;
}

int Graph::num_nodes() const { return static_cast<int>(impl_->nodes.size()); }

std::optional<std::int64_t> Graph::seed() const { return impl_->seed; }
void Graph::set_seed(std::optional<std::int64_t> seed) { impl_->seed = seed; }

std::pair<std::int64_t, std::int64_t> Graph::get_seed(std::optional<std::int64_t> op_seed) {
  constexpr std::int64_t kDefaultGraphSeed = 87654321;
  std::int64_t seed = 0, seed2 = 0;
  if (impl_->seed) {
    seed = *impl_->seed;
    seed2 = op_seed ? *op_seed : static_cast<std::int64_t>(impl_->nodes.size());  // TF: _last_id
  } else if (op_seed) {
    seed = kDefaultGraphSeed;
    seed2 = *op_seed;
  } else {
    return {0, 0};  // unseeded: the session draws a random key
  }
  // NOTE: TF maps (0, 0) to (0, INT32_MAX) so that seed 0 still means "seeded".
  if (seed == 0 && seed2 == 0) seed2 = 0x7fffffff;
  return {seed, seed2};
}

std::shared_ptr<void>& Graph::extension(const std::string& key) { return impl_->extensions[key]; }

}  // namespace scopeflow
