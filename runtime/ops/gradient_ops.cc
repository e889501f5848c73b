// Gradient functions, beside the ops they differentiate (TF's math_grad.py / nn_grad.py),
// written as graph ops so that every device that runs the forward op runs its gradient.
#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "devices/base/errors.h"
#include "runtime/gradients.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace {

using grad_util::cast_to;
using grad_util::const_ints;
using grad_util::op;
using grad_util::reduce_to_shape;
using grad_util::shape_of;
using Grads = std::vector<Output>;

// TF 2.21's _InferGradientReductionAxes: the axes of the broadcast shape over which x's and y's
// gradients sum, when the static shapes decide them (a 1 against a dimension that is not 1, a
// missing leading dimension); nullopt when an unknown dimension leaves it to the run.
std::optional<std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>>>
infer_gradient_reduction_axes(const Shape& xs, const Shape& ys) {
  if (!xs.has_rank() || !ys.has_rank()) return std::nullopt;
  const int xr = xs.rank(), yr = ys.rank(), br = std::max(xr, yr);
  std::vector<std::int64_t> rx, ry;
  for (int axis = 0; axis < br; ++axis) {
    const std::int64_t xd =
        axis < br - xr ? 1 : xs.dims()[static_cast<std::size_t>(axis - (br - xr))];
    const std::int64_t yd =
        axis < br - yr ? 1 : ys.dims()[static_cast<std::size_t>(axis - (br - yr))];
    if (xd == 1 && yd != 1)
      rx.push_back(axis);
    else if (yd == 1 && xd != 1)
      ry.push_back(axis);
    else if (xd < 0 || yd < 0)
      return std::nullopt;
  }
  return std::pair{rx, ry};
}

// TF 2.21's _ShapesFullySpecifiedAndEqual(x, y, grad).
bool shapes_fully_specified_and_equal(const Output& x, const Output& y, const Output& grad) {
  const Shape xs = x.shape();
  return xs.is_fully_defined() && xs == y.shape() && xs == grad.shape();
}

// TF 2.21's _ReduceGradientArgs (SmartBroadcastGradientArgs, _ReduceGradientArg): the raw
// gradients gx, gy of a broadcasting binary op's x and y summed back to their shapes. Ops as
// TF's, in TF's order: "Shape" / "Shape_1" (Consts when fully defined), BroadcastGradientArgs
// when the static shapes cannot decide the axes, then for each side that must reduce a "Sum"
// (keep_dims, over its "Sum/reduction_indices" Const or the run-time axes) and a "Reshape".
Grads reduce_gradient_args(Graph& g, const Output& x, const Output& y, Output gx, Output gy) {
  if (!gx.valid() && !gy.valid()) return Grads{gx, gy};
  const Output sx = shape_of(g, x, "Shape");
  const Output sy = shape_of(g, y, "Shape_1");
  const auto axes = infer_gradient_reduction_axes(x.shape(), y.shape());
  Operation args;
  if (!axes) args = g.create_op("BroadcastGradientArgs", {sx, sy}, {}, "BroadcastGradientArgs");
  auto reduce = [&](Output grad, int k, const Output& shape, bool must_reduce) {
    if (!grad.valid() || !must_reduce) return grad;
    const std::string sum = g.unique_name("Sum");  // the Const sits in the Sum's scope
    Output at;
    if (!axes) {
      at = args.output(k);
    } else {
      const auto& list = k == 0 ? axes->first : axes->second;
      // TF converts an empty list to float32 first (an unused Const), then to int32.
      if (list.empty()) {
        AttrMap a;
        a.set("value", Tensor::from_vector<float>({}, Shape{0}));
        a.set("dtype", DType::kFloat32);
        g.create_op("Const", {}, std::move(a), sum + "/reduction_indices/");
      }
      at = const_ints(g, list,
                      sum + (list.empty() ? "/reduction_indices_1/" : "/reduction_indices/"));
    }
    AttrMap keep;
    keep.set("keep_dims", true);
    return op(g, "Reshape", {op(g, "Sum", {grad, at}, std::move(keep), sum + "/"), shape}, {},
              "Reshape");
  };
  // (Known axes imply known ranks.)
  const bool x_must = !axes || !axes->first.empty() || x.shape().rank() < y.shape().rank();
  const bool y_must = !axes || !axes->second.empty() || y.shape().rank() < x.shape().rank();
  Output rx = reduce(gx, 0, sx, x_must);
  Output ry = reduce(gy, 1, sy, y_must);
  return Grads{rx, ry};
}

Shape static_shape(const Output& t, const char* what) {
  Shape s = t.shape();
  if (!s.is_fully_defined())
    throw ValueError(str_cat("gradient of ", what, ": ", t.name(), " has shape ", s.to_string(),
                             "; this gradient needs a fully defined shape"));
  return s;
}

// A Const of integer dtype `it` (int32 or int64) holding `v` in `shape`.
Output int_const(Graph& g, DType it, const std::vector<std::int64_t>& v, const Shape& shape,
                 const std::string& name) {
  AttrMap a;
  if (it == DType::kInt32)
    a.set("value",
          Tensor::from_vector<std::int32_t>(std::vector<std::int32_t>(v.begin(), v.end()), shape));
  else
    a.set("value", Tensor::from_vector<std::int64_t>(v, shape));
  a.set("dtype", it);
  return g.create_op("Const", {}, std::move(a), name).output(0);
}

// A shape vector for Reshape: `dims` (-1 for unknown) as a Const when at most one is unknown
// and the known ones multiply to more than 0 (Reshape infers that one), else `dynamic()`.
template <class F>
Output reshape_target(Graph& g, const std::vector<std::int64_t>& dims, const std::string& name,
                      F dynamic) {
  int unknown = 0;
  std::int64_t known = 1;
  for (auto d : dims) {
    if (d < 0)
      ++unknown;
    else
      known *= d;
  }
  if (unknown == 0 || (unknown == 1 && known > 0)) return const_ints(g, dims, name);
  return dynamic();
}

AttrMap copy_attrs(const Operation& o, std::initializer_list<const char*> names) {
  AttrMap a;
  for (const char* n : names)
    if (o.attrs().has(n)) a.set(n, o.attrs().all().at(n));
  return a;
}

// Whether TF's Python tensor_util.constant_value can tell n's value: a Const; Shape, Size,
// Rank of known shapes; Range, Cast, ConcatV2, Pack, Fill, Identity of such values. (Graph
// construction knows more, Node::constant; TF's gradients read only this much.)
bool python_can_tell(const Node* n, int depth) {
  if (!n->constant || depth > 32) return false;
  if (n->op == "Const" || n->op == "Shape" || n->op == "Size" || n->op == "Rank") return true;
  static const std::set<std::string> folds = {"Range", "Cast", "ConcatV2",
                                              "Pack",  "Fill", "Identity"};
  if (!folds.count(n->op)) return false;
  for (const auto& [src, i] : n->inputs)
    if (i != 0 || !python_can_tell(src, depth + 1)) return false;
  return true;
}

// TF's tensor_util.constant_value: t's value where TF's Python can tell it, else nullptr.
const Tensor* constant_value(const Output& t) {
  return t.index() == 0 && python_can_tell(t.node(), 0) ? &*t.node()->constant : nullptr;
}

std::vector<std::int64_t> int_values(const Tensor& t) {
  std::vector<std::int64_t> v;
  if (t.dtype() == DType::kInt32)
    for (auto d : t.to_vector<std::int32_t>()) v.push_back(d);
  else
    v = t.to_vector<std::int64_t>();
  return v;
}

