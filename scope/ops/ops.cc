// Op builders. See ops.h.
#include "scope/ops/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <variant>

#include "devices/base/errors.h"
#include "scope/ops/embedding.h"
#include "scope/ops/nn.h"
#include "scope/scopes.h"

namespace scopeflow {
namespace {

std::string op_name(std::string_view name, const char* fallback) {
  return name.empty() ? std::string(fallback) : std::string(name);
}

Output make_const(const Tensor& value, std::string_view name) {
  AttrMap attrs;
  attrs.set("value", value);
  attrs.set("dtype", value.dtype());
  return get_default_graph()
      .create_op("Const", {}, std::move(attrs), op_name(name, "Const"))
      .output(0);
}

Output shape_const(const Shape& shape, std::string_view name) {
  if (!shape.is_fully_defined())
    throw ValueError(str_cat("Shape ", shape.to_string(), " must be fully defined"));
  std::vector<std::int32_t> dims;
  for (auto d : shape.dims()) {
    if (d > std::numeric_limits<std::int32_t>::max())
      throw ValueError(str_cat("Dimension ", d, " of ", shape.to_string(), " is too large"));
    dims.push_back(static_cast<std::int32_t>(d));
  }
  return make_const(
      Tensor::from_vector<std::int32_t>(dims, Shape{static_cast<std::int64_t>(dims.size())}), name);
}

// `shape`: a Shape (made a Const "shape" inside the scope) or a shape tensor (int32/int64).
Output random_op(const char* op_type, const char* default_name,
                 const std::variant<Shape, Output>& shape, double a, double b, DType dtype,
                 std::optional<std::int64_t> seed, std::string_view name, bool uniform) {
  if (dtype != DType::kFloat32)
    throw ValueError(str_cat(default_name, ": only float32 is supported, got ", dtype_name(dtype)));
  if (const Output* t = std::get_if<Output>(&shape);
      t && t->dtype() != DType::kInt32 && t->dtype() != DType::kInt64)
    throw ValueError(str_cat(default_name, ": shape ", t->name(), " must be int32 or int64, got ",
                             dtype_name(t->dtype())));
  if (const Output* t = std::get_if<Output>(&shape);
      t && t->shape().has_rank() && t->shape().rank() != 1)
    throw ValueError(str_cat(default_name, ": shape ", t->name(), " must be a vector, got shape ",
                             t->shape().to_string()));
  name_scope scope(name, default_name);
  Graph g = get_default_graph();
  Output shape_t = std::holds_alternative<Shape>(shape)
                       ? shape_const(std::get<Shape>(shape), "shape")
                       : std::get<Output>(shape);
  Output p0 = make_const(detail::scalar_tensor(a, dtype), uniform ? "min" : "mean");
  Output p1 = make_const(detail::scalar_tensor(b, dtype), uniform ? "max" : "stddev");
  auto [s1, s2] = g.get_seed(seed);
  AttrMap attrs;
  attrs.set("dtype", dtype);
  attrs.set("seed", s1);
  attrs.set("seed2", s2);
  Output rnd = g.create_op(op_type, {shape_t}, std::move(attrs), op_type).output(0);
  const std::string final_name = scope.name();  // "random_uniform/": the add takes the scope's name
  if (uniform) {
    Output range = g.create_op("Sub", {p1, p0}, {}, "sub").output(0);
    Output scaled = g.create_op("Mul", {rnd, range}, {}, "mul").output(0);
    return g.create_op("Add", {scaled, p0}, {}, final_name).output(0);
  }
  Output scaled = g.create_op("Mul", {rnd, p1}, {}, "mul").output(0);
  return g.create_op("Add", {scaled, p0}, {}, final_name).output(0);
}

}  // namespace

namespace detail {
Tensor scalar_tensor(double value, DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return Tensor::from_scalar(static_cast<float>(value));
    case DType::kFloat64: return Tensor::from_scalar(value);
    case DType::kInt32:
      if (value != std::floor(value) || value < -2147483648.0 || value > 2147483647.0)
        throw ValueError(str_cat("Value ", value, " cannot be converted to int32"));
      return Tensor::from_scalar(static_cast<std::int32_t>(value));
    case DType::kInt64:
      // (2^63 is the first double past int64; converting it would be undefined.)
      if (value != std::floor(value) || value < -9223372036854775808.0 ||
          value >= 9223372036854775808.0)
        throw ValueError(str_cat("Value ", value, " cannot be converted to int64"));
      return Tensor::from_scalar(static_cast<std::int64_t>(value));
    case DType::kBool: return Tensor::from_scalar(value != 0.0);
    case DType::kFloat16: return Tensor::from_scalar(half(static_cast<float>(value)));
    case DType::kBFloat16: return Tensor::from_scalar(bfloat16_t(static_cast<float>(value)));
    default:
      throw ValueError(str_cat("Cannot make a ", dtype_name(dtype), " constant from a number"));
  }
}
}  // namespace detail

