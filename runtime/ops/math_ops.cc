// Definitions of the math ops behind a training script's accuracy and softmax gradients (TF
// names, shape functions and gradients together): Cast, Equal/NotEqual/Less/Greater, ArgMax,
// L2Loss, Exp. Kernels: kernels/cast/, kernels/math/compare_cpu.cc, kernels/argmax/,
// kernels/reduce/ (L2Loss), kernels/math/.
#include <algorithm>

#include "devices/base/errors.h"
#include "kernels/cast/cast.h"
#include "kernels/math/binary.h"
#include "runtime/gradients.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace {

using Grads = std::vector<Output>;

// TF's message when two inputs of one type attr disagree (a TypeError in Python).
void require_same_dtype(const ShapeContext& c, const char* op) {
  if (c.input_dtypes[0] != c.input_dtypes[1])
    throw ValueError(str_cat("Input 'y' of '", op, "' Op has type ", dtype_name(c.input_dtypes[1]),
                             " that does not match type ", dtype_name(c.input_dtypes[0]),
                             " of argument 'x'."));
}

void require_one_of(const ShapeContext& c, std::size_t i, std::initializer_list<DType> allowed,
                    const char* what) {
  const DType d = c.input_dtypes[i];
  if (std::find(allowed.begin(), allowed.end(), d) == allowed.end())
    throw ValueError(str_cat(c.node_name, ": ", what, " does not support ", dtype_name(d)));
}

// Broadcasting comparison: bool output of the inputs' broadcast shape.
void comparison_shape(ShapeContext& c, const char* op, bool allow_bool) {
  require_same_dtype(c, op);
  if (allow_bool)
    require_one_of(
        c, 0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kBool}, op);
  else
    require_one_of(c, 0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64}, op);
  try {
    c.set_output(DType::kBool,
                 kernels::broadcast_shapes(c.input_shapes[0], c.input_shapes[1], c.node_name));
  } catch (const InvalidArgumentError& e) {
    throw ValueError(e.what());
  }
}

void cast_shape(ShapeContext& c) {
  const DType to = c.attr().get<DType>("DstT");
  const DType from = c.attr().get_or<DType>("SrcT", c.input_dtypes[0]);
  if (from != c.input_dtypes[0])
    throw ValueError(str_cat(c.node_name, ": input is ", dtype_name(c.input_dtypes[0]),
                             " but SrcT is ", dtype_name(from)));
  const auto& ok = kernels::cast_dtypes();
  for (DType d : {from, to})
    if (std::find(ok.begin(), ok.end(), d) == ok.end())
      throw ValueError(str_cat(c.node_name, ": Cast does not support ", dtype_name(d)));
  c.set_output(to, c.input_shapes[0]);
}

void argmax_shape(ShapeContext& c) {
  require_one_of(c, 0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64},
                 "ArgMax input");
  require_one_of(c, 1, {DType::kInt32, DType::kInt64}, "ArgMax dimension");
  const DType out = c.attr().get_or<DType>("output_type", DType::kInt64);
  if (out != DType::kInt32 && out != DType::kInt64)
    throw ValueError(
        str_cat(c.node_name, ": output_type must be int32 or int64, got ", dtype_name(out)));
  const Shape& in = c.input_shapes[0];
  const Tensor* dim = c.input_values[1];
  if (!in.has_rank()) {
    c.set_output(out, Shape::unknown());
    return;
  }
  const int rank = in.rank();
  if (dim == nullptr) {
    c.set_output(
        out, rank == 0 ? Shape::unknown()
                       : Shape(std::vector<std::int64_t>(static_cast<std::size_t>(rank - 1), -1)));
    return;
  }
  if (dim->num_elements() != 1)
    throw ValueError(
        str_cat(c.node_name, ": dimension must be a scalar, got shape ", dim->shape().to_string()));
  std::int64_t axis =
      dim->dtype() == DType::kInt32 ? dim->scalar<std::int32_t>() : dim->scalar<std::int64_t>();
  if (axis < -rank || axis >= rank)
    throw ValueError(str_cat(c.node_name, ": Expected dimension in the range [", -rank, ", ", rank,
                             "), but got ", axis));
  if (axis < 0) axis += rank;
  std::vector<std::int64_t> dims;
  for (int i = 0; i < rank; ++i)
    if (i != axis) dims.push_back(in.dims()[static_cast<std::size_t>(i)]);
  c.set_output(out, Shape(dims));
}

}  // namespace

