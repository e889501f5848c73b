// gradients(). See gradients.h; the walk follows TF's gradients_util.py.
#include "runtime/gradients.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "devices/base/errors.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace grad_util {

Output op(Graph& g, const std::string& type, const std::vector<Output>& inputs, AttrMap attrs,
          const std::string& name) {
  return g.create_op(type, inputs, std::move(attrs), name.empty() ? type : name).output(0);
}

Output const_ints(Graph& g, const std::vector<std::int64_t>& v, const std::string& name) {
  // int64 when a value does not fit int32 (as TF converts a Python list of such dimensions):
  // a cast would wrap a dimension of 2^31 or more.
  if (std::any_of(v.begin(), v.end(), [](std::int64_t x) {
        return x < std::numeric_limits<std::int32_t>::min() ||
               x > std::numeric_limits<std::int32_t>::max();
      })) {
    AttrMap a;
    a.set("value",
          Tensor::from_vector<std::int64_t>(v, Shape{static_cast<std::int64_t>(v.size())}));
    a.set("dtype", DType::kInt64);
    return g.create_op("Const", {}, std::move(a), name).output(0);
  }
  std::vector<std::int32_t> i32(v.begin(), v.end());
  AttrMap a;
  a.set("value",
        Tensor::from_vector<std::int32_t>(i32, Shape{static_cast<std::int64_t>(i32.size())}));
  a.set("dtype", DType::kInt32);
  return g.create_op("Const", {}, std::move(a), name).output(0);
}

Output cast_to(Graph& g, const Output& x, DType dst, const std::string& name) {
  AttrMap a;
  a.set("SrcT", x.dtype());
  a.set("DstT", dst);
  a.set("Truncate", false);
  return op(g, "Cast", {x}, std::move(a), name);
}

Output scalar(Graph& g, double value, DType dtype, const std::string& name) {
  AttrMap a;
  if (dtype == DType::kFloat32)
    a.set("value", Tensor::from_scalar(static_cast<float>(value)));
  else if (dtype == DType::kFloat64)
    a.set("value", Tensor::from_scalar(value));
  else if (dtype == DType::kInt32)
    a.set("value", Tensor::from_scalar(static_cast<std::int32_t>(value)));
  else if (dtype == DType::kInt64)
    a.set("value", Tensor::from_scalar(static_cast<std::int64_t>(value)));
  else if (value == 0.0 && (dtype == DType::kFloat16 || dtype == DType::kBFloat16)) {
    Tensor zero(dtype, Shape{});  // +0 is all-zero bits
    std::memset(zero.raw_data(), 0, zero.bytes());
    a.set("value", zero);
  } else
    throw ValueError(str_cat("gradients: unsupported dtype ", dtype_name(dtype)));
  a.set("dtype", dtype);
  return g.create_op("Const", {}, std::move(a), name).output(0);
}

Output shape_of(Graph& g, const Output& t, const std::string& name) {
  const Shape s = t.shape();
  if (s.is_fully_defined()) return const_ints(g, s.dims(), name);
  AttrMap a;
  a.set("out_type", DType::kInt32);
  return op(g, "Shape", {t}, std::move(a), name);
}

bool is_zeros_tensor(const Output& t) {
  if (!t.valid()) return false;
  const Node* n = t.node();
  if (n->op == "ZerosLike") return true;
  const auto all_zero = [](const Tensor& v) {
    if (v.dtype() == DType::kFloat32) {
      for (float x : v.to_vector<float>())
        if (x != 0.0f) return false;
      return true;
    }
    if (v.dtype() == DType::kFloat64) {
      for (double x : v.to_vector<double>())
        if (x != 0.0) return false;
      return true;
    }
    return false;
  };
  if (n->op == "Const") return all_zero(n->attrs.get<Tensor>("value"));
  if (n->op == "Fill" && n->inputs.size() == 2 && n->inputs[1].first->op == "Const")
    return all_zero(n->inputs[1].first->attrs.get<Tensor>("value"));
  return false;
}