Output constant(const Tensor& value, std::string_view name) {
  if (!value.initialized()) throw ValueError("constant: the tensor is empty");
  return make_const(value.on_host() ? value : value.to(devices::host_device()), name);
}
Output constant(float value, std::string_view name) {
  return make_const(Tensor::from_scalar(value), name);
}
Output constant(double value, std::string_view name) {
  return make_const(Tensor::from_scalar(static_cast<float>(value)), name);
}
Output constant(int value, std::string_view name) {
  return make_const(Tensor::from_scalar(static_cast<std::int32_t>(value)), name);
}
Output constant(std::int64_t value, std::string_view name) {
  return make_const(Tensor::from_scalar(value), name);
}
Output constant(bool value, std::string_view name) {
  return make_const(Tensor::from_scalar(value), name);
}
Output constant(const char* value, std::string_view name) {
  return make_const(Tensor::from_strings({value}, Shape{}), name);
}
Output constant(const std::vector<float>& values, const Shape& shape, std::string_view name) {
  return make_const(Tensor::from_vector<float>(values, shape), name);
}
Output constant(const std::vector<std::int32_t>& values, const Shape& shape,
                std::string_view name) {
  return make_const(Tensor::from_vector<std::int32_t>(values, shape), name);
}
Output constant(const std::vector<std::string>& values, const Shape& shape, std::string_view name) {
  return make_const(Tensor::from_strings(values, shape), name);
}
Output constant(double value, DType dtype, const Shape& shape, std::string_view name) {
  if (!shape.is_fully_defined())
    throw ValueError(str_cat("constant: shape ", shape.to_string(), " must be fully defined"));
  if (dtype == DType::kString) {
    Tensor empty(DType::kString, shape);  // its size checked as any tensor's, before any vector
    return make_const(empty, name);
  }
  Tensor scalar = detail::scalar_tensor(value, dtype);
  Tensor t(dtype, shape);
  const std::size_t es = dtype_size(dtype);
  for (std::int64_t i = 0; i < t.num_elements(); ++i)
    std::memcpy(static_cast<char*>(t.raw_data()) + static_cast<std::size_t>(i) * es,
                scalar.raw_data(), es);
  return make_const(t, name);
}

Output placeholder(DType dtype, const Shape& shape, std::string_view name) {
  AttrMap attrs;
  attrs.set("dtype", dtype);
  attrs.set("shape", shape);
  return get_default_graph()
      .create_op("Placeholder", {}, std::move(attrs), op_name(name, "Placeholder"))
      .output(0);
}

namespace {
Output filled(const Shape& shape, DType dtype, double value, std::string_view name,
              const char* def) {
  name_scope scope(name, def);
  const std::string final_name = scope.name();
  if (shape.is_fully_defined() && shape.num_elements() < 1000)
    return constant(value, dtype, shape, final_name);
  Output dims = shape_const(shape, "shape");
  Output v = dtype == DType::kString ? make_const(Tensor::from_strings({""}, Shape{}), "Const")
                                     : make_const(detail::scalar_tensor(value, dtype), "Const");
  return get_default_graph().create_op("Fill", {dims, v}, {}, final_name).output(0);
}
}  // namespace