void register_math_ops(OpRegistry& r) {
  r.add({.name = "Cast",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = cast_shape,
         // TF's _CastGrad: cast the gradient back when both types are floating, else none.
         .grad = [](Graph& g, const Operation& o, const Grads& dy) -> Grads {
           const DType src = o.inputs()[0].dtype();
           const DType dst = o.output(0).dtype();
           if (!is_floating(src) || !is_floating(dst)) return {Output()};
           return {grad_util::cast_to(g, dy[0], src, "Cast")};
         }});
  // Comparisons and ArgMax: TF's ops.NotDifferentiable.
  r.add({.name = "Equal",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) { comparison_shape(c, "Equal", true); },
         .not_differentiable = true});
  r.add({.name = "NotEqual",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) { comparison_shape(c, "NotEqual", true); },
         .not_differentiable = true});
  r.add({.name = "Less",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) { comparison_shape(c, "Less", false); },
         .not_differentiable = true});
  r.add({.name = "Greater",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) { comparison_shape(c, "Greater", false); },
         .not_differentiable = true});
  r.add({.name = "LessEqual",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) { comparison_shape(c, "LessEqual", false); },
         .not_differentiable = true});
  r.add({.name = "GreaterEqual",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) { comparison_shape(c, "GreaterEqual", false); },
         .not_differentiable = true});
  r.add({.name = "ArgMax",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = argmax_shape,
         .not_differentiable = true,
         .host_memory_inputs = {1}});  // dimension: read on the host
  // TF's L2Loss: sum(t^2) / 2, a scalar; d/dt = t * dy.
  r.add({.name = "L2Loss",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape =
             [](ShapeContext& c) {
               require_one_of(c, 0, {DType::kFloat32}, "L2Loss");
               c.set_output(DType::kFloat32, Shape{});
             },
         .grad =
             [](Graph& g, const Operation& o, const Grads& dy) {
               return Grads{grad_util::op(g, "Mul", {o.inputs()[0], dy[0]}, {}, "mul")};
             }});
  r.add({.name = "Exp",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape =
             [](ShapeContext& c) {
               require_one_of(c, 0, {DType::kFloat32}, "Exp");
               c.set_output(DType::kFloat32, c.input_shapes[0]);
             },
         // d exp(x) = dy * y
         .grad =
             [](Graph& g, const Operation& o, const Grads& dy) {
               return Grads{grad_util::op(g, "Mul", {dy[0], o.output(0)}, {}, "mul")};
             }});
  // TF's Log, Sigmoid, Tanh (float32). Gradients as TF's math_grad (_LogGrad: dy / x;
  // SigmoidGrad: dy * y * (1 - y); TanhGrad: dy * (1 - y^2)), written with graph ops so that
  // they have gradients themselves.
  auto unary_float = [](const char* name) {
    return [name](ShapeContext& c) {
      require_one_of(c, 0, {DType::kFloat32}, name);
      c.set_output(DType::kFloat32, c.input_shapes[0]);
    };
  };
  auto float_or_double = [](const char* name) {
    return [name](ShapeContext& c) {
      require_one_of(c, 0, {DType::kFloat32, DType::kFloat64}, name);
      c.set_output(c.input_dtypes[0], c.input_shapes[0]);
    };
  };
  r.add({.name = "Log",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = float_or_double("Log"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           return Grads{grad_util::op(g, "RealDiv", {dy[0], o.inputs()[0]}, {}, "truediv")};
         }});
  r.add({.name = "Sigmoid",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = unary_float("Sigmoid"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           const Output y = o.output(0);
           Output one_minus_y = grad_util::op(
               g, "Sub", {grad_util::scalar(g, 1.0, DType::kFloat32, "Const"), y}, {}, "sub");
           Output slope = grad_util::op(g, "Mul", {y, one_minus_y}, {}, "mul");
           return Grads{grad_util::op(g, "Mul", {dy[0], slope}, {}, "mul_1")};
         }});
  // TF's _SinGrad: dy * cos(x); _CosGrad: -dy * sin(x).
  r.add({.name = "Sin",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = float_or_double("Sin"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           return Grads{grad_util::op(
               g, "Mul", {dy[0], grad_util::op(g, "Cos", {o.inputs()[0]}, {}, "Cos")}, {}, "mul")};
         }});
  r.add({.name = "Cos",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = float_or_double("Cos"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           // -dy * sin(x) as dy * (sin(x) * -1): Neg is float32 only.
           const Output x = o.inputs()[0];
           Output neg_sin = grad_util::op(g, "Mul",
                                          {grad_util::op(g, "Sin", {x}, {}, "Sin"),
                                           grad_util::scalar(g, -1.0, x.dtype(), "Neg")},
                                          {}, "Neg");
           return Grads{grad_util::op(g, "Mul", {dy[0], neg_sin}, {}, "mul")};
         }});
  // TF's Rsqrt; _RsqrtGrad (RsqrtGrad: -0.5 * (dy * y) * (y * y)) written with graph ops.
  r.add({.name = "Rsqrt",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = float_or_double("Rsqrt"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           const Output y = o.output(0);
           Output dyy = grad_util::op(g, "Mul", {dy[0], y}, {}, "mul");
           Output half = grad_util::op(
               g, "Mul", {grad_util::scalar(g, -0.5, y.dtype(), "Const"), dyy}, {}, "mul_1");
           return Grads{grad_util::op(
               g, "Mul", {half, grad_util::op(g, "Mul", {y, y}, {}, "mul_2")}, {}, "mul_3")};
         }});
  // TF's _Log1pGrad: dy / (1 + x).
  r.add({.name = "Log1p",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = unary_float("Log1p"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           Output one_plus = grad_util::op(
               g, "AddV2", {grad_util::scalar(g, 1.0, DType::kFloat32, "Const"), o.inputs()[0]}, {},
               "add");
           return Grads{grad_util::op(g, "RealDiv", {dy[0], one_plus}, {}, "truediv")};
         }});
  // TF's _AbsGrad: dy * sign(x); _SignGrad: zeros.
  r.add(
      {.name = "Abs",
       .min_inputs = 1,
       .max_inputs = 1,
       .shape = unary_float("Abs"),
       .grad = [](Graph& g, const Operation& o, const Grads& dy) {
         return Grads{grad_util::op(
             g, "Mul", {dy[0], grad_util::op(g, "Sign", {o.inputs()[0]}, {}, "Sign")}, {}, "mul")};
       }});
  r.add({.name = "Sign",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = unary_float("Sign"),
         .grad = [](Graph& g, const Operation& o, const Grads&) {
           return Grads{grad_util::op(g, "Fill",
                                      {grad_util::shape_of(g, o.inputs()[0], "Shape"),
                                       grad_util::scalar(g, 0.0, DType::kFloat32, "zeros")},
                                      {}, "zeros_like")};
         }});
  r.add({.name = "Tanh",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = unary_float("Tanh"),
         .grad = [](Graph& g, const Operation& o, const Grads& dy) {
           const Output y = o.output(0);
           Output slope = grad_util::op(g, "Sub",
                                        {grad_util::scalar(g, 1.0, DType::kFloat32, "Const"),
                                         grad_util::op(g, "Mul", {y, y}, {}, "mul")},
                                        {}, "sub");
           return Grads{grad_util::op(g, "Mul", {dy[0], slope}, {}, "mul_1")};
         }});
}

}  // namespace scopeflow