// array_ops.reshape(x, <a Python list>) / tile(x, <list>): the list is a Const in the op's own
// scope ("Reshape/shape", "Tile/multiples"). `python_list`: an empty list, which TF converts to
// float32 first (an int32 numpy array, reduced_shape's values, converts once).
Output reshape_to(Graph& g, const Output& x, const std::vector<std::int64_t>& dims,
                  bool python_list = false) {
  const std::string r = g.unique_name("Reshape");
  if (dims.empty() && python_list) {
    // TF converts an empty list to float32 first (an unused Const), then to int32.
    AttrMap a;
    a.set("value", Tensor::from_vector<float>({}, Shape{0}));
    a.set("dtype", DType::kFloat32);
    g.create_op("Const", {}, std::move(a), r + "/shape/");
    return op(g, "Reshape", {x, const_ints(g, dims, r + "/shape_1/")}, {}, r + "/");
  }
  return op(g, "Reshape", {x, const_ints(g, dims, r + "/shape/")}, {}, r + "/");
}
Output tile_by(Graph& g, const Output& x, const std::vector<std::int64_t>& multiples) {
  const std::string t = g.unique_name("Tile");
  return op(g, "Tile", {x, const_ints(g, multiples, t + "/multiples/")}, {}, t + "/");
}

// array_ops.size(t, out_type): a Const where t's shape is fully defined, else a Size op.
Output size_of(Graph& g, const Output& t, DType out_type, const std::string& name) {
  const Shape s = t.shape();
  if (s.is_fully_defined()) return int_const(g, out_type, {s.num_elements()}, Shape{}, name);
  AttrMap a;
  a.set("out_type", out_type);
  return op(g, "Size", {t}, std::move(a), name);
}

// math_ops.range(limit) / range(start, limit, delta) with Python int start and delta: the
// Consts "range/start" and "range/delta" (int32, limit's dtype) and the Range "range".
Output range_to(Graph& g, const Output& limit, std::int64_t start, std::int64_t delta) {
  const std::string r = g.unique_name("range");
  Output s = int_const(g, limit.dtype(), {start}, Shape{}, r + "/start/");
  Output d = int_const(g, limit.dtype(), {delta}, Shape{}, r + "/delta/");
  return op(g, "Range", {s, limit, d}, {}, r + "/");
}

// TF 2.21's math_ops.reduced_shape(input_shape, axes): the reduction's output shape with
// keep_dims. Values when both are known (TF's constant_value; the caller's reshape makes them a
// Const), else TF's ops: "Size" of the shape vector, the axes made non-negative ("add", "mod"),
// their "Shape", "range" over the rank, "ones", and the "DynamicStitch" of the two.
struct ReducedShape {
  std::optional<std::vector<std::int64_t>> values;
  Output tensor;
};
ReducedShape reduced_shape(Graph& g, const Operation& o, const Output& input_shape,
                           const Output& axes) {
  const Tensor* shape_v = constant_value(input_shape);
  const Tensor* axes_v = constant_value(axes);
  if (shape_v != nullptr && axes_v != nullptr) {
    std::vector<std::int64_t> dims = int_values(*shape_v);
    const auto rank = static_cast<std::int64_t>(dims.size());
    for (auto a : int_values(*axes_v)) {
      if (a < -rank || a >= rank)
        throw ValueError(
            str_cat("gradient of ", o.name(), ": axis ", a, " is out of range for rank ", rank));
      dims[static_cast<std::size_t>(a < 0 ? a + rank : a)] = 1;
    }
    return {dims, Output()};
  }
  const Output input_rank = size_of(g, input_shape, axes.dtype(), "Size");
  Output a = op(g, "AddV2", {axes, input_rank}, {}, "add");
  a = op(g, "FloorMod", {a, input_rank}, {}, "mod");
  AttrMap st;
  st.set("out_type", DType::kInt32);
  const Output axes_shape = a.shape().is_fully_defined()
                                ? const_ints(g, a.shape().dims(), "Shape")
                                : op(g, "Shape", {a}, std::move(st), "Shape");
  const Output r = range_to(g, input_rank, 0, 1);
  const std::string ones = g.unique_name("ones");
  const Output one = int_const(g, input_shape.dtype(), {1}, Shape{}, ones + "/Const/");
  const Output filled = op(g, "Fill", {axes_shape, one}, {}, ones + "/");
  AttrMap n;
  n.set("N", std::int64_t{2});
  return {std::nullopt,
          op(g, "DynamicStitch", {r, a, input_shape, filled}, std::move(n), "DynamicStitch")};
}

Output reshape_to(Graph& g, const Output& x, const ReducedShape& s) {
  return s.values ? reshape_to(g, x, *s.values) : op(g, "Reshape", {x, s.tensor}, {}, "Reshape");
}

// The per-graph cache of TF's _SumGrad (graph._reduced_shape_cache): the first gradient of a
// fully defined Sum over given axes leaves the ops that computed its tile scaling in the graph
// (TF's _SafeShapeDiv: "Maximum" and "floordiv", evaluated as constants); later ones reuse it.
bool first_reduced_shape(Graph& g, const Shape& s, const std::vector<std::int64_t>& axes) {
  auto& ext = g.extension("gradients/reduced_shape_cache");
  if (!ext) ext = std::make_shared<std::set<std::string>>();
  auto& seen = *static_cast<std::set<std::string>*>(ext.get());
  std::string key = s.to_string() + " @";
  for (auto a : axes) key += str_cat(" ", a);
  return seen.insert(key).second;
}

// TF 2.21's _SumGrad, op for op: a Reshape and a Tile where the rank and axes are known (all
// axes: a Tile by the Const shape or the run-time Shape; a fully defined x: Consts for both);
// else x's Shape, reduced_shape and a Reshape (without keep_dims), and a BroadcastTo.
Output sum_gradient(Graph& g, const Operation& o, Output grad) {
  const Output x = o.inputs()[0];
  const Shape xs = x.shape();
  if (xs.has_rank()) {
    if (const Tensor* axes_v = constant_value(o.inputs()[1])) {
      const int rank = xs.rank();
      const std::vector<std::int64_t> axes = int_values(*axes_v);
      bool all = axes_v->shape().rank() == 1 && static_cast<int>(axes.size()) == rank;
      for (std::size_t k = 0; all && k < axes.size(); ++k)
        all = axes[k] == static_cast<std::int64_t>(k);
      if (all) {
        grad = reshape_to(g, grad, std::vector<std::int64_t>(static_cast<std::size_t>(rank), 1),
                          /*python_list=*/true);
        const Output input_shape =
            xs.is_fully_defined() ? const_ints(g, xs.dims(), "Const") : shape_of(g, x, "Shape");
        return op(g, "Tile", {grad, input_shape}, {}, "Tile");
      }
      if (xs.is_fully_defined()) {
        std::vector<std::int64_t> kept = xs.dims(), scaling(kept.size());
        for (auto a : axes) {
          if (a < -rank || a >= rank)
            throw ValueError(str_cat("gradient of ", o.name(), ": axis ", a,
                                     " is out of range for rank ", rank));
          kept[static_cast<std::size_t>(a < 0 ? a + rank : a)] = 1;
        }
        for (std::size_t k = 0; k < kept.size(); ++k)
          scaling[k] = xs.dims()[k] / std::max<std::int64_t>(kept[k], 1);
        if (first_reduced_shape(g, xs, axes)) {
          // TF's _SafeShapeDiv(x, y) = x // maximum(y, 1) over Python tuples: dangling ops.
          const std::string m = g.unique_name("Maximum");
          const Output mx = op(
              g, "Maximum",
              {const_ints(g, kept, m + "/x/"), grad_util::scalar(g, 1, DType::kInt32, m + "/y/")},
              {}, m + "/");
          const std::string f = g.unique_name("floordiv");
          op(g, "FloorDiv", {const_ints(g, xs.dims(), f + "/x/"), mx}, {}, f + "/");
        }
        return tile_by(g, reshape_to(g, grad, kept), scaling);
      }
    }
  }
  const Output input_shape = shape_of(g, x, "Shape");
  if (!o.attrs().get_or<bool>("keep_dims", false)) {
    // TF: reduced_shape under colocate_with(input_shape).
    g.colocation_stack().push_back(input_shape.op().name());
    ReducedShape kept;
    try {
      kept = reduced_shape(g, o, input_shape, o.inputs()[1]);
    } catch (...) {
      g.colocation_stack().pop_back();
      throw;
    }
    g.colocation_stack().pop_back();
    grad = reshape_to(g, grad, kept);
  }
  return op(g, "BroadcastTo", {grad, input_shape}, {}, "BroadcastTo");
}