Output zeros(const Shape& shape, DType dtype, std::string_view name) {
  return filled(shape, dtype, 0.0, name, "zeros");
}
Output ones(const Shape& shape, DType dtype, std::string_view name) {
  if (dtype == DType::kString) throw ValueError("ones: string tensors have no one");
  return filled(shape, dtype, 1.0, name, "ones");
}
Output fill(const Output& dims, const Output& value, std::string_view name) {
  return get_default_graph().create_op("Fill", {dims, value}, {}, op_name(name, "Fill")).output(0);
}
Output shape(const Output& input, DType out_type, std::string_view name) {
  AttrMap attrs;
  attrs.set("out_type", out_type);
  return get_default_graph()
      .create_op("Shape", {input}, std::move(attrs), op_name(name, "Shape"))
      .output(0);
}
Output size(const Output& input, DType out_type, std::string_view name) {
  AttrMap attrs;
  attrs.set("out_type", out_type);
  return get_default_graph()
      .create_op("Size", {input}, std::move(attrs), op_name(name, "Size"))
      .output(0);
}
Output rank(const Output& input, std::string_view name) {
  name_scope scope(name, "Rank");
  const std::string final_name = scope.name();
  const Shape s = input.shape();
  if (s.has_rank()) return constant(s.rank(), final_name);
  return get_default_graph().create_op("Rank", {input}, {}, final_name).output(0);
}
Output transpose(const Output& x, const std::vector<std::int64_t>& perm, std::string_view name) {
  name_scope scope(name, "transpose");
  const std::string final_name = scope.name();
  std::vector<std::int64_t> p = perm;
  if (p.empty()) {  // TF: the reversed dimensions
    const Shape s = x.shape();
    if (!s.has_rank())
      throw ValueError(
          str_cat("transpose: ", x.name(), " needs a known rank for the default perm"));
    for (int k = s.rank(); k-- > 0;) p.push_back(k);
  }
  std::vector<std::int32_t> p32;
  for (auto v : p) {
    if (v < 0 || v > std::numeric_limits<std::int32_t>::max())
      throw ValueError(str_cat("transpose: perm entry ", v, " is out of range"));
    p32.push_back(static_cast<std::int32_t>(v));
  }
  Output perm_t = make_const(
      Tensor::from_vector<std::int32_t>(p32, Shape{static_cast<std::int64_t>(p32.size())}), "perm");
  return get_default_graph().create_op("Transpose", {x, perm_t}, {}, final_name).output(0);
}
Output transpose(const Output& x, const Output& perm, std::string_view name) {
  if (perm.dtype() != DType::kInt32 && perm.dtype() != DType::kInt64)
    throw ValueError(str_cat("transpose: perm ", perm.name(), " must be int32 or int64, got ",
                             dtype_name(perm.dtype())));
  if (perm.shape().has_rank() && perm.shape().rank() != 1)
    throw ValueError(str_cat("transpose: perm ", perm.name(), " must be a vector, got shape ",
                             perm.shape().to_string()));
  name_scope scope(name, "transpose");
  const std::string final_name = scope.name();
  return get_default_graph().create_op("Transpose", {x, perm}, {}, final_name).output(0);
}
namespace {
// A Python list of integers as TF converts it: int32, or int64 when a value needs it.
Tensor int_list_tensor(const std::vector<std::int64_t>& v) {
  const auto n = static_cast<std::int64_t>(v.size());
  if (std::all_of(v.begin(), v.end(),
                  [](std::int64_t d) { return std::in_range<std::int32_t>(d); }))
    return Tensor::from_vector<std::int32_t>(std::vector<std::int32_t>(v.begin(), v.end()),
                                             Shape{n});
  return Tensor::from_vector<std::int64_t>(v, Shape{n});
}
}  // namespace

Output tile(const Output& input, const std::vector<std::int64_t>& multiples,
            std::string_view name) {
  name_scope scope(name, "Tile");
  const std::string final_name = scope.name();
  Output m = make_const(int_list_tensor(multiples), "multiples");
  return get_default_graph().create_op("Tile", {input, m}, {}, final_name).output(0);
}
Output tile(const Output& input, const Output& multiples, std::string_view name) {
  return get_default_graph()
      .create_op("Tile", {input, multiples}, {}, op_name(name, "Tile"))
      .output(0);
}