// TF's Tensor.set_shape(shape) with a compatible `shape`: t's static shape merged with it.
void refine_static_shape(const Output& t, const Shape& shape) {
  Shape& mine = t.node()->output_shapes.at(static_cast<std::size_t>(t.index()));
  if (!shape.has_rank() || mine.is_fully_defined()) return;
  if (!mine.has_rank()) {
    mine = shape;
    return;
  }
  auto dims = mine.dims();
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0) dims[i] = shape.dims()[i];
  mine = Shape(dims);
}

namespace {

// The axes of `grad` (the broadcast shape) to sum for x, when the static shapes decide them;
// nullopt when a run-time shape must (x's dimension unknown where it may be 1 while grad's is
// not). `reshape`: whether the sum must be reshaped to x's shape (a size-1 axis of x summed).
std::optional<std::vector<std::int64_t>> static_reduction_axes(const Shape& gs, const Shape& xs,
                                                               const Output& other, bool* reshape) {
  if (!gs.has_rank() || !xs.has_rank() || xs.rank() > gs.rank()) return std::nullopt;
  const Shape os = other.valid() ? other.shape() : Shape::unknown();
  const int rg = gs.rank(), rx = xs.rank();
  std::vector<std::int64_t> axes;
  *reshape = false;
  for (int i = 0; i < rg; ++i) {
    const int j = i - (rg - rx);
    if (j < 0) {
      axes.push_back(i);
      continue;
    }
    const std::int64_t xd = xs.dims()[static_cast<std::size_t>(j)];
    const std::int64_t gd = gs.dims()[static_cast<std::size_t>(i)];
    if (xd == 1) {
      if (gd != 1) {  // an unknown grad dimension summed too: a sum over one element is itself
        axes.push_back(i);
        *reshape = true;
      }
      continue;
    }
    if (xd >= 0 || gd == 1) continue;  // x's dimension is grad's
    // x's dimension is unknown: grad's equals it unless the other operand stretched a 1.
    if (!os.has_rank() || os.rank() > rg) return std::nullopt;
    const int k = i - (rg - os.rank());
    if (k >= 0 && os.dims()[static_cast<std::size_t>(k)] != 1) return std::nullopt;
  }
  return axes;
}

}  // namespace

Output reduce_to_shape(Graph& g, const Output& grad, const Output& x, const Output& other) {
  const Shape gs = grad.shape(), xs = x.shape();
  if (gs == xs && gs.is_fully_defined()) return grad;
  bool reshape = false;
  const auto axes = static_reduction_axes(gs, xs, other, &reshape);
  if (!axes) {
    // TF's _AddGrad and kin: BroadcastGradientArgs on the run-time shapes.
    Output sx = shape_of(g, x, "Shape");
    Operation args = g.create_op("BroadcastGradientArgs", {sx, shape_of(g, grad, "Shape_1")}, {},
                                 "BroadcastGradientArgs");
    Output r = op(g, "Sum", {grad, args.output(0)}, {}, "Sum");
    return op(g, "Reshape", {r, sx}, {}, "Reshape");
  }
  Output r = grad;
  if (!axes->empty()) {
    AttrMap a;
    a.set("keep_dims", false);
    r = op(g, "Sum", {grad, const_ints(g, *axes, "Const")}, std::move(a), "Sum");
  }
  if (reshape || !(r.shape() == xs))
    r = op(g, "Reshape", {r, shape_of(g, x, "Shape")}, {}, "Reshape");
  return r;
}

}  // namespace grad_util