// TF 2.21's _MeanGrad: _SumGrad's result divided by the number of elements each output
// averages: a Const where both shapes are fully defined, else the product of x's run-time
// dimensions at the (non-negative) axes.
Output mean_gradient(Graph& g, const Operation& o, const Output& grad) {
  const Output sum_grad = sum_gradient(g, o, grad);
  const Shape xs = o.inputs()[0].shape();
  const Shape ys = o.output(0).shape();
  Output factor;
  if (xs.is_fully_defined() && ys.is_fully_defined()) {
    const std::int64_t count = xs.num_elements() / std::max<std::int64_t>(ys.num_elements(), 1);
    factor = grad_util::scalar(g, static_cast<double>(count), sum_grad.dtype(), "Const");
  } else {
    const Output input_shape = shape_of(g, o.inputs()[0], "Shape");
    const Output input_rank = size_of(g, input_shape, DType::kInt32, "Size");
    Output axes = o.inputs()[1];
    if (axes.dtype() != DType::kInt32) axes = cast_to(g, axes, DType::kInt32, "Cast");
    axes = op(g, "AddV2", {axes, input_rank}, {}, "add");
    axes = op(g, "FloorMod", {axes, input_rank}, {}, "mod");
    const std::string gather = g.unique_name("GatherV2");
    const Output dims =
        op(g, "GatherV2",
           {input_shape, axes, int_const(g, DType::kInt32, {0}, Shape{}, gather + "/axis/")}, {},
           gather + "/");
    // reduce_prod(dims) over every axis (TF's _ReductionDims: np.arange(rank) as a Const, or
    // range(0, rank(dims)) for a scalar or an unknown rank).
    const Shape ds = dims.shape();
    Output prod_axes;
    if (ds.has_rank() && ds.rank() > 0) {
      std::vector<std::int64_t> all(static_cast<std::size_t>(ds.rank()));
      for (std::size_t k = 0; k < all.size(); ++k) all[k] = static_cast<std::int64_t>(k);
      prod_axes = const_ints(g, all, "Const");
    } else {
      const Output rank = ds.has_rank() ? int_const(g, DType::kInt32, {0}, Shape{}, "Rank")
                                        : op(g, "Rank", {dims}, {}, "Rank");
      prod_axes = range_to(g, rank, 0, 1);
    }
    AttrMap keep;
    keep.set("keep_dims", false);
    factor = cast_to(g, op(g, "Prod", {dims, prod_axes}, std::move(keep), "Prod"), sum_grad.dtype(),
                     "Cast");
  }
  return op(g, "RealDiv", {sum_grad, factor}, {}, "truediv");
}

// TF's zeros_like for a gradient that is zero (a Fill of the tensor's shape).
Output zeros_like(Graph& g, const Output& t) {
  return op(g, "Fill", {shape_of(g, t, "Shape"), grad_util::scalar(g, 0.0, t.dtype(), "zeros")}, {},
            "zeros_like");
}

// Gradients of the gradient ops (TF's nn_grad.py / array_grad.py), for second derivatives:
// gradient penalties, Hessian-vector products, double backprop through the CNN op set.
void register_second_order_gradients(OpRegistry& r) {
  // ReluGrad(g, y) = g * (y > 0): linear in g; zero derivative in y almost everywhere.
  r.set_grad("ReluGrad", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{op(g, "ReluGrad", {dy[0], o.inputs()[1]}), zeros_like(g, o.inputs()[1])};
  });
  // BiasAddGrad sums over every axis but the last: its adjoint broadcasts back.
  r.set_grad("BiasAddGrad", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{op(g, "BroadcastTo", {dy[0], shape_of(g, o.inputs()[0], "Shape")}, {}, "Tile")};
  });
  // Conv2DBackpropInput(sizes, w, dy) is linear in w and in dy.
  r.set_grad("Conv2DBackpropInput", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const AttrMap a = copy_attrs(o, {"strides", "padding", "dilations", "data_format"});
    Output dw = op(g, "Conv2DBackpropFilter", {dy[0], shape_of(g, in[1], "Shape"), in[2]}, a);
    Output ddy = op(g, "Conv2D", {dy[0], in[1]}, a);
    return Grads{Output(), dw, ddy};
  });
  // Conv2DBackpropFilter(x, sizes, dy) is linear in x and in dy.
  r.set_grad("Conv2DBackpropFilter", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const AttrMap a = copy_attrs(o, {"strides", "padding", "dilations", "data_format"});
    Output dx = op(g, "Conv2DBackpropInput", {shape_of(g, in[0], "Shape"), dy[0], in[2]}, a);
    Output ddy = op(g, "Conv2D", {in[0], dy[0]}, a);
    return Grads{dx, Output(), ddy};
  });
  // AvgPoolGrad is linear in its gradient input; its adjoint is AvgPool.
  r.set_grad("AvgPoolGrad", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{Output(), op(g, "AvgPool", {dy[0]},
                              copy_attrs(o, {"ksize", "strides", "padding", "data_format"}))};
  });
  // MaxPoolGrad routes its gradient to each window's argmax: the adjoint gathers from there
  // (MaxPoolGradGrad); the argmax is piecewise constant in the inputs (zero derivative).
  r.set_grad("MaxPoolGrad", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const AttrMap a = copy_attrs(o, {"ksize", "strides", "padding", "data_format"});
    return Grads{zeros_like(g, in[0]), zeros_like(g, in[1]),
                 op(g, "MaxPoolGradGrad", {in[0], in[1], dy[0]}, a)};
  });
  r.set_grad("MaxPoolGradGrad", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const AttrMap a = copy_attrs(o, {"ksize", "strides", "padding", "data_format"});
    return Grads{zeros_like(g, in[0]), zeros_like(g, in[1]),
                 op(g, "MaxPoolGrad", {in[0], in[1], dy[0]}, a)};
  });
  // BroadcastTo: the gradient summed back to the input's shape.
  r.set_grad("BroadcastTo", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{reduce_to_shape(g, dy[0], o.inputs()[0]), Output()};
  });
}

}  // namespace