namespace {
// TF's range: start, limit and delta cast to the widest of their dtypes (int32 < int64 <
// float32 < float64) inside the "range" scope, then the Range op named by the scope.
Output range_in_scope(name_scope& scope, Output start, Output limit, Output delta) {
  const std::string final_name = scope.name();
  const auto rank_of = [](DType t) {
    switch (t) {
      case DType::kInt32: return 0;
      case DType::kInt64: return 1;
      case DType::kFloat16: return 2;
      case DType::kBFloat16: return 3;
      case DType::kFloat32: return 4;
      case DType::kFloat64: return 5;
      default: return -1;
    }
  };
  DType widest = start.dtype();
  for (const Output* o : {&start, &limit, &delta}) {
    if (rank_of(o->dtype()) < 0)
      throw ValueError(
          str_cat("range: ", o->name(), " is ", dtype_name(o->dtype()),
                  "; range takes int32, int64, float16, bfloat16, float32 or float64"));
    if (rank_of(o->dtype()) > rank_of(widest)) widest = o->dtype();
  }
  start = cast(start, widest);
  limit = cast(limit, widest);
  delta = cast(delta, widest);
  return get_default_graph().create_op("Range", {start, limit, delta}, {}, final_name).output(0);
}
}  // namespace

Output RangeArg::in_scope(const char* name) const {
  return tensor_ ? *tensor_ : make_const(value_, name);
}
Output range(const RangeArg& start, const RangeArg& limit, const RangeArg& delta,
             std::string_view name) {
  name_scope scope(name, "range");
  Output s = start.in_scope("start");
  Output l = limit.in_scope("limit");
  Output d = delta.in_scope("delta");
  return range_in_scope(scope, s, l, d);
}
Output range(const RangeArg& limit, std::string_view name) { return range(0, limit, 1, name); }

Output dynamic_stitch(const std::vector<Output>& indices, const std::vector<Output>& data,
                      std::string_view name) {
  if (indices.empty() || indices.size() != data.size())
    throw ValueError(
        str_cat("dynamic_stitch: needs as many indices as data tensors (at least one), got ",
                indices.size(), " and ", data.size()));
  std::vector<Output> inputs = indices;
  inputs.insert(inputs.end(), data.begin(), data.end());
  AttrMap attrs;
  attrs.set("N", static_cast<std::int64_t>(indices.size()));
  return get_default_graph()
      .create_op("DynamicStitch", inputs, std::move(attrs), op_name(name, "DynamicStitch"))
      .output(0);
}

Output zeros_like(const Output& x, DType dtype, std::string_view name) {
  name_scope scope(name, "zeros_like");
  const std::string final_name = scope.name();
  const DType t = dtype == DType::kInvalid ? x.dtype() : dtype;
  const Shape s = x.shape();
  Graph g = get_default_graph();
  if (s.is_fully_defined()) {  // TF's zeros(shape): a Const under 1000 elements, else a Fill
    if (s.num_elements() < 1000) return constant(0.0, t, s, final_name);
    Output dims = make_const(int_list_tensor(s.dims()), "shape_as_tensor");
    Output v = make_const(detail::scalar_tensor(0, t), "Const");
    return g.create_op("Fill", {dims, v}, {}, final_name).output(0);
  }
  if (t != x.dtype()) {
    Output dims = shape(x, DType::kInt32, "Shape");
    Output v = make_const(detail::scalar_tensor(0, t), "Const");
    return g.create_op("Fill", {dims, v}, {}, final_name).output(0);
  }
  return g.create_op("ZerosLike", {x}, {}, final_name).output(0);
}
Output ones_like(const Output& x, DType dtype, std::string_view name) {
  name_scope scope(name, "ones_like");
  const std::string final_name = scope.name();
  const DType t = dtype == DType::kInvalid ? x.dtype() : dtype;
  if (t == DType::kString) throw ValueError("ones_like: string tensors have no one");
  const Shape s = x.shape();
  Output dims;
  if (s.is_fully_defined()) {
    name_scope shape_scope("", "Shape");
    dims = make_const(int_list_tensor(s.dims()), "shape_as_tensor");
  } else {
    dims = shape(x, DType::kInt32, "Shape");
  }
  Output v = make_const(detail::scalar_tensor(1, t), "Const");
  return get_default_graph().create_op("Fill", {dims, v}, {}, final_name).output(0);
}