std::vector<Output> gradients(const std::vector<Output>& ys, const std::vector<Output>& xs,
                              const std::vector<Output>& grad_ys) {
  if (ys.empty()) throw ValueError("gradients: ys is empty");
  if (!grad_ys.empty() && grad_ys.size() != ys.size())
    throw ValueError(str_cat("gradients: ", grad_ys.size(), " grad_ys for ", ys.size(), " ys"));
  Graph g = ys[0].graph();
  for (const auto& t : ys)
    if (!(t.graph() == g)) throw ValueError("gradients: all ys must be in one graph");
  for (const auto& t : xs)
    if (!t.valid() || !(t.graph() == g))
      throw ValueError("gradients: every x must be a tensor of the ys' graph");

  auto backpropagatable = [](DType d) {
    return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
           d == DType::kBFloat16;
  };
  // Ops reachable backwards from ys, then those of them that depend on some x.
  std::unordered_set<const Node*> from_ys;
  std::vector<const Node*> stack;
  for (const auto& y : ys) stack.push_back(y.node());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!from_ys.insert(n).second) continue;
    for (const auto& [p, i] : n->inputs) stack.push_back(p);
  }
  std::unordered_set<const Node*> between;  // on a path x -> y
  {
    // Only through outputs that carry gradients (TF's _IsBackpropagatable: floating dtypes):
    // an integer output (a Cast to int32, ArgMax, a shape) ends the forward walk from xs, so
    // no gradient is built, or raised about, on a path TF never differentiates.
    std::unordered_map<const Node*, std::vector<const Node*>> consumers;
    for (const Node* n : from_ys)
      for (const auto& [p, i] : n->inputs)
        if (backpropagatable(p->output_dtypes[static_cast<std::size_t>(i)]))
          consumers[p].push_back(n);
    std::unordered_set<const Node*> reached;  // TF's _MarkReachedOps
    for (const auto& x : xs) stack.push_back(x.node());
    while (!stack.empty()) {
      const Node* n = stack.back();
      stack.pop_back();
      if (!from_ys.count(n) || !reached.insert(n).second) continue;
      for (const Node* c : consumers[n]) stack.push_back(c);
    }
    // TF's between ops: walked back from the ys through reached ops only, so a reached op
    // whose result only feeds an unreached one (Rank(x) under range(0, rank(x))) is not
    // between, and does not hold back x's turn in the queue.
    for (const auto& y : ys) stack.push_back(y.node());
    while (!stack.empty()) {
      const Node* n = stack.back();
      stack.pop_back();
      if (!reached.count(n) || !between.insert(n).second) continue;
      for (const auto& [p, i] : n->inputs) stack.push_back(p);
    }
  }

  // TF's ZerosLikeOutsideLoop, for output i of a Switch that no gradient reached: in a cond
  // branch, zeros shaped like the data that exist only when the other branch is taken
  // ("Switch", "Identity", "Shape", "zeros/Const" after the Identity, "zeros" in the gradients
  // scope); for a Switch outside any cond, TF's ZerosLike op "zeros_like".
  // TF's zeros / ones of a shape tensor: the Const "<scope>/Const" and the Fill "<scope>"
  // (`scope` a full name from unique_name).
  auto fill_scalar = [&](const Output& shape, double value, DType dtype, const std::string& scope) {
    const Output v = grad_util::scalar(g, value, dtype, scope + "/Const/");
    return g.create_op("Fill", {shape, v}, {}, scope + "/").output(0);
  };
  auto switch_zeros = [&](const Node* n, int i) {
    const Operation sw_op = g.operation_by_name(n->name);
    const Output val = sw_op.output(i);
    AttrMap shape_attrs;
    shape_attrs.set("out_type", DType::kInt32);
    const CondContext* ctx = n->cond_context;
    if (ctx == nullptr) return grad_util::op(g, "ZerosLike", {val}, {}, "zeros_like");
    const Output data = sw_op.inputs()[0];
    const Output switched =
        g.create_op("Switch", {data, ctx->pred}, {}, "Switch").output(1 - ctx->branch);
    const Output pivot = grad_util::op(g, "Identity", {switched}, {}, "Identity");
    const Output shape = grad_util::op(g, "Shape", {switched}, std::move(shape_attrs), "Shape");
    Graph::ControlFrame after_pivot;
    after_pivot.controls = {pivot.op()};
    g.control_frames().push_back(std::move(after_pivot));
    const std::size_t depth = g.control_frames().size();
    struct Pop {
      Graph& g;
      std::size_t depth;
      ~Pop() {
        if (g.control_frames().size() >= depth) g.control_frames().resize(depth - 1);
      }
    } pop{g, depth};
    return fill_scalar(shape, 0.0, val.dtype(), g.unique_name("zeros"));
  };

  const std::string old_stack = g.name_stack();
  g.set_name_stack(g.unique_name("gradients"));
  struct Restore {
    Graph& g;
    std::string s;
    ~Restore() { g.set_name_stack(s); }
  } restore{g, old_stack};

  // Gradients received per (node, output), summed when the node is processed.
  std::unordered_map<const Node*, std::vector<std::vector<Output>>> received;
  auto receive = [&](const Node* n, int i, const Output& grad) {
    auto& slots = received[n];
    if (slots.size() < n->output_dtypes.size()) slots.resize(n->output_dtypes.size());
    slots[static_cast<std::size_t>(i)].push_back(grad);
  };
  for (std::size_t k = 0; k < ys.size(); ++k) {
    Output gy;
    if (!grad_ys.empty() && grad_ys[k].valid()) {
      gy = grad_ys[k];
      // TF's _DefaultGradYs checks: the same dtype, a shape compatible with y's.
      if (gy.dtype() != ys[k].dtype())
        throw ValueError(str_cat("gradients: grad_ys[", k, "] is ", dtype_name(gy.dtype()), ", y ",
                                 ys[k].name(), " is ", dtype_name(ys[k].dtype())));
      if (!gy.shape().is_compatible_with(ys[k].shape()))
        throw ValueError(str_cat("gradients: grad_ys[", k, "] has shape ", gy.shape().to_string(),
                                 ", y ", ys[k].name(), " has shape ", ys[k].shape().to_string()));
    } else {
      if (ys[k].dtype() != DType::kFloat32) throw ValueError("gradients: y must be float32");
      // TF's _DefaultGradYs: ones(shape(y), name="grad_ys_<k>"): "Shape" (a Const when y's
      // shape is static), "grad_ys_<k>/Const", the Fill "grad_ys_<k>".
      const Output shape = grad_util::shape_of(g, ys[k], "Shape");
      gy = fill_scalar(shape, 1.0, DType::kFloat32, g.unique_name(str_cat("grad_ys_", k)));
    }
    receive(ys[k].node(), ys[k].index(), gy);
  }

  // Reverse topological order over `between` (a consumer before its producers).
  std::vector<const Node*> order;
  {
    std::unordered_map<const Node*, int> pending;  // consumers inside `between` not yet done
    for (const Node* n : between)
      for (const auto& [p, i] : n->inputs)
        if (between.count(p)) ++pending[p];
    // TF's queue: the ys' ops first (in the ys' order), then first in, first out (which
    // fixes the numbering of the ops gradients() makes in its own scope: AddN_1, zeros_1).
    std::deque<const Node*> ready;
    std::unordered_set<const Node*> queued;
    for (const auto& y : ys)
      if (between.count(y.node()) && pending[y.node()] == 0 && queued.insert(y.node()).second)
        ready.push_back(y.node());
    std::vector<const Node*> rest;
    for (const Node* n : between)
      if (pending[n] == 0 && !queued.count(n)) rest.push_back(n);
    std::sort(rest.begin(), rest.end(), [](const Node* a, const Node* b) { return a->id < b->id; });
    ready.insert(ready.end(), rest.begin(), rest.end());
    while (!ready.empty()) {
      const Node* n = ready.front();
      ready.pop_front();
      order.push_back(n);
      for (const auto& [p, i] : n->inputs)
        if (between.count(p) && --pending[p] == 0) ready.push_back(p);
    }
  }

  std::unordered_map<const Node*, std::vector<Output>> summed;  // final gradient per output
  auto sum_of = [&](const Node* n, std::size_t i) -> Output {
    auto it = received.find(n);
    if (it == received.end() || it->second.size() <= i || it->second[i].empty()) return Output();
    auto& parts = it->second[i];
    if (parts.size() == 1) return parts[0];
    AttrMap a;
    a.set("N", static_cast<std::int64_t>(parts.size()));
    // TF's _AggregatedGrads: the sum is colocated with the first gradient.
    g.colocation_stack().push_back(parts[0].op().name());
    Output sum;
    try {
      sum = grad_util::op(g, "AddN", parts, std::move(a), "AddN");
    } catch (...) {
      g.colocation_stack().pop_back();
      throw;
    }
    g.colocation_stack().pop_back();
    return sum;
  };
  std::unordered_set<const Node*> is_x;
  for (const auto& x : xs) is_x.insert(x.node());
  const auto& registry = op_registry();
  for (const Node* n : order) {
    std::vector<Output> dys(n->output_dtypes.size());
    bool any = false;
    for (std::size_t i = 0; i < dys.size(); ++i) {
      dys[i] = sum_of(n, i);
      any = any || dys[i].valid();
    }
    summed[n] = dys;
    if (!any || n->inputs.empty()) continue;
    bool feeds_between = false;
    for (const auto& [p, i] : n->inputs) feeds_between = feeds_between || between.count(p);
    if (!feeds_between) continue;
    const OpDef* def = registry.find(n->op);
    if (def->not_differentiable) continue;
    if (!def->grad)
      throw ValueError(
          str_cat("No gradient defined for operation '", n->name, "' (op type: ", n->op, ")"));
    // TF: an output of a trainable dtype that no gradient reached gets zeros (a ZerosLike op
    // "zeros_like" in the gradients scope, before the op's own scope; a Switch's in a cond
    // exist only when the other branch is taken): the gradient function reads a tensor.
    for (std::size_t i = 0; i < dys.size(); ++i)
      if (!dys[i].valid() && backpropagatable(n->output_dtypes[i])) {
        if (n->op == "Switch" || n->op == "RefSwitch") {
          dys[i] = switch_zeros(n, static_cast<int>(i));
        } else {
          const Output val = g.operation_by_name(n->name).output(static_cast<int>(i));
          dys[i] = grad_util::op(g, "ZerosLike", {val}, {}, "zeros_like");
        }
      }
    Operation op = g.operation_by_name(n->name);
    const std::string scope_old = g.name_stack();
    g.set_name_stack(g.unique_name(n->name + "_grad"));
    std::vector<Output> dxs;
    try {
      dxs = def->grad(g, op, dys);
    } catch (...) {
      g.set_name_stack(scope_old);
      throw;
    }
    g.set_name_stack(scope_old);
    if (dxs.size() != n->inputs.size())
      throw InternalError(str_cat("gradient of ", n->op, " returned ", dxs.size(),
                                  " gradients for ", n->inputs.size(), " inputs"));
    for (std::size_t k = 0; k < dxs.size(); ++k)
      if (dxs[k].valid() && between.count(n->inputs[k].first)) {
        // TF: "Incompatible shapes between op input and calculated input gradient".
        const Shape& in_shape =
            n->inputs[k].first->output_shapes[static_cast<std::size_t>(n->inputs[k].second)];
        if (!dxs[k].shape().is_compatible_with(in_shape))
          throw ValueError(str_cat(
              "Incompatible shapes between op input and calculated input "
              "gradient. Forward operation: ",
              n->name, ". Input index: ", k, ". Original input shape: ", in_shape.to_string(),
              ". Calculated input gradient shape: ", dxs[k].shape().to_string()));
        // TF's in_grad.set_shape(t_in.get_shape()): the input's static dimensions fill the
        // gradient's unknown ones (a kernel's gradient through tensordot's [?, ?] matrix is
        // [3, 4], as the kernel).
        grad_util::refine_static_shape(dxs[k], in_shape);
        receive(n->inputs[k].first, n->inputs[k].second, dxs[k]);
      }
  }

  std::vector<Output> out;
  for (const auto& x : xs) {
    auto it = summed.find(x.node());
    if (it != summed.end() && static_cast<std::size_t>(x.index()) < it->second.size())
      out.push_back(it->second[static_cast<std::size_t>(x.index())]);
    else
      out.push_back(sum_of(x.node(), static_cast<std::size_t>(x.index())));
  }
  return out;
}

}  // namespace scopeflow