void register_gradients(OpRegistry& r) {
  for (const char* nd : {"Const",
                         "Placeholder",
                         "RandomUniform",
                         "RandomStandardNormal",
                         "TruncatedNormal",
                         "IsVariableInitialized",
                         "LogicalNot",
                         "BooleanMask",
                         "NoOp",
                         "VariableV2",
                         "Assign",
                         "AssignAdd",
                         "AssignSub",
                         "ApplyGradientDescent",
                         "ApplyMomentum",
                         "ApplyAdam",
                         "ApplyRMSProp",
                         "ApplyAdagrad",
                         "ApplyCenteredRMSProp",
                         "_SparseApplyMomentumRows",
                         "_EmbeddingRowIndex",
                         "Shape",
                         "Size",
                         "BroadcastGradientArgs",
                         "InvertPermutation",
                         "Prod",  // integers only here (shape arithmetic): no gradient flows
                         "StopGradient",
                         "Where",
                         "OneHot",
                         "Range",
                         "Rank",
                         "FloorDiv",  // TF's _FloorDivGrad: None, None
                         "ZerosLike",
                         "OnesLike"})
    r.set_not_differentiable(nd);
  // TF 2.21's _TileGrad: dy reshaped to interleave multiples and x's dimensions, summed over
  // the multiples' axes.
  r.set_grad("Tile", [](Graph& g, const Operation& o, const Grads& dy) {
    const Output x = o.inputs()[0];
    const Output multiples = o.inputs()[1];
    Output input_shape;
    if (x.shape().is_fully_defined()) {
      input_shape = int_const(g, multiples.dtype(), x.shape().dims(),
                              Shape{static_cast<std::int64_t>(x.shape().rank())}, "Shape");
    } else {
      AttrMap a;
      a.set("out_type", multiples.dtype());
      input_shape = op(g, "Shape", {x}, std::move(a), "Shape");
    }
    const Output stacked = op(g, "Pack", {multiples, input_shape}, {}, "stack");
    const std::string t = g.unique_name("transpose");
    const Output transposed =
        op(g, "Transpose", {stacked, const_ints(g, {1, 0}, t + "/perm/")}, {}, t + "/");
    const Output split_shape = reshape_to(g, transposed, std::vector<std::int64_t>{-1});
    const Output axes = range_to(g, size_of(g, split_shape, DType::kInt32, "Size"), 0, 2);
    AttrMap keep;
    keep.set("keep_dims", false);
    Output input_grad = op(g, "Sum", {op(g, "Reshape", {dy[0], split_shape}, {}, "Reshape"), axes},
                           std::move(keep), "Sum");
    grad_util::refine_static_shape(input_grad, x.shape());
    return Grads{input_grad, Output()};
  });
  // TF 2.21's _FloorModGrad: (dy, -dy * floordiv(x, y)) summed back to each operand's shape.
  r.set_grad("FloorMod", [](Graph& g, const Operation& o, const Grads& dy) {
    const Output x = o.inputs()[0], y = o.inputs()[1];
    const Output floor_xy = op(g, "FloorDiv", {x, y}, {}, "FloorDiv");
    const Output gy = op(g, "Mul", {dy[0], op(g, "Neg", {floor_xy}, {}, "Neg")}, {}, "mul");
    return reduce_gradient_args(g, x, y, dy[0], gy);
  });
  // TF's _DynamicStitchGrads: each data input gathers the merged gradient at its indices.
  r.set_grad("DynamicStitch", [](Graph& g, const Operation& o, const Grads& dy) {
    const auto in = o.inputs();
    const std::size_t n = in.size() / 2;
    Grads grads(in.size());
    for (std::size_t i = 0; i < n; ++i) {
      const std::string gather = g.unique_name("GatherV2");
      grads[n + i] =
          op(g, "GatherV2",
             {dy[0], in[i], int_const(g, DType::kInt32, {0}, Shape{}, gather + "/axis/")}, {},
             gather + "/");
    }
    return grads;
  });

  r.set_grad("Identity", [](Graph&, const Operation&, const Grads& dy) { return Grads{dy[0]}; });
  // tf.cond (control_flow_grad.py). _SwitchGrad: in a cond branch, the Merge "cond_grad" of the
  // two outputs' gradients (the untaken one is dead; gradients() made the missing one zeros
  // that live only in the other branch); a Switch outside any cond: each gradient switched on
  // the predicate again, then merged.
  auto switch_grad = [](Graph& g, const Operation& o, const Grads& dy) {
    AttrMap a;
    a.set("N", std::int64_t{2});
    if (o.node()->cond_context != nullptr) {
      if (!dy[0].valid() || !dy[1].valid()) return Grads{Output(), Output()};
      return Grads{g.create_op("Merge", {dy[0], dy[1]}, std::move(a), "cond_grad").output(0),
                   Output()};
    }
    const Output pred = o.inputs()[1];
    const Output f = g.create_op("Switch", {dy[0], pred}, {}, "Switch").output(0);
    const Output t = g.create_op("Switch", {dy[1], pred}, {}, "Switch").output(1);
    return Grads{g.create_op("Merge", {f, t}, std::move(a), "Merge").output(0), Output()};
  };
  r.set_grad("Switch", switch_grad);
  r.set_grad("RefSwitch", switch_grad);
  // _MergeGrad: a cond's Merge sends its gradient down the taken branch (a Switch "cond_grad"
  // on the cond's predicate, colocated with the gradient); any other Merge, down the input
  // whose index it output (Switches on Equal(value_index, i)).
  auto merge_grad = [](Graph& g, const Operation& o, const Grads& dy) {
    const auto in = o.inputs();
    const CondContext* ctx = in[0].node()->cond_context;
    if (ctx != nullptr) {
      Operation sw = g.switch_ref_or_tensor(dy[0], ctx->pred, "cond_grad");
      return Grads{sw.output(0), sw.output(1)};
    }
    Grads equal;
    for (std::size_t i = 0; i < in.size(); ++i) {
      AttrMap c;
      c.set("value", Tensor::from_scalar(static_cast<std::int32_t>(i)));
      c.set("dtype", DType::kInt32);
      const std::string scope = g.unique_name("Equal");
      const Output y = g.create_op("Const", {}, std::move(c), scope + "/y/").output(0);
      equal.push_back(op(g, "Equal", {o.output(1), y}, {}, scope + "/"));
    }
    Grads out;
    for (const Output& e : equal)  // (colocated with the gradient, as TF's)
      out.push_back(g.switch_ref_or_tensor(dy[0], e, "Switch").output(1));
    return out;
  };
  r.set_grad("Merge", merge_grad);
  r.set_grad("RefMerge", merge_grad);
  // TF's _PackGrad (unstack): dy cut along axis 0 into the N inputs, each reshaped back.
  r.set_grad("Pack", [](Graph& g, const Operation& o, const Grads& dy) {
    const auto in = o.inputs();
    const Output s = shape_of(g, in[0], "Shape");
    AttrMap a;
    a.set("num_split", static_cast<std::int64_t>(in.size()));
    Operation split =
        g.create_op("SplitV",
                    {dy[0], const_ints(g, std::vector<std::int64_t>(in.size(), 1), "Const"),
                     const_ints(g, {0}, "axis")},
                    std::move(a), "unstack");
    Grads out;
    for (std::size_t i = 0; i < in.size(); ++i)
      out.push_back(op(g, "Reshape", {split.output(static_cast<int>(i)), s}, {}, "Reshape"));
    return out;
  });
  // TF's _FillGrad: nothing for the dims, the sum of dy for the value.
  r.set_grad("Fill", [](Graph& g, const Operation& o, const Grads& dy) {
    const Shape s = o.output(0).shape();
    if (dy[0].dtype() != DType::kFloat32) return Grads{Output(), Output()};
    if (!s.has_rank())  // every element, whatever the rank
      return Grads{Output(),
                   op(g, "Sum",
                      {op(g, "Reshape", {dy[0], const_ints(g, {-1}, "Shape")}, {}, "Reshape"),
                       const_ints(g, {0}, "Const")},
                      {}, "Sum")};
    std::vector<std::int64_t> axes;
    for (int k = 0; k < s.rank(); ++k) axes.push_back(k);
    return Grads{Output(), op(g, "Sum", {dy[0], const_ints(g, axes, "Const")}, {}, "Sum")};
  });
  register_second_order_gradients(r);
  r.set_grad("AddN", [](Graph&, const Operation& o, const Grads& dy) {
    return Grads(static_cast<std::size_t>(o.inputs().size()), dy[0]);
  });
  // TF 2.21's _AddGrad / _SubGrad / _MulGrad / _RealDivGrad / _PowGrad /
  // _SquaredDifferenceGrad: the raw gradients, then _ReduceGradientArgs (reduce_gradient_args).
  auto add = [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    if (shapes_fully_specified_and_equal(in[0], in[1], dy[0])) return Grads{dy[0], dy[0]};
    return reduce_gradient_args(g, in[0], in[1], dy[0], dy[0]);
  };
  r.set_grad("Add", add);
  r.set_grad("AddV2", add);
  r.set_grad("Sub", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    Output neg = op(g, "Neg", {dy[0]});
    if (shapes_fully_specified_and_equal(in[0], in[1], dy[0])) return Grads{dy[0], neg};
    return reduce_gradient_args(g, in[0], in[1], dy[0], neg);
  });
  r.set_grad("Mul", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    // TF's _MulGrad: mul(grad, x) for y when the three shapes are fully defined and equal and
    // the dtype is float32 or int32, else mul(x, grad) (the same values).
    const Shape sx = in[0].shape(), sy = in[1].shape(), sg = dy[0].shape();
    const bool same = sx.is_fully_defined() && sx == sy && sy == sg &&
                      (dy[0].dtype() == DType::kFloat32 || dy[0].dtype() == DType::kInt32);
    Output gx = op(g, "Mul", {dy[0], in[1]});
    if (same) return Grads{gx, op(g, "Mul", {dy[0], in[0]}, {}, "Mul_1")};
    return reduce_gradient_args(g, in[0], in[1], gx, op(g, "Mul", {in[0], dy[0]}, {}, "Mul_1"));
  });
  r.set_grad("RealDiv", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    Output dx = op(g, "RealDiv", {dy[0], in[1]});
    Output q =
        op(g, "RealDiv", {op(g, "RealDiv", {op(g, "Neg", {in[0]}), in[1]}, {}, "RealDiv_1"), in[1]},
           {}, "RealDiv_2");
    return reduce_gradient_args(g, in[0], in[1], dx, op(g, "Mul", {dy[0], q}, {}, "mul"));
  });
  // TF's _MaximumGrad / _MinimumGrad: dy goes to x where x >= y (x <= y), else to y (ties to
  // x; a NaN operand sends it to y). NOTE: masks multiply dy, where TF selects: an inf or NaN
  // in dy gives NaN, and a negative dy -0, on the side that does not take it (TF: +0).
  auto extremum = [](const char* cmp) {
    return [cmp](Graph& g, const Operation& o, const Grads& dy) {
      auto in = o.inputs();
      // 16-bit floats compare as float32 (exact; the comparisons take 32- and 64-bit types).
      const bool narrow = in[0].dtype() == DType::kFloat16 || in[0].dtype() == DType::kBFloat16;
      Output x = narrow ? cast_to(g, in[0], DType::kFloat32, "x") : in[0];
      Output y = narrow ? cast_to(g, in[1], DType::kFloat32, "y") : in[1];
      Output xmask = op(g, cmp, {x, y}, {}, cmp);
      Output ymask = op(g, "LogicalNot", {xmask}, {}, "LogicalNot");
      const DType t = dy[0].dtype();
      return Grads{
          reduce_to_shape(g, op(g, "Mul", {dy[0], cast_to(g, xmask, t, "Cast")}, {}, "Mul"), in[0],
                          in[1]),
          reduce_to_shape(g, op(g, "Mul", {dy[0], cast_to(g, ymask, t, "Cast_1")}, {}, "Mul_1"),
                          in[1], in[0])};
    };
  };
  // TF 2.21's _PowGrad: dx = dy * y * x^(y - 1); dy' = dy * z * log(x) where x > 0, else 0
  // (no false singularity at x = 0: log takes 1 there); then _ReduceGradientArgs. TF's ops in
  // TF's order; zeros_like of a fully defined x is a Const under 1000 elements, else a Fill, as
  // TF's (of a partly known x: a Fill here, TF's ZerosLike op there).
  r.set_grad("Pow", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const Output x = in[0], y = in[1], z = o.output(0);
    const DType t = x.dtype();
    Output scaled = op(g, "Mul", {dy[0], y}, {}, "mul");
    Output y_minus_1 = op(g, "Sub", {y, grad_util::scalar(g, 1.0, t, "sub/y")}, {}, "sub");
    Output gx = op(g, "Mul", {scaled, op(g, "Pow", {x, y_minus_1}, {}, "Pow")}, {}, "mul_1");
    Output mask = op(g, "Greater", {x, grad_util::scalar(g, 0.0, t, "Greater/y")}, {}, "Greater");
    const Shape xs = x.shape();
    Output ones =
        op(g, "Fill",
           {xs.is_fully_defined() ? const_ints(g, xs.dims(), "ones_like/Shape/shape_as_tensor")
                                  : shape_of(g, x, "ones_like/Shape"),
            grad_util::scalar(g, 1.0, t, "ones_like/Const")},
           {}, "ones_like");
    Output safe_x = op(g, "Select", {mask, x, ones}, {}, "Select");
    Output log_x = op(g, "Log", {safe_x}, {}, "Log");
    Output zeros;
    if (xs.is_fully_defined() && xs.num_elements() < 1000) {  // TF's _constant_if_small
      Tensor value(t, xs);
      std::memset(value.raw_data(), 0, value.bytes());
      AttrMap a;
      a.set("value", value);
      a.set("dtype", t);
      zeros = g.create_op("Const", {}, std::move(a), "zeros_like").output(0);
    } else {
      zeros = op(g, "Fill",
                 {xs.is_fully_defined() ? const_ints(g, xs.dims(), "zeros_like/shape_as_tensor")
                                        : shape_of(g, x, "zeros_like/Shape"),
                  grad_util::scalar(g, 0.0, t, "zeros_like/Const")},
                 {}, "zeros_like");
    }
    Output masked_log = op(g, "Select", {mask, log_x, zeros}, {}, "Select_1");
    Output gy = op(g, "Mul", {op(g, "Mul", {dy[0], z}, {}, "mul_2"), masked_log}, {}, "mul_3");
    return reduce_gradient_args(g, x, y, gx, gy);
  });
  // TF 2.21's _SquaredDifferenceGrad: under control_dependencies([grad]), x_grad =
  // scalar_mul(2, grad) * (x - y) (Const "scalar", "Mul", "sub", "mul_1"); y's is -x_grad; then
  // _ReduceGradientArgs, unless the three shapes are fully defined and equal.
  r.set_grad("SquaredDifference", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const DType t = in[0].dtype();
    Output x_grad;
    {
      auto& frames = g.control_frames();
      frames.push_back(Graph::ControlFrame{});
      frames.back().controls.push_back(dy[0].op());
      try {
        Output twice = op(g, "Mul", {grad_util::scalar(g, 2.0, t, "scalar"), dy[0]}, {}, "Mul");
        x_grad = op(g, "Mul", {twice, op(g, "Sub", {in[0], in[1]}, {}, "sub")}, {}, "mul_1");
      } catch (...) {
        frames.pop_back();
        throw;
      }
      frames.pop_back();
    }
    // (Neg has a float32 kernel only: other dtypes multiply by -1.)
    Output neg = t == DType::kFloat32
                     ? op(g, "Neg", {x_grad}, {}, "Neg")
                     : op(g, "Mul", {x_grad, grad_util::scalar(g, -1.0, t, "Neg/y")}, {}, "Neg");
    if (shapes_fully_specified_and_equal(in[0], in[1], dy[0])) return Grads{x_grad, neg};
    return reduce_gradient_args(g, in[0], in[1], x_grad, neg);
  });
  r.set_grad("Maximum", extremum("GreaterEqual"));
  r.set_grad("Minimum", extremum("LessEqual"));
  r.set_grad("Neg", [](Graph& g, const Operation&, const Grads& dy) {
    return Grads{op(g, "Neg", {dy[0]})};
  });
  r.set_grad("Square", [](Graph& g, const Operation& o, const Grads& dy) {
    Output two_x =
        op(g, "Mul", {o.inputs()[0], grad_util::scalar(g, 2.0, DType::kFloat32, "Const")});
    return Grads{op(g, "Mul", {dy[0], two_x}, {}, "Mul_1")};
  });
  r.set_grad("Sqrt", [](Graph& g, const Operation& o, const Grads& dy) {
    // d sqrt(x) = dy * 0.5 / y
    Output half = grad_util::scalar(g, 0.5, DType::kFloat32, "Const");
    return Grads{op(g, "Mul", {dy[0], op(g, "RealDiv", {half, o.output(0)})})};
  });
  r.set_grad("Relu", [](Graph& g, const Operation& o, const Grads& dy) {
    // NOTE: TF differentiates through the output (y > 0 exactly where x > 0).
    return Grads{op(g, "ReluGrad", {dy[0], o.output(0)})};
  });
  r.set_grad("BiasAdd", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{dy[0], op(g, "BiasAddGrad", {dy[0]}, copy_attrs(o, {"data_format"}))};
  });
  // TF's _ConcatGradHelper: dy cut back into the values' sizes along the axis.
  r.set_grad("ConcatV2", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const std::size_t n = in.size() - 1;
    if (in[n].op().type() != "Const")
      throw ValueError(str_cat("gradient of ", o.name(), ": axis must be a constant"));
    const Tensor& axis_value = in[n].op().attrs().get<Tensor>("value");
    std::int64_t axis = axis_value.dtype() == DType::kInt32 ? axis_value.scalar<std::int32_t>()
                                                            : axis_value.scalar<std::int64_t>();
    int rank = -1;
    for (std::size_t i = 0; i < n && rank < 0; ++i)
      if (in[i].shape().has_rank()) rank = in[i].shape().rank();
    if (rank < 0)
      throw ValueError(str_cat("gradient of ", o.name(),
                               ": its values have unknown rank; this gradient needs a known rank"));
    if (axis < 0) axis += rank;
    // Each value's size along the axis: static where known; one unknown is SplitV's -1 (the
    // rest); more are read from the values' shapes at run time.
    std::vector<std::int64_t> sizes;
    int unknown = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Shape si = in[i].shape();
      sizes.push_back(si.has_rank() ? si.dims()[static_cast<std::size_t>(axis)] : -1);
      unknown += sizes.back() < 0;
    }
    Output size_splits;
    if (unknown <= 1) {
      size_splits = const_ints(g, sizes, "Const");
    } else {
      std::vector<Output> parts;
      for (std::size_t i = 0; i < n; ++i)
        parts.push_back(sizes[i] >= 0
                            ? const_ints(g, {sizes[i]}, "Const")
                            : op(g, "GatherV2",
                                 {shape_of(g, in[i], "Shape"), const_ints(g, {axis}, "Const"),
                                  const_ints(g, {0}, "Const")},
                                 {}, "GatherV2"));
      parts.push_back(grad_util::scalar(g, 0, DType::kInt32, "concat/axis"));
      size_splits = op(g, "ConcatV2", parts, {}, "concat");
    }
    AttrMap a;
    a.set("num_split", static_cast<std::int64_t>(n));
    Operation split = g.create_op("SplitV", {dy[0], size_splits, const_ints(g, {axis}, "axis")},
                                  std::move(a), "split");
    Grads out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(split.output(static_cast<int>(i)));
    out.emplace_back();  // the axis
    return out;
  });
  // TF's _SplitVGrad: the pieces' gradients joined (zeros for pieces without one).
  r.set_grad("SplitV", [](Graph& g, const Operation& o, const Grads& dy) {
    std::vector<Output> parts;
    for (int i = 0; i < o.num_outputs(); ++i) {
      const Output& d = dy[static_cast<std::size_t>(i)];
      if (d.valid()) {
        parts.push_back(d);
      } else {
        parts.push_back(zeros_like(g, o.output(i)));
      }
    }
    auto in = o.inputs();
    parts.push_back(in[2]);
    return Grads{op(g, "ConcatV2", parts, {}, "concat"), Output(), Output()};
  });
  // TF's _GatherV2Grad (batch_dims 0), dense: dy's rows summed into params' rows by one
  // UnsortedSegmentSum (TF returns IndexedSlices). Along an axis after leading dimensions of
  // size `outer`, row j of leading index o goes to segment o * limit + indices[j].
  r.set_grad("GatherV2", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const Shape ps = in[0].shape();
    const Shape is = in[1].shape();
    if (!ps.has_rank())
      throw ValueError(str_cat("gradient of ", o.name(), ": params ", in[0].name(),
                               " has unknown rank; this gradient needs a known rank"));
    if (in[2].op().type() != "Const")
      throw ValueError(str_cat("gradient of ", o.name(), ": axis must be a constant"));
    const Tensor& axis_value = in[2].op().attrs().get<Tensor>("value");
    std::int64_t axis = axis_value.dtype() == DType::kInt32
                            ? axis_value.to_vector<std::int32_t>().at(0)
                            : axis_value.to_vector<std::int64_t>().at(0);
    if (axis < 0) axis += ps.rank();
    std::int64_t outer = 1, inner = 1;
    bool trailing_known = true;
    for (int k = 0; k < ps.rank(); ++k) {
      const std::int64_t d = ps.dims()[static_cast<std::size_t>(k)];
      if (k < axis && d < 0)
        throw ValueError(str_cat("gradient of ", o.name(), ": params ", in[0].name(), " has shape ",
                                 ps.to_string(),
                                 "; this gradient needs the dimensions before the gathered one"));
      if (k > axis && d < 0) trailing_known = false;
      if (k < axis) outer *= d;
      if (k > axis) inner *= d;
    }
    if (!trailing_known && axis != 0)
      throw ValueError(str_cat("gradient of ", o.name(), ": params ", in[0].name(), " has shape ",
                               ps.to_string(),
                               "; along an axis other than 0 this gradient needs the dimensions "
                               "after the gathered one"));
    // The gathered dimension: a Const, or read from params' shape at run time.
    const std::int64_t limit = ps.dims()[static_cast<std::size_t>(axis)];
    const DType it = in[1].dtype();
    Output limit_t;
    if (limit >= 0) {
      limit_t = int_const(g, it, {limit}, Shape{}, "limit");
    } else {
      AttrMap st;
      st.set("out_type", it);
      limit_t = op(g, "GatherV2",
                   {op(g, "Shape", {in[0]}, std::move(st), "Shape_params"),
                    const_ints(g, {axis}, "limit/index"), const_ints(g, {0}, "limit/axis")},
                   {}, "limit");
    }
    // The segment of each index: `placed` (the index, offset by its leading row) where
    // 0 <= raw < limit, else -1 (dropped): an invalid index (a zero row in the forward pass on
    // a GPU) reaches no row, not a neighbouring leading row.
    auto segments_of = [&](const Output& raw, const Output& placed) {
      Output below = op(g, "Less", {raw, limit_t}, {}, "Less");
      Output nonnegative =
          op(g, "LogicalNot",
             {op(g, "Less", {raw, int_const(g, it, {0}, Shape{}, "zero")}, {}, "Less_1")}, {},
             "LogicalNot");
      Output valid =
          op(g, "Mul", {cast_to(g, below, it, "Cast"), cast_to(g, nonnegative, it, "Cast_1")}, {},
             "valid");
      // placed * valid + (valid - 1)
      return op(g, "AddV2",
                {op(g, "Mul", {placed, valid}, {}, "Mul"),
                 op(g, "Sub", {valid, int_const(g, it, {1}, Shape{}, "one")}, {}, "Sub")},
                {}, "segments");
    };
    if (!trailing_known) {
      // Along axis 0 with params' later dimensions known at run time only (TF reads
      // shape(params)): dy as [count] + params.shape[1:], summed by segment as it is.
      std::vector<std::int64_t> rest;
      for (int k = 1; k < ps.rank(); ++k) rest.push_back(k);
      AttrMap st;
      st.set("out_type", DType::kInt32);
      Output trailing =
          op(g, "GatherV2",
             {op(g, "Shape", {in[0]}, st, "Shape_params_1"), const_ints(g, rest, "trailing/index"),
              const_ints(g, {0}, "trailing/axis")},
             {}, "trailing");
      Output count =
          op(g, "Reshape", {op(g, "Size", {in[1]}, st, "Size"), const_ints(g, {1}, "count/shape")},
             {}, "count");
      Output values_shape =
          op(g, "ConcatV2",
             {count, trailing, grad_util::scalar(g, 0, DType::kInt32, "values_shape/axis")}, {},
             "values_shape");
      Output values = op(g, "Reshape", {dy[0], values_shape}, {}, "Reshape");
      Output ids = op(g, "Reshape", {in[1], const_ints(g, {-1}, "Shape_1")}, {}, "Reshape_1");
      ids = segments_of(ids, ids);
      Output sum = op(g, "UnsortedSegmentSum", {values, ids, limit_t}, {}, "UnsortedSegmentSum");
      AttrMap rows;
      rows.set(kGradientRowsAttr, ids.op().name());
      rows.set(kGradientGatherAttr, o.name());
      return Grads{
          op(g, "Reshape", {sum, shape_of(g, in[0], "Shape_4")}, std::move(rows), "Reshape_4"),
          Output(), Output()};
    }
    // The number of indices; -1 (inferred by each Reshape) when their shape is only known at
    // run time (params has elements: inner > 0).
    std::int64_t count = is.is_fully_defined() ? is.num_elements() : -1;
    if (count < 0 && inner == 0) static_shape(in[1], "GatherV2");  // raises
    const std::int64_t num_rows = count < 0 ? -1 : outer * count;
    Output values =
        op(g, "Reshape", {dy[0], const_ints(g, {num_rows, inner}, "Shape")}, {}, "Reshape");
    Output ids = op(g, "Reshape", {in[1], const_ints(g, {1, count}, "Shape_1")}, {}, "Reshape_1");
    // 1 where 0 <= index < limit, else 0: an invalid index (a zero row in the forward pass on a
    // GPU) becomes segment -1, dropped, instead of reaching a neighbouring leading row.
    Output placed = ids;
    if (outer > 1) {
      std::vector<std::int64_t> base;
      for (std::int64_t i = 0; i < outer; ++i) base.push_back(limit >= 0 ? i * limit : i);
      Output offsets = int_const(g, it, base, Shape{outer, 1}, "offsets");
      if (limit < 0) offsets = op(g, "Mul", {offsets, limit_t}, {}, "offsets/mul");
      placed = op(g, "AddV2", {ids, offsets}, {}, "AddV2");
    }
    ids = segments_of(ids, placed);
    ids = op(g, "Reshape", {ids, const_ints(g, {num_rows}, "Shape_3")}, {}, "Reshape_3");
    Output segments =
        limit >= 0
            ? const_ints(g, {outer * limit}, "Const")
            : op(g, "Mul", {int_const(g, it, {outer}, Shape{}, "outer"), limit_t}, {}, "Const");
    Output sum = op(g, "UnsortedSegmentSum", {values, ids, segments}, {}, "UnsortedSegmentSum");
    // Along axis 0 the segments are the rows the gradient touches (-1: none): TF's IndexedSlices
    // of this gradient. Named on the gradient so that optimizers whose sparse update differs
    // from the dense one (MomentumOptimizer: untouched rows keep still) can update those rows.
    AttrMap rows;
    if (axis == 0) {
      rows.set(kGradientRowsAttr, ids.op().name());
      rows.set(kGradientGatherAttr, o.name());
    }
    return Grads{
        op(g, "Reshape", {sum, shape_of(g, in[0], "Shape_4")}, std::move(rows), "Reshape_4"),
        Output(), Output()};
  });
  // TF's _UnsortedSegmentSumGrad (_GatherDropNegatives): each data row takes its segment's
  // gradient; rows with a negative id (dropped by the sum) get zeros.
  r.set_grad("UnsortedSegmentSum", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const Shape ids_shape = in[1].shape();
    const Shape data_shape = in[0].shape();
    if (!ids_shape.has_rank() || !data_shape.has_rank())
      throw ValueError(str_cat("gradient of ", o.name(), ": data ", data_shape.to_string(),
                               " and segment_ids ", ids_shape.to_string(),
                               " need known ranks for this gradient"));
    const DType it = in[1].dtype();
    Output zero = int_const(g, it, {0}, Shape{}, "zero");
    Output keep = op(g, "LogicalNot", {op(g, "Less", {in[1], zero}, {}, "Less")}, {}, "LogicalNot");
    // Negative ids read row 0, then masked to zero.
    Output safe = op(g, "Mul", {in[1], cast_to(g, keep, it, "Cast")}, {}, "Mul");
    Output rows = op(g, "GatherV2", {dy[0], safe, const_ints(g, {0}, "axis")}, {}, "GatherV2");
    // The mask with data's trailing dimensions as 1s: ids' shape, then ones.
    std::vector<std::int64_t> mask_dims = ids_shape.dims();
    const std::vector<std::int64_t> ones(
        static_cast<std::size_t>(data_shape.rank() - ids_shape.rank()), 1);
    mask_dims.insert(mask_dims.end(), ones.begin(), ones.end());
    Output mask = cast_to(g, keep, dy[0].dtype(), "Cast_1");
    if (!ones.empty())
      mask = op(g, "Reshape",
                {mask, reshape_target(g, mask_dims, "Shape",
                                      [&] {
                                        return op(
                                            g, "ConcatV2",
                                            {shape_of(g, in[1], "Shape/ids"),
                                             const_ints(g, ones, "Shape/ones"),
                                             grad_util::scalar(g, 0, DType::kInt32, "Shape/axis")},
                                            {}, "Shape");
                                      })},
                {}, "Reshape");
    return Grads{op(g, "Mul", {rows, mask}, {}, "Mul_1"), Output(), Output()};
  });
  r.set_grad("_FusedBiasAddRelu", [](Graph& g, const Operation& o, const Grads& dy) {
    Output pre = op(g, "ReluGrad", {dy[0], o.output(0)});
    return Grads{pre, op(g, "BiasAddGrad", {pre}, copy_attrs(o, {"data_format"}))};
  });
  r.set_grad("Conv2D", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const AttrMap a = copy_attrs(o, {"strides", "padding", "dilations", "data_format"});
    Output dx = op(g, "Conv2DBackpropInput", {shape_of(g, in[0], "Shape"), in[1], dy[0]}, a);
    Output dw = op(g, "Conv2DBackpropFilter", {in[0], shape_of(g, in[1], "Shape_1"), dy[0]}, a);
    return Grads{dx, dw};
  });
  r.set_grad("MaxPool", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{op(g, "MaxPoolGrad", {o.inputs()[0], o.output(0), dy[0]},
                    copy_attrs(o, {"ksize", "strides", "padding", "data_format"}))};
  });
  r.set_grad("AvgPool", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{op(g, "AvgPoolGrad", {shape_of(g, o.inputs()[0], "Shape"), dy[0]},
                    copy_attrs(o, {"ksize", "strides", "padding", "data_format"}))};
  });
  r.set_grad("MatMul", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    const Output& a = in[0];
    const Output& b = in[1];
    const bool ta = o.attrs().get_or<bool>("transpose_a", false);
    const bool tb = o.attrs().get_or<bool>("transpose_b", false);
    auto mm = [&](const Output& x, const Output& y, bool t1, bool t2, const char* name) {
      AttrMap at;
      at.set("transpose_a", t1);
      at.set("transpose_b", t2);
      return op(g, "MatMul", {x, y}, std::move(at), name);
    };
    if (!ta && !tb)
      return Grads{mm(dy[0], b, false, true, "MatMul"), mm(a, dy[0], true, false, "MatMul_1")};
    if (!ta && tb)
      return Grads{mm(dy[0], b, false, false, "MatMul"), mm(dy[0], a, true, false, "MatMul_1")};
    if (ta && !tb)
      return Grads{mm(b, dy[0], false, true, "MatMul"), mm(a, dy[0], false, false, "MatMul_1")};
    return Grads{mm(b, dy[0], true, true, "MatMul"), mm(dy[0], a, true, true, "MatMul_1")};
  });
  r.set_grad("Sum", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{sum_gradient(g, o, dy[0]), Output()};
  });
  r.set_grad("Mean", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{mean_gradient(g, o, dy[0]), Output()};
  });
  r.set_grad("Max", [](Graph& g, const Operation& o, const Grads& dy) {
    // TF 2.21's _MinOrMaxGrad: dy goes to the elements equal to the maximum, split evenly on
    // ties.
    const Output x = o.inputs()[0];
    const Output input_shape = shape_of(g, x, "Shape");
    Output y = o.output(0), grad = dy[0];
    std::optional<ReducedShape> kept;
    if (!o.attrs().get_or<bool>("keep_dims", false)) {
      kept = reduced_shape(g, o, input_shape, o.inputs()[1]);
      y = reshape_to(g, y, *kept);
      grad = reshape_to(g, grad, *kept);
    } else {
      kept = ReducedShape{std::nullopt, shape_of(g, y, "Shape")};
    }
    Output indicators = cast_to(g, op(g, "Equal", {y, x}, {}, "Equal"), grad.dtype(), "Cast");
    AttrMap keep;
    keep.set("keep_dims", false);
    Output num_selected =
        reshape_to(g, op(g, "Sum", {indicators, o.inputs()[1]}, std::move(keep), "Sum"), *kept);
    return Grads{op(g, "Mul", {op(g, "RealDiv", {indicators, num_selected}, {}, "truediv"), grad},
                    {}, "mul"),
                 Output()};
  });
  // TF's _FloorGrad: no gradient (the derivative is 0 almost everywhere).
  r.set_grad("Floor", [](Graph&, const Operation&, const Grads&) { return Grads{Output()}; });
  r.set_grad("Ceil", [](Graph&, const Operation&, const Grads&) { return Grads{Output()}; });
  // TF's _TransposeGrad: dy transposed by InvertPermutation(perm) (for a Const perm, constant
  // folding makes the inverse a Const at plan time).
  r.set_grad("Transpose", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    return Grads{
        op(g, "Transpose", {dy[0], op(g, "InvertPermutation", {in[1]}, {}, "InvertPermutation")},
           {}, "transpose"),
        Output()};
  });
  // TF's _SelectGrad: dy to x where the condition holds, to y elsewhere; none for it.
  r.set_grad("Select", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    Output zeros = zeros_like(g, in[1]);
    return Grads{Output(), op(g, "Select", {in[0], dy[0], zeros}, {}, "Select"),
                 op(g, "Select", {in[0], zeros, dy[0]}, {}, "Select_1")};
  });
  // TF's _ExpandDimsGrad / _SqueezeGrad: dy reshaped to the input's shape.
  r.set_grad("ExpandDims", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{op(g, "Reshape", {dy[0], shape_of(g, o.inputs()[0], "Shape")}), Output()};
  });
  r.set_grad("Squeeze", [](Graph& g, const Operation& o, const Grads& dy) {
    return Grads{op(g, "Reshape", {dy[0], shape_of(g, o.inputs()[0], "Shape")})};
  });
  // TF's _ReshapeGrad: dy reshaped to x's shape; a Const with -1 where one dimension of x is
  // unknown and none is 0 (no run-time Shape op), the run-time shape for more unknowns.
  r.set_grad("Reshape", [](Graph& g, const Operation& o, const Grads& dy) {
    const Shape xs = o.inputs()[0].shape();
    if (xs.has_rank() && !xs.is_fully_defined()) {
      const auto& d = xs.dims();
      if (std::count(d.begin(), d.end(), -1) == 1 && std::count(d.begin(), d.end(), 0) == 0)
        return Grads{op(g, "Reshape", {dy[0], const_ints(g, d, "Reshape/shape")}, {}, "Reshape"),
                     Output()};
    }
    return Grads{op(g, "Reshape", {dy[0], shape_of(g, o.inputs()[0], "Shape")}), Output()};
  });
  // TF's _SoftmaxCrossEntropyWithLogitsGrad: logits get dloss[:, None] * backprop (the op's
  // softmax - labels, whatever the labels sum to), plus, for a gradient reaching backprop,
  // (g - sum(g * softmax, 1)) * softmax; labels get dloss[:, None] * -log_softmax(logits).
  r.set_grad("SoftmaxCrossEntropyWithLogits", [](Graph& g, const Operation& o, const Grads& dy) {
    auto in = o.inputs();
    Output dlogits, dlabels;
    if (dy[0].valid()) {
      Output col = op(g, "Reshape", {dy[0], const_ints(g, {-1, 1}, "Shape")}, {}, "ExpandDims");
      dlogits = op(g, "Mul", {col, o.output(1)}, {}, "mul");
      Output neg_log_softmax =
          op(g, "Neg", {op(g, "LogSoftmax", {in[0]}, {}, "LogSoftmax")}, {}, "Neg");
      dlabels = op(g, "Mul", {col, neg_log_softmax}, {}, "mul_1");
    }
    if (dy.size() > 1 && dy[1].valid() && !grad_util::is_zeros_tensor(dy[1])) {
      Output softmax = op(g, "Softmax", {in[0]}, {}, "Softmax");
      AttrMap keep;
      keep.set("keep_dims", true);
      Output dot =
          op(g, "Sum", {op(g, "Mul", {dy[1], softmax}, {}, "mul_2"), const_ints(g, {1}, "Const")},
             std::move(keep), "Sum");
      Output second = op(g, "Mul", {op(g, "Sub", {dy[1], dot}, {}, "sub"), softmax}, {}, "mul_3");
      dlogits = dlogits.valid() ? op(g, "AddV2", {dlogits, second}, {}, "add") : second;
    }
    return Grads{dlogits, dlabels};
  });
  r.set_grad("SparseSoftmaxCrossEntropyWithLogits", [](Graph& g, const Operation& o,
                                                       const Grads& dy) {
    // NOTE: TF's PreventGradient on the second output: a gradient reaching it (a second
    // derivative through the loss) would otherwise be silently dropped.
    if (dy.size() > 1 && dy[1].valid() && !grad_util::is_zeros_tensor(dy[1]))
      throw ValueError(
          "Gradient explicitly disabled. Reason: Currently there is no way to take the second "
          "derivative of sparse_softmax_cross_entropy_with_logits due to the fused "
          "implementation's interaction with tf.gradients()");
    // dlogits = dloss[:, None] * (softmax - onehot), the op's second output.
    const Shape ls = o.inputs()[0].shape();
    const std::int64_t batch = ls.has_rank() && ls.rank() >= 1 ? ls.dims()[0] : -1;
    Output col = op(g, "Reshape", {dy[0], const_ints(g, {batch, 1}, "Shape")}, {}, "ExpandDims");
    return Grads{op(g, "Mul", {col, o.output(1)}), Output()};
  });
}

}  // namespace scopeflow