Output invert_permutation(const Output& x, std::string_view name) {
  return get_default_graph()
      .create_op("InvertPermutation", {x}, {}, op_name(name, "InvertPermutation"))
      .output(0);
}
Output stop_gradient(const Output& x, std::string_view name) {
  return get_default_graph()
      .create_op("StopGradient", {x}, {}, op_name(name, "StopGradient"))
      .output(0);
}
Output expand_dims(const Output& input, std::int64_t axis, std::string_view name) {
  name_scope scope(name, "ExpandDims");
  const std::string final_name = scope.name();
  if (axis < std::numeric_limits<std::int32_t>::min() ||
      axis > std::numeric_limits<std::int32_t>::max())
    throw ValueError(str_cat("expand_dims: axis ", axis, " does not fit int32"));
  Output dim = make_const(Tensor::from_scalar(static_cast<std::int32_t>(axis)), "dim");
  return get_default_graph().create_op("ExpandDims", {input, dim}, {}, final_name).output(0);
}
Output squeeze(const Output& input, const std::vector<std::int64_t>& axis, std::string_view name) {
  AttrMap attrs;
  attrs.set("squeeze_dims", axis);
  return get_default_graph()
      .create_op("Squeeze", {input}, std::move(attrs), op_name(name, "Squeeze"))
      .output(0);
}
Output one_hot(const Output& indices, std::int64_t depth, double on_value, double off_value,
               std::int64_t axis, DType dtype, std::string_view name) {
  if (depth < 0 || depth > std::numeric_limits<std::int32_t>::max())
    throw ValueError(str_cat("one_hot: depth must be in [0, 2^31), got ", depth));
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64 && dtype != DType::kInt32 &&
      dtype != DType::kInt64)
    throw ValueError(str_cat("one_hot: dtype must be float32, float64, int32 or int64, got ",
                             dtype_name(dtype)));
  name_scope scope(name, "one_hot");
  const std::string final_name = scope.name();
  Output on = make_const(detail::scalar_tensor(on_value, dtype), "on_value");
  Output off = make_const(detail::scalar_tensor(off_value, dtype), "off_value");
  Output d = make_const(Tensor::from_scalar(static_cast<std::int32_t>(depth)), "depth");
  AttrMap attrs;
  attrs.set("axis", axis);
  return get_default_graph()
      .create_op("OneHot", {indices, d, on, off}, std::move(attrs), final_name)
      .output(0);
}
Output identity(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Identity", {x}, {}, op_name(name, "Identity")).output(0);
}
Operation no_op(std::string_view name) {
  return get_default_graph().create_op("NoOp", {}, {}, op_name(name, "NoOp"));
}
Operation group(const std::vector<Operation>& ops, std::string_view name) {
  control_dependencies deps(ops);
  return no_op(name.empty() ? "group_deps" : name);
}
Output stack(const std::vector<Output>& values, std::string_view name) {
  if (values.empty()) throw ValueError("stack: needs at least one value");
  return get_default_graph().create_op("Pack", values, {}, op_name(name, "stack")).output(0);
}
Output add_n(const std::vector<Output>& inputs, std::string_view name) {
  if (inputs.empty()) throw ValueError("add_n: inputs must be a non-empty list of tensors");
  return get_default_graph().create_op("AddN", inputs, {}, op_name(name, "AddN")).output(0);
}
Output logical_not(const Output& x, std::string_view name) {
  return get_default_graph()
      .create_op("LogicalNot", {x}, {}, op_name(name, "LogicalNot"))
      .output(0);
}
Output where(const Output& condition, const Output& x, const Output& y, std::string_view name) {
  return get_default_graph()
      .create_op("Select", {condition, x, y}, {}, op_name(name, "Select"))
      .output(0);
}
Output where(const Output& condition, std::string_view name) {
  return get_default_graph().create_op("Where", {condition}, {}, op_name(name, "Where")).output(0);
}

Output boolean_mask(const Output& x, const Output& mask, std::string_view name) {
  // TF's array_ops.boolean_mask (axis 0): x's first K dimensions (K = mask's rank) merged into
  // one, mask flattened, then gather(x, squeeze(where(mask), [1])).
  if (mask.dtype() != DType::kBool)
    throw ValueError(str_cat("boolean_mask: mask ", mask.name(), " must be bool, got ",
                             dtype_name(mask.dtype())));
  const Shape ms = mask.shape(), xs = x.shape();
  if (!ms.has_rank())
    throw ValueError(
        "boolean_mask: Number of mask dimensions must be specified, even if some dimensions are "
        "None. E.g. shape=[None] is ok, but shape=None is not.");
  if (ms.rank() == 0) throw ValueError("boolean_mask: mask cannot be scalar.");
  const int k = ms.rank();
  if (xs.has_rank()) {
    bool fits = xs.rank() >= k;
    for (int i = 0; fits && i < k; ++i) {
      const auto a = xs.dims()[static_cast<std::size_t>(i)],
                 b = ms.dims()[static_cast<std::size_t>(i)];
      fits = a < 0 || b < 0 || a == b;
    }
    if (!fits)
      throw ValueError(str_cat("boolean_mask: Shapes ", xs.to_string(), " and ", ms.to_string(),
                               " are incompatible (the mask must match x's leading dimensions)"));
  } else if (k > 1) {
    throw ValueError(
        str_cat("boolean_mask: x ", x.name(), " needs a known rank under a mask of rank ", k));
  }
  name_scope scope(name, "boolean_mask");
  Output t = x, m = mask;
  if (k > 1) {
    std::vector<std::int64_t> dims{-1};
    for (int i = k; i < xs.rank(); ++i) dims.push_back(xs.dims()[static_cast<std::size_t>(i)]);
    std::int64_t known = 1;
    bool all_known = true;
    for (std::size_t i = 1; i < dims.size(); ++i) {
      all_known = all_known && dims[i] >= 0;
      if (dims[i] >= 0) known *= dims[i];
    }
    if (all_known && known > 0) {
      t = reshape(t, dims);
    } else {  // [-1] + shape(x)[k:], read at run time
      std::vector<std::int32_t> rest;
      for (int i = k; i < xs.rank(); ++i) rest.push_back(i);
      Output trailing =
          gather(shape(x), constant(rest, Shape{static_cast<std::int64_t>(rest.size())}));
      std::vector<std::int64_t> lead(1, 1);
      for (int i = 0; i < k; ++i)
        lead[0] = lead[0] < 0 || xs.dims()[static_cast<std::size_t>(i)] < 0
                      ? -1
                      : lead[0] * xs.dims()[static_cast<std::size_t>(i)];
      Output first =
          lead[0] >= 0
              ? constant(std::vector<std::int32_t>{static_cast<std::int32_t>(lead[0])}, Shape{1})
              : reshape(size(mask), std::vector<std::int64_t>{1});
      t = reshape(t, concat({first, trailing}, 0));
    }
    m = reshape(mask, std::vector<std::int64_t>{-1});
  }
  return gather(t, squeeze(where(m), {1}), 0);
}

Output add(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Add", {x, y}, {}, op_name(name, "Add")).output(0);
}
Output subtract(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Sub", {x, y}, {}, op_name(name, "Sub")).output(0);
}
Output multiply(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Mul", {x, y}, {}, op_name(name, "Mul")).output(0);
}
namespace {
// The binary op `op_type` named by the current name scope `scope`. RealDiv is TF's truediv
// (_truediv_python3): integers divide as floats, int8/uint8 in float32 and int32/int64 in
// float64 (7 / 2 is 3.5, never a truncated 3), the casts named Cast, Cast_1 in the scope;
// bool and string have no true division (TypeError, TF's text).
Output binary_in_scope(const char* op_type, Output x, Output y, const name_scope& scope) {
  if (std::string_view(op_type) == "RealDiv") {
    std::optional<DType> as;
    switch (x.dtype()) {
      case DType::kInt8:
      case DType::kUInt8: as = DType::kFloat32; break;
      case DType::kInt32:
      case DType::kInt64: as = DType::kFloat64; break;
      case DType::kBool:
      case DType::kString:
        throw TypeError(str_cat("Invalid dtype ", dtype_name(x.dtype()), " in __truediv__"));
      default: break;
    }
    if (as && x.dtype() != y.dtype())
      throw TypeError(str_cat("x and y must have the same dtype, got ", dtype_name(x.dtype()),
                              " != ", dtype_name(y.dtype())));
    if (as) {
      x = cast(x, *as);
      y = cast(y, *as);
    }
  }
  return get_default_graph().create_op(op_type, {x, y}, {}, scope.name()).output(0);
}
}  // namespace

Output divide(const Output& x, const Output& y, std::string_view name) {
  name_scope scope(name, "truediv");  // TF's divide: x / y, in `name`'s scope when given
  return binary_in_scope("RealDiv", x, y, scope);
}

// TF's tf.pow: the op named by name_scope(name, "Pow"), a number converted inside it ("Pow/y").
Output pow(const Output& x, const Output& y, std::string_view name) {
  name_scope scope(name, "Pow");
  return binary_in_scope("Pow", x, y, scope);
}
Output pow(const Output& x, double y, std::string_view name) {
  name_scope scope(name, "Pow");
  return binary_in_scope("Pow", x, make_const(detail::scalar_tensor(y, x.dtype()), "y"), scope);
}
Output pow(double x, const Output& y, std::string_view name) {
  name_scope scope(name, "Pow");
  return binary_in_scope("Pow", make_const(detail::scalar_tensor(x, y.dtype()), "x"), y, scope);
}

Output exp(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Exp", {x}, {}, op_name(name, "Exp")).output(0);
}
Output log(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Log", {x}, {}, op_name(name, "Log")).output(0);
}
Output sigmoid(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Sigmoid", {x}, {}, op_name(name, "Sigmoid")).output(0);
}
Output log1p(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Log1p", {x}, {}, op_name(name, "Log1p")).output(0);
}
Output abs(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Abs", {x}, {}, op_name(name, "Abs")).output(0);
}
Output sign(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Sign", {x}, {}, op_name(name, "Sign")).output(0);
}
Output tanh(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Tanh", {x}, {}, op_name(name, "Tanh")).output(0);
}
Output square(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Square", {x}, {}, op_name(name, "Square")).output(0);
}
Output sqrt(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Sqrt", {x}, {}, op_name(name, "Sqrt")).output(0);
}
Output negative(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Neg", {x}, {}, op_name(name, "Neg")).output(0);
}
Output floor(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Floor", {x}, {}, op_name(name, "Floor")).output(0);
}

Output squared_difference(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph()
      .create_op("SquaredDifference", {x, y}, {}, op_name(name, "SquaredDifference"))
      .output(0);
}
Output rsqrt(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Rsqrt", {x}, {}, op_name(name, "Rsqrt")).output(0);
}
Output ceil(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Ceil", {x}, {}, op_name(name, "Ceil")).output(0);
}
Output cos(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Cos", {x}, {}, op_name(name, "Cos")).output(0);
}
Output sin(const Output& x, std::string_view name) {
  return get_default_graph().create_op("Sin", {x}, {}, op_name(name, "Sin")).output(0);
}

Output cast(const Output& x, DType dtype, std::string_view name) {
  if (x.dtype() == dtype) return x;  // before the scope, as TF: no name is taken
  name_scope scope(name, "Cast");
  AttrMap attrs;
  attrs.set("SrcT", x.dtype());
  attrs.set("DstT", dtype);
  attrs.set("Truncate", false);
  return get_default_graph().create_op("Cast", {x}, std::move(attrs), scope.name()).output(0);
}
Output equal(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Equal", {x, y}, {}, op_name(name, "Equal")).output(0);
}
Output not_equal(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("NotEqual", {x, y}, {}, op_name(name, "NotEqual")).output(0);
}
Output less(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Less", {x, y}, {}, op_name(name, "Less")).output(0);
}
Output greater(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Greater", {x, y}, {}, op_name(name, "Greater")).output(0);
}
Output less_equal(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph()
      .create_op("LessEqual", {x, y}, {}, op_name(name, "LessEqual"))
      .output(0);
}
Output greater_equal(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph()
      .create_op("GreaterEqual", {x, y}, {}, op_name(name, "GreaterEqual"))
      .output(0);
}
Output maximum(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Maximum", {x, y}, {}, op_name(name, "Maximum")).output(0);
}
Output floormod(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("FloorMod", {x, y}, {}, op_name(name, "FloorMod")).output(0);
}
Output floordiv(const Output& x, const Output& y, std::string_view name) {
  name_scope scope(name, "floordiv");
  return get_default_graph().create_op("FloorDiv", {x, y}, {}, scope.name()).output(0);
}
Output minimum(const Output& x, const Output& y, std::string_view name) {
  return get_default_graph().create_op("Minimum", {x, y}, {}, op_name(name, "Minimum")).output(0);
}
Output argmax(const Output& input, std::int64_t axis, DType output_type, std::string_view name) {
  if (axis < std::numeric_limits<std::int32_t>::min() ||
      axis > std::numeric_limits<std::int32_t>::max())
    throw ValueError(str_cat("argmax: axis ", axis, " does not fit int32"));
  name_scope scope(name, "ArgMax");
  const std::string final_name = scope.name();
  Output dim = make_const(Tensor::from_scalar(static_cast<std::int32_t>(axis)), "dimension");
  AttrMap attrs;
  attrs.set("T", input.dtype());
  attrs.set("Tidx", DType::kInt32);
  attrs.set("output_type", output_type);
  return get_default_graph()
      .create_op("ArgMax", {input, dim}, std::move(attrs), final_name)
      .output(0);
}

Output binary_operator(const char* op_type, const char* name, const Output& x, const Output& y) {
  name_scope scope("", name);
  return binary_in_scope(op_type, x, y, scope);
}
Output binary_operator(const char* op_type, const char* name, double x, const Output& y) {
  name_scope scope("", name);
  Output xc = make_const(detail::scalar_tensor(x, y.dtype()), "x");
  return binary_in_scope(op_type, xc, y, scope);
}
Output binary_operator(const char* op_type, const char* name, const Output& x, double y) {
  name_scope scope("", name);
  Output yc = make_const(detail::scalar_tensor(y, x.dtype()), "y");
  return binary_in_scope(op_type, x, yc, scope);
}

Output random_uniform(const Shape& shape, double minval, double maxval, DType dtype,
                      std::optional<std::int64_t> seed, std::string_view name) {
  return random_op("RandomUniform", "random_uniform", shape, minval, maxval, dtype, seed, name,
                   true);
}
Output random_normal(const Shape& shape, double mean, double stddev, DType dtype,
                     std::optional<std::int64_t> seed, std::string_view name) {
  return random_op("RandomStandardNormal", "random_normal", shape, mean, stddev, dtype, seed, name,
                   false);
}
Output truncated_normal(const Shape& shape, double mean, double stddev, DType dtype,
                        std::optional<std::int64_t> seed, std::string_view name) {
  return random_op("TruncatedNormal", "truncated_normal", shape, mean, stddev, dtype, seed, name,
                   false);
}

Output random_uniform(const Output& shape, double minval, double maxval, DType dtype,
                      std::optional<std::int64_t> seed, std::string_view name) {
  return random_op("RandomUniform", "random_uniform", shape, minval, maxval, dtype, seed, name,
                   true);
}
Output random_normal(const Output& shape, double mean, double stddev, DType dtype,
                     std::optional<std::int64_t> seed, std::string_view name) {
  return random_op("RandomStandardNormal", "random_normal", shape, mean, stddev, dtype, seed, name,
                   false);
}
Output truncated_normal(const Output& shape, double mean, double stddev, DType dtype,
                        std::optional<std::int64_t> seed, std::string_view name) {
  return random_op("TruncatedNormal", "truncated_normal", shape, mean, stddev, dtype, seed, name,
                   false);
}

void set_random_seed(std::optional<std::int64_t> seed) { get_default_graph().set_seed(seed); }

}  // namespace scopeflow
