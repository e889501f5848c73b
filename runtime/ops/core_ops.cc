// Definitions of the core ops (TF names): constants, placeholders, variables and their
// assignment, initializer ops, element-wise math, and the ops behind
// report_uninitialized_variables. Kernels: kernels/<family>/.
#include <limits>
#include <optional>

#include "devices/base/errors.h"
#include "kernels/array/array.h"
#include "kernels/math/binary.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace {

// An int32/int64 Const input's values; nullopt when the input is not a Const.
std::optional<std::vector<std::int64_t>> const_int_values(const ShapeContext& c, int i) {
  const Tensor* t = c.input_values[static_cast<std::size_t>(i)];
  if (t == nullptr) return std::nullopt;
  std::vector<std::int64_t> v;
  if (t->dtype() == DType::kInt32)
    for (auto d : t->to_vector<std::int32_t>()) v.push_back(d);
  else if (t->dtype() == DType::kInt64)
    v = t->to_vector<std::int64_t>();
  else
    throw ValueError(str_cat(c.node_name, ": input ", i, " must be int32 or int64, got ",
                             dtype_name(t->dtype())));
  return v;
}

// A Range input's value (int32, int64, float32, float64 scalar), and as TF prints it.
double scalar_value(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kInt32: return t.to_vector<std::int32_t>().at(0);
    case DType::kInt64: return static_cast<double>(t.to_vector<std::int64_t>().at(0));
    case DType::kFloat32: return t.to_vector<float>().at(0);
    default: return t.to_vector<double>().at(0);
  }
}
std::string scalar_text(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kInt32: return std::to_string(t.to_vector<std::int32_t>().at(0));
    case DType::kInt64: return std::to_string(t.to_vector<std::int64_t>().at(0));
    default: return str_cat(scalar_value(t));
  }
}

// The axis of ConcatV2 / SplitV, normalized to [0, rank); nullopt when not a Const.
std::optional<int> normalized_axis(const ShapeContext& c, int input, int rank) {
  auto v = const_int_values(c, input);
  if (!v) return std::nullopt;
  if (v->size() != 1) throw ValueError(str_cat(c.node_name, ": axis must be a scalar"));
  const std::int64_t a = (*v)[0];
  if (a < -rank || a >= rank)
    throw ValueError(str_cat(c.node_name, ": axis ", a, " is out of range for rank ", rank));
  return static_cast<int>(a < 0 ? a + rank : a);
}

void concat_shape(ShapeContext& c) {
  const int n = static_cast<int>(c.input_shapes.size()) - 1;
  if (n < 1) throw ValueError(str_cat(c.node_name, ": ConcatV2 needs values and an axis"));
  const DType t = c.input_dtypes[0];
  int rank = -1;
  for (int i = 0; i < n; ++i) {
    if (c.input_dtypes[static_cast<std::size_t>(i)] != t)
      throw ValueError(str_cat(c.node_name, ": ConcatV2 values must have one dtype"));
    const Shape& s = c.input_shapes[static_cast<std::size_t>(i)];
    if (s.has_rank()) {
      if (rank >= 0 && s.rank() != rank)
        throw ValueError(str_cat(c.node_name, ": ConcatV2 values must have one rank, got ",
                                 c.input_shapes[0].to_string(), " and ", s.to_string()));
      rank = s.rank();
    }
  }
  if (rank < 0) return c.set_output(t, Shape::unknown());
  if (rank == 0) throw ValueError(str_cat(c.node_name, ": cannot concatenate scalars"));
  const auto axis = normalized_axis(c, n, rank);
  if (!axis)
    return c.set_output(t, Shape(std::vector<std::int64_t>(static_cast<std::size_t>(rank), -1)));
  std::vector<std::int64_t> dims(static_cast<std::size_t>(rank), -1);
  std::int64_t along = 0;
  for (int i = 0; i < n; ++i) {
    const Shape& s = c.input_shapes[static_cast<std::size_t>(i)];
    if (!s.has_rank()) {
      along = -1;
      continue;
    }
    for (int k = 0; k < rank; ++k) {
      const std::int64_t d = s.dims()[static_cast<std::size_t>(k)];
      if (k == *axis) continue;
      auto& out = dims[static_cast<std::size_t>(k)];
      if (d >= 0 && out >= 0 && d != out)
        throw ValueError(str_cat(c.node_name, ": dimension ", k, " of the values differs: ",
                                 c.input_shapes[0].to_string(), " vs ", s.to_string()));
      if (d >= 0) out = d;
    }
    const std::int64_t d = s.dims()[static_cast<std::size_t>(*axis)];
    along = along < 0 || d < 0 ? -1 : along + d;
  }
  dims[static_cast<std::size_t>(*axis)] = along;
  c.set_output(t, Shape(dims));
}

void split_shape(ShapeContext& c) {
  const std::int64_t num = c.attr().get<std::int64_t>("num_split");
  const Shape& x = c.input_shapes[0];
  const DType t = c.input_dtypes[0];
  const auto sizes = const_int_values(c, 1);
  if (sizes && static_cast<std::int64_t>(sizes->size()) != num)
    throw ValueError(str_cat(c.node_name, ": ", sizes->size(), " size_splits for num_split ", num));
  std::optional<int> axis;
  if (x.has_rank()) axis = normalized_axis(c, 2, x.rank());
  std::vector<std::int64_t> resolved;
  if (sizes) resolved = *sizes;
  if (sizes && axis) {
    // TF's SplitV checks: at most one -1 (the rest), the sizes add up to the dimension.
    const std::int64_t total = x.dims()[static_cast<std::size_t>(*axis)];
    std::int64_t known = 0;
    int rest = -1;
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      if (resolved[i] == -1 && rest < 0) {
        rest = static_cast<int>(i);
      } else if (resolved[i] < 0) {
        throw ValueError(str_cat(c.node_name, ": bad size_splits entry ", resolved[i]));
      } else {
        known += resolved[i];
      }
    }
    if (total >= 0) {
      if ((rest < 0 && known != total) || (rest >= 0 && known > total))
        throw ValueError(str_cat(c.node_name, ": size_splits sum to ", known, ", dimension ", *axis,
                                 " of ", x.to_string(), " is ", total));
      if (rest >= 0) resolved[static_cast<std::size_t>(rest)] = total - known;
    }
  }
  for (std::int64_t i = 0; i < num; ++i) {
    if (!x.has_rank()) {
      c.set_output(t, Shape::unknown());
      continue;
    }
    auto dims = x.dims();
    if (!axis) {
      dims.assign(dims.size(), -1);
    } else {
      const std::int64_t d = sizes ? resolved[static_cast<std::size_t>(i)] : -1;
      dims[static_cast<std::size_t>(*axis)] = d;  // -1: the rest, resolved at run time
    }
    c.set_output(t, Shape(dims));
  }
}

// Output shape of an op whose first input is a shape vector (Fill, RandomUniform, ...).
Shape shape_from_input(const ShapeContext& c, int i) {
  const Tensor* t = c.input_values[static_cast<std::size_t>(i)];
  if (t == nullptr) {
    if (const Shape& v = c.input_value_shapes[static_cast<std::size_t>(i)]; v.has_rank()) return v;
    const Shape& s = c.input_shapes[static_cast<std::size_t>(i)];
    if (s.has_rank() && s.rank() == 1 && s.dims()[0] >= 0)
      return Shape(std::vector<std::int64_t>(static_cast<std::size_t>(s.dims()[0]), -1));
    return Shape::unknown();
  }
  std::vector<std::int64_t> dims;
  if (t->dtype() == DType::kInt32)
    for (auto d : t->to_vector<std::int32_t>()) dims.push_back(d);
  else if (t->dtype() == DType::kInt64)
    dims = t->to_vector<std::int64_t>();
  else
    throw ValueError(
        str_cat(c.node_name, ": shape must be int32 or int64, got ", dtype_name(t->dtype())));
  for (auto d : dims)
    if (d < 0) throw ValueError(str_cat(c.node_name, ": negative dimension ", d, " in shape"));
  return Shape(dims);
}

void same_as_input0(ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }

void binary_broadcast(ShapeContext& c) {
  if (c.input_dtypes[0] != c.input_dtypes[1])
    throw ValueError(str_cat(c.node_name, ": input dtypes differ: ", dtype_name(c.input_dtypes[0]),
                             " vs ", dtype_name(c.input_dtypes[1])));
  try {
    c.set_output(c.input_dtypes[0],
                 kernels::broadcast_shapes(c.input_shapes[0], c.input_shapes[1], c.node_name));
  } catch (const InvalidArgumentError& e) {
    throw ValueError(e.what());
  }
}

void assign_shape(ShapeContext& c) {
  if (c.input_dtypes[0] != c.input_dtypes[1])
    throw ValueError(str_cat(c.node_name, ": cannot assign a ", dtype_name(c.input_dtypes[1]),
                             " value to a ", dtype_name(c.input_dtypes[0]), " variable"));
  const bool validate = c.attr().get_or<bool>("validate_shape", true);
  if (validate && !c.input_shapes[0].is_compatible_with(c.input_shapes[1]))
    throw ValueError(str_cat(c.node_name, ": Shapes ", c.input_shapes[0].to_string(), " and ",
                             c.input_shapes[1].to_string(), " are incompatible"));
  c.set_output(c.input_dtypes[0], validate ? c.input_shapes[0] : c.input_shapes[1]);
}

}  // namespace

void register_core_ops(OpRegistry& r) {
  r.add({.name = "ConcatV2", .min_inputs = 2, .max_inputs = -1, .shape = concat_shape});
  r.add({.name = "SplitV", .min_inputs = 3, .max_inputs = 3, .shape = split_shape});
  r.add({.name = "Const", .shape = [](ShapeContext& c) {
           const Tensor& v = c.attr().get<Tensor>("value");
           c.set_output(v.dtype(), v.shape());
         }});
  r.add({.name = "Placeholder", .shape = [](ShapeContext& c) {
           c.set_output(c.attr().get<DType>("dtype"), c.attr().get<Shape>("shape"));
         }});
  r.add({.name = "NoOp", .shape = [](ShapeContext&) {}});
  // TF1's control flow (tf.cond): Switch(data, pred) passes data to output 1 when pred is true
  // and to output 0 otherwise; the other output is dead, and so is every op that takes a dead
  // input, until a Merge, which passes on its first live input (and that input's index). The
  // session runs them itself. RefSwitch / RefMerge: the same for a variable reference.
  for (const char* op : {"Switch", "RefSwitch"})
    r.add({.name = op, .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
             if (c.input_dtypes[1] != DType::kBool)
               throw TypeError(str_cat("Input 'pred' of 'Switch' Op has type ",
                                       dtype_name(c.input_dtypes[1]),
                                       " that does not match expected type of bool."));
             if (c.input_shapes[1].has_rank() && c.input_shapes[1].rank() > 0)
               throw ValueError(str_cat(
                   "Shape must be rank 0 but is rank ", c.input_shapes[1].rank(), " for '",
                   c.node_name, "' (Switch) with input shapes: ", c.input_shapes[0].to_string(),
                   ", ", c.input_shapes[1].to_string(), "."));
             c.set_output(c.input_dtypes[0], c.input_shapes[0]);
             c.set_output(c.input_dtypes[0], c.input_shapes[0]);
           }});
  for (const char* op : {"Merge", "RefMerge"})
    r.add({.name = op, .min_inputs = 1, .max_inputs = -1, .shape = [](ShapeContext& c) {
             for (std::size_t k = 1; k < c.input_dtypes.size(); ++k)
               if (c.input_dtypes[k] != c.input_dtypes[0]) {
                 std::string types;
                 for (DType d : c.input_dtypes)
                   types += str_cat(types.empty() ? "" : ", ", dtype_name(d));
                 throw TypeError(
                     str_cat("Tensors in list passed to 'inputs' of 'Merge' Op "
                             "have types [",
                             types, "] that don't all match."));
               }
             // TF's MergeShape: the dims all inputs agree on.
             Shape out = c.input_shapes[0];
             for (std::size_t k = 1; k < c.input_shapes.size() && out.has_rank(); ++k) {
               const Shape& in = c.input_shapes[k];
               if (!in.has_rank() || in.rank() != out.rank()) {
                 out = Shape::unknown();
                 break;
               }
               std::vector<std::int64_t> dims = out.dims();
               for (std::size_t d = 0; d < dims.size(); ++d)
                 if (dims[d] != in.dims()[d]) dims[d] = -1;
               out = Shape(dims);
             }
             c.set_output(c.input_dtypes[0], out);
             c.set_output(DType::kInt32, Shape{});
           }});
  r.add({.name = "Identity", .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
  r.add({.name = "VariableV2", .stateful = true, .shape = [](ShapeContext& c) {
           c.set_output(c.attr().get<DType>("dtype"), c.attr().get<Shape>("shape"));
         }});
  for (const char* op : {"Assign", "AssignAdd", "AssignSub"})
    r.add({.name = op, .min_inputs = 2, .max_inputs = 2, .stateful = true, .shape = assign_shape});
  r.add({.name = "IsVariableInitialized",
         .min_inputs = 1,
         .max_inputs = 1,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(DType::kBool, Shape{}); }});
  // ScopeFlow's _InitializedValueOr(variable, default): the variable's value when it is
  // initialized, else `default` (TF's cond(is_variable_initialized(v), v.read_value,
  // initial_value) that ExponentialMovingAverage starts its shadows from). The session passes
  // an uninitialized variable through to the kernel instead of raising.
  r.add({.name = "_InitializedValueOr",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape =
             [](ShapeContext& c) {
               if (c.input_dtypes[0] != c.input_dtypes[1] ||
                   !c.input_shapes[0].is_compatible_with(c.input_shapes[1]))
                 throw ValueError(str_cat(c.node_name,
                                          ": the default must have the variable's "
                                          "dtype and shape"));
               c.set_output(c.input_dtypes[0],
                            c.input_shapes[0].has_rank() ? c.input_shapes[0] : c.input_shapes[1]);
             },
         .not_differentiable = true});
  r.add({.name = "Fill", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           if (c.input_shapes[0].has_rank() && c.input_shapes[0].rank() != 1)
             throw ValueError(str_cat(c.node_name, ": dims must be a vector, got shape ",
                                      c.input_shapes[0].to_string()));
           if (c.input_shapes[1].has_rank() && c.input_shapes[1].rank() != 0)
             throw ValueError(str_cat(c.node_name, ": value must be a scalar, got shape ",
                                      c.input_shapes[1].to_string()));
           c.set_output(c.input_dtypes[1], shape_from_input(c, 0));
         }});
  for (const char* op : {"RandomUniform", "RandomStandardNormal", "TruncatedNormal"})
    r.add({.name = op,
           .min_inputs = 1,
           .max_inputs = 1,
           .stateful = true,
           .shape = [](ShapeContext& c) {
             c.set_output(c.attr().get<DType>("dtype"), shape_from_input(c, 0));
           }});
  // FloorMod and FloorDiv: Python's % and // on tensors.
  for (const char* op : {"Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Pow",
                         "SquaredDifference", "FloorMod", "FloorDiv"})
    r.add({.name = op, .min_inputs = 2, .max_inputs = 2, .shape = binary_broadcast});
  // TF's Tile(input, multiples): output dimension i is input's times multiples[i] (TF's
  // TileShapeFn: known where both are, a multiple of 0 or 1 decides alone).
  r.add({.name = "Tile", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           const DType mt = c.input_dtypes[1];
           if (mt != DType::kInt32 && mt != DType::kInt64)
             throw ValueError(
                 str_cat(c.node_name, ": multiples must be int32 or int64, got ", dtype_name(mt)));
           const Shape& x = c.input_shapes[0];
           const Shape& ms = c.input_shapes[1];
           if (ms.has_rank() && ms.rank() != 1)
             throw ValueError(
                 str_cat(c.node_name, ": multiples must be a vector, got shape ", ms.to_string()));
           const std::int64_t count = ms.has_rank() ? ms.dims()[0] : -1;
           if (x.has_rank() && count >= 0 && count != x.rank())  // TF's words
             throw ValueError(
                 str_cat(c.node_name, ": Shape must be rank ", x.rank(), " but is rank ", count));
           std::vector<std::int64_t> m;
           if (const auto v = const_int_values(c, 1)) {
             m = *v;
             // -1 is an unknown dimension to TF's shape function (the kernel refuses it).
             for (std::size_t k = 0; k < m.size(); ++k)
               if (m[k] < -1)
                 throw ValueError(
                     str_cat(c.node_name, ": Expected multiples[", k, "] >= 0, but got ", m[k]));
           } else if (const Shape& vs = c.input_value_shapes[1]; vs.has_rank()) {
             m = vs.dims();  // -1: unknown
           }
           const int rank = x.has_rank() ? x.rank() : static_cast<int>(count);
           if (rank < 0 && m.empty()) return c.set_output(c.input_dtypes[0], Shape::unknown());
           const auto r = static_cast<std::size_t>(rank < 0 ? static_cast<int>(m.size()) : rank);
           std::vector<std::int64_t> dims(r, -1);
           for (std::size_t k = 0; k < r; ++k) {
             const std::int64_t d = x.has_rank() ? x.dims()[k] : -1;
             const std::int64_t mk = k < m.size() ? m[k] : -1;
             if (d == 0 || mk == 0)
               dims[k] = 0;
             else if (d == 1)
               dims[k] = mk;
             else if (mk == 1)
               dims[k] = d;
             else if (d > 0 && mk > 0) {
               if (mk > std::numeric_limits<std::int64_t>::max() / d)  // TF's Multiply
                 throw ValueError(str_cat(c.node_name,
                                          ": Negative dimension size caused by overflow when "
                                          "multiplying ",
                                          d, " and ", mk));
               dims[k] = d * mk;
             }
           }
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  // TF's Range(start, limit, delta): scalars of one dtype; the length where all three are
  // known (TF's errors at graph construction, as ValueErrors).
  r.add(
      {.name = "Range", .min_inputs = 3, .max_inputs = 3, .shape = [](ShapeContext& c) {
         const DType t = c.input_dtypes[0];
         if (t != DType::kInt32 && t != DType::kInt64 && t != DType::kFloat32 &&
             t != DType::kFloat64)
           throw ValueError(str_cat(
               c.node_name, ": Range takes int32, int64, float32 or float64, got ", dtype_name(t)));
         const char* names[] = {"start", "limit", "delta"};
         for (std::size_t k = 0; k < 3; ++k) {
           if (c.input_dtypes[k] != t)
             throw ValueError(str_cat(c.node_name, ": ", names[k], " is ",
                                      dtype_name(c.input_dtypes[k]), ", start is ", dtype_name(t)));
           if (const Shape& s = c.input_shapes[k]; s.has_rank() && s.rank() != 0)
             throw ValueError(str_cat(c.node_name, ": ", names[k], " must be a scalar, not shape ",
                                      s.to_string()));
         }
         std::int64_t n = -1;
         if (c.input_values[0] && c.input_values[1] && c.input_values[2]) {
           // TF's shape function's words first, then the kernel's count.
           const double start = scalar_value(*c.input_values[0]);
           const double limit = scalar_value(*c.input_values[1]);
           const double delta = scalar_value(*c.input_values[2]);
           if (delta == 0) throw ValueError(str_cat(c.node_name, ": Requires delta != 0"));
           if (delta > 0 && start > limit)
             throw ValueError(str_cat(c.node_name, ": Requires start <= limit when delta > 0: ",
                                      scalar_text(*c.input_values[0]), "/",
                                      scalar_text(*c.input_values[1])));
           if (delta < 0 && start < limit)
             throw ValueError(str_cat(c.node_name, ": Requires start >= limit when delta < 0: ",
                                      scalar_text(*c.input_values[0]), "/",
                                      scalar_text(*c.input_values[1])));
           try {
             n = kernels::range_size(*c.input_values[0], *c.input_values[1], *c.input_values[2],
                                     c.node_name);
           } catch (const InvalidArgumentError& e) {
             throw ValueError(e.what());
           }
         }
         c.set_output(t, Shape{n});
       }});
  // TF's DynamicStitch(indices[N], data[N]) (DynamicStitchShapeFunction): [max index + 1]
  // where every indices input is known, then data's dimensions past its indices'.
  r.add({.name = "DynamicStitch", .min_inputs = 2, .max_inputs = -1, .shape = [](ShapeContext& c) {
           const std::size_t total = c.input_shapes.size();
           if (total % 2 != 0)
             throw ValueError(str_cat(c.node_name,
                                      ": DynamicStitch takes N indices then N data tensors, got ",
                                      total, " inputs"));
           const std::size_t n = total / 2;
           const DType t = c.input_dtypes[n];
           bool all_known = true;
           std::int64_t max_index = -1;
           std::optional<Shape> extra;  // unset: no known suffix yet
           for (std::size_t i = 0; i < n; ++i) {
             if (c.input_dtypes[i] != DType::kInt32)
               throw ValueError(str_cat(c.node_name, ": indices[", i, "] must be int32, got ",
                                        dtype_name(c.input_dtypes[i])));
             if (c.input_dtypes[n + i] != t)
               throw ValueError(str_cat(c.node_name, ": data[", i, "] is ",
                                        dtype_name(c.input_dtypes[n + i]), ", data[0] is ",
                                        dtype_name(t)));
             const Shape& is = c.input_shapes[i];
             const Shape& ds = c.input_shapes[n + i];
             if (is.has_rank() && ds.has_rank()) {
               if (ds.rank() < is.rank())
                 throw ValueError(str_cat(c.node_name, ": data[", i, "].shape = ", ds.to_string(),
                                          " does not start with indices[", i,
                                          "].shape = ", is.to_string()));
               for (int k = 0; k < is.rank(); ++k) {
                 const auto a = is.dims()[static_cast<std::size_t>(k)];
                 const auto b = ds.dims()[static_cast<std::size_t>(k)];
                 if (a >= 0 && b >= 0 && a != b)
                   throw ValueError(str_cat(c.node_name, ": data[", i, "].shape = ", ds.to_string(),
                                            " does not start with indices[", i,
                                            "].shape = ", is.to_string()));
               }
               const Shape rest(
                   std::vector<std::int64_t>(ds.dims().begin() + is.rank(), ds.dims().end()));
               if (!extra) {
                 extra = rest;
               } else if (!extra->is_compatible_with(rest)) {
                 throw ValueError(str_cat(c.node_name, ": data[", i, "].shape[", is.rank(), ":] = ",
                                          rest.to_string(), " differs from ", extra->to_string()));
               } else {
                 std::vector<std::int64_t> merged = extra->dims();
                 for (std::size_t k = 0; k < merged.size(); ++k)
                   if (merged[k] < 0) merged[k] = rest.dims()[k];
                 extra = Shape(merged);
               }
             }
             if (const auto v = const_int_values(c, static_cast<int>(i))) {
               for (auto d : *v) max_index = std::max(max_index, d);
             } else {
               all_known = false;
             }
           }
           if (!extra) return c.set_output(t, Shape::unknown());
           std::vector<std::int64_t> dims{all_known ? max_index + 1 : -1};
           dims.insert(dims.end(), extra->dims().begin(), extra->dims().end());
           c.set_output(t, Shape(dims));
         }});
  // TF's ZerosLike / OnesLike: zeros / ones of x's shape and dtype.
  for (const char* op : {"ZerosLike", "OnesLike"})
    r.add({.name = op, .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
  r.add({.name = "Pack", .min_inputs = 1, .max_inputs = -1, .shape = [](ShapeContext& c) {
           std::vector<std::int64_t> dims{static_cast<std::int64_t>(c.input_shapes.size())};
           for (std::size_t i = 1; i < c.input_shapes.size(); ++i)
             if (c.input_dtypes[i] != c.input_dtypes[0] ||
                 !c.input_shapes[i].is_compatible_with(c.input_shapes[0]))
               throw ValueError(
                   str_cat(c.node_name, ": Pack inputs must have one dtype and shape"));
           if (!c.input_shapes[0].has_rank()) {
             c.set_output(c.input_dtypes[0], Shape::unknown());
             return;
           }
           for (auto d : c.input_shapes[0].dims()) dims.push_back(d);
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  for (const char* op : {"Neg", "Square", "Sqrt"})
    r.add({.name = op, .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
  // Floor and Ceil: the float dtypes (their kernels').
  for (const char* op : {"Floor", "Ceil"})
    r.add({.name = op, .min_inputs = 1, .max_inputs = 1, .shape = [op](ShapeContext& c) {
             if (!is_floating(c.input_dtypes[0]))
               throw ValueError(str_cat(c.node_name, ": ", op, " does not support ",
                                        dtype_name(c.input_dtypes[0])));
             same_as_input0(c);
           }});
  r.add({.name = "AddN", .min_inputs = 1, .max_inputs = -1, .shape = [](ShapeContext& c) {
           for (std::size_t i = 1; i < c.input_shapes.size(); ++i)
             if (c.input_dtypes[i] != c.input_dtypes[0] ||
                 !c.input_shapes[i].is_compatible_with(c.input_shapes[0]))
               throw ValueError(
                   str_cat(c.node_name, ": AddN inputs must have one dtype and shape, got ",
                           c.input_shapes[0].to_string(), " and ", c.input_shapes[i].to_string()));
           c.set_output(c.input_dtypes[0], c.input_shapes[0]);
         }});
  r.add({.name = "BroadcastTo", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           c.set_output(c.input_dtypes[0], shape_from_input(c, 1));
         }});
  // Fused optimizer updates: input 0 (and slots) are variables, updated in place.
  r.add({.name = "ApplyGradientDescent",
         .min_inputs = 3,
         .max_inputs = 3,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }});
  r.add({.name = "ApplyMomentum",
         .min_inputs = 5,
         .max_inputs = 5,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }});
  r.add({.name = "ApplyAdam",
         .min_inputs = 10,
         .max_inputs = 10,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }});
  r.add({.name = "ApplyAdagrad",
         .min_inputs = 4,
         .max_inputs = 4,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }});
  r.add({.name = "ApplyRMSProp",
         .min_inputs = 8,
         .max_inputs = 8,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }});
  r.add({.name = "ApplyCenteredRMSProp",
         .min_inputs = 9,
         .max_inputs = 9,
         .stateful = true,
         .shape = [](ShapeContext& c) { c.set_output(c.input_dtypes[0], c.input_shapes[0]); }});
  // TF's SparseApplyMomentum after _deduplicate_indexed_slices, on a dense gradient: ApplyMomentum
  // on the rows (axis 0) that `indices` (var, accum, lr, grad, indices, momentum) names, once
  // each; ids outside [0, rows) (a gather gradient's dropped -1) are skipped; other rows, and
  // their momentum, stay as they are. MomentumOptimizer uses it for a gather's gradient.
  r.add({.name = "_SparseApplyMomentumRows",
         .min_inputs = 6,
         .max_inputs = 6,
         .stateful = true,
         .shape = [](ShapeContext& c) {
           if (c.input_dtypes[4] != DType::kInt32 && c.input_dtypes[4] != DType::kInt64)
             throw ValueError(str_cat(c.node_name, ": indices must be int32 or int64, got ",
                                      dtype_name(c.input_dtypes[4])));
           if (c.input_shapes[0].rank() == 0)
             throw ValueError(str_cat(c.node_name, ": var must have rows (rank >= 1)"));
           c.set_output(c.input_dtypes[0], c.input_shapes[0]);
         }});
  // TF's Shape and Size (attr out_type: int32, the default, or int64).
  auto out_type = [](const ShapeContext& c) {
    const DType t = c.attr().get_or<DType>("out_type", DType::kInt32);
    if (t != DType::kInt32 && t != DType::kInt64)
      throw ValueError(
          str_cat(c.node_name, ": out_type must be int32 or int64, got ", dtype_name(t)));
    return t;
  };
  r.add({.name = "Shape", .min_inputs = 1, .max_inputs = 1, .shape = [out_type](ShapeContext& c) {
           const Shape& x = c.input_shapes[0];
           c.set_output(out_type(c), x.has_rank() ? Shape{x.rank()} : Shape{-1});
         }});
  // TF's Rank(x): x's number of dimensions, an int32 scalar.
  r.add({.name = "Rank", .min_inputs = 1, .max_inputs = 1, .shape = [](ShapeContext& c) {
           c.set_output(DType::kInt32, Shape{});
         }});
  r.add({.name = "Size", .min_inputs = 1, .max_inputs = 1, .shape = [out_type](ShapeContext& c) {
           c.set_output(out_type(c), Shape{});
         }});
  // TF's BroadcastGradientArgs(s0, s1) -> (r0, r1): the axes of the broadcast shape that each
  // input's gradient sums over (where its dimension, padded with leading 1s, is 1).
  r.add({.name = "BroadcastGradientArgs",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) {
           const DType t = c.input_dtypes[0];
           if ((t != DType::kInt32 && t != DType::kInt64) || c.input_dtypes[1] != t)
             throw ValueError(str_cat(c.node_name, ": s0 and s1 must both be int32 or int64, got ",
                                      dtype_name(t), " and ", dtype_name(c.input_dtypes[1])));
           for (int k = 0; k < 2; ++k)
             if (const Shape& s = c.input_shapes[static_cast<std::size_t>(k)];
                 s.has_rank() && s.rank() != 1)
               throw ValueError(
                   str_cat(c.node_name, ": s", k, " must be a vector, got shape ", s.to_string()));
           c.set_output(t, Shape{-1});
           c.set_output(t, Shape{-1});
         }});
  // TF's InvertPermutation(x): y[x[i]] = i, for an int32 / int64 vector permutation.
  r.add(
      {.name = "InvertPermutation", .min_inputs = 1, .max_inputs = 1, .shape = [](ShapeContext& c) {
         const DType t = c.input_dtypes[0];
         if (t != DType::kInt32 && t != DType::kInt64)
           throw ValueError(
               str_cat(c.node_name, ": x must be int32 or int64, got ", dtype_name(t)));
         const Shape& x = c.input_shapes[0];
         if (x.has_rank() && x.rank() != 1)
           throw ValueError(str_cat(c.node_name, ": Shape must be rank 1 but is rank ", x.rank()));
         c.set_output(t, x.has_rank() ? x : Shape{-1});
       }});
  // TF's Where(condition) with one input: the coordinates (int64 [num_true, rank]) of the true
  // (nonzero) elements, in row-major order.
  r.add({.name = "Where", .min_inputs = 1, .max_inputs = 1, .shape = [](ShapeContext& c) {
           const DType t = c.input_dtypes[0];
           if (t != DType::kBool && t != DType::kFloat32 && t != DType::kFloat64 &&
               t != DType::kInt32 && t != DType::kInt64)
             throw ValueError(
                 str_cat(c.node_name, ": Where takes bool or numeric input, got ", dtype_name(t)));
           const Shape& x = c.input_shapes[0];
           c.set_output(DType::kInt64, Shape{-1, x.has_rank() ? x.rank() : -1});
         }});
  // TF's OneHot(indices, depth, on_value, off_value), attr axis (-1: a new last dimension):
  // on_value where the index equals the position along the new dimension, else off_value.
  r.add({.name = "OneHot", .min_inputs = 4, .max_inputs = 4, .shape = [](ShapeContext& c) {
           const DType it = c.input_dtypes[0];
           if (it != DType::kInt32 && it != DType::kInt64 && it != DType::kUInt8)
             throw ValueError(str_cat(c.node_name, ": indices must be uint8, int32 or int64, got ",
                                      dtype_name(it)));
           if (c.input_dtypes[1] != DType::kInt32)
             throw ValueError(str_cat(c.node_name, ": depth must be int32"));
           const DType t = c.input_dtypes[2];
           if (c.input_dtypes[3] != t)
             throw ValueError(str_cat(c.node_name,
                                      ": on_value and off_value must have one dtype, got ",
                                      dtype_name(t), " and ", dtype_name(c.input_dtypes[3])));
           for (int k = 1; k < 4; ++k)
             if (const Shape& s = c.input_shapes[static_cast<std::size_t>(k)];
                 s.has_rank() && s.rank() != 0)
               throw ValueError(str_cat(c.node_name, ": input ", k, " must be a scalar, got shape ",
                                        s.to_string()));
           const std::int64_t axis = c.attr().get_or<std::int64_t>("axis", -1);
           const auto depth = const_int_values(c, 1);
           if (depth && (*depth)[0] < 0)
             throw ValueError(
                 str_cat(c.node_name, ": depth must be non-negative, got ", (*depth)[0]));
           const Shape& x = c.input_shapes[0];
           if (!x.has_rank()) return c.set_output(t, Shape::unknown());
           if (axis < -1 || axis > x.rank())
             throw ValueError(str_cat(c.node_name, ": Expected axis to be -1 or between [0, ",
                                      x.rank(), "].  But received: ", axis));
           std::vector<std::int64_t> dims = x.dims();
           dims.insert(dims.begin() + (axis < 0 ? x.rank() : axis), depth ? (*depth)[0] : -1);
           c.set_output(t, Shape(dims));
         }});
  // TF1's Select(condition, x, y) (tf.where with three arguments): x where condition, else y;
  // x and y of one dtype and shape; condition bool of their shape, a vector over their first
  // dimension (whole rows), or a scalar (all of x or all of y).
  r.add({.name = "Select", .min_inputs = 3, .max_inputs = 3, .shape = [](ShapeContext& c) {
           if (c.input_dtypes[0] != DType::kBool)
             throw ValueError(str_cat(c.node_name, ": condition must be bool, got ",
                                      dtype_name(c.input_dtypes[0])));
           if (c.input_dtypes[1] != c.input_dtypes[2])
             throw ValueError(str_cat(c.node_name, ": x and y must have one dtype, got ",
                                      dtype_name(c.input_dtypes[1]), " and ",
                                      dtype_name(c.input_dtypes[2])));
           const Shape &cs = c.input_shapes[0], &xs = c.input_shapes[1], &ys = c.input_shapes[2];
           if (!xs.is_compatible_with(ys))
             throw ValueError(str_cat(c.node_name, ": x and y must have one shape, got ",
                                      xs.to_string(), " and ", ys.to_string()));
           Shape out = xs.has_rank() ? xs : ys;
           if (xs.has_rank() && ys.has_rank()) {
             std::vector<std::int64_t> d = xs.dims();
             for (std::size_t k = 0; k < d.size(); ++k)
               if (d[k] < 0) d[k] = ys.dims()[k];
             out = Shape(d);
           }
           if (cs.has_rank() && cs.rank() == 0) return c.set_output(c.input_dtypes[1], out);
           if (cs.has_rank() && out.has_rank()) {
             const bool rows = cs.rank() == 1 && out.rank() > 1;
             const bool fits =
                 rows ? (cs.dims()[0] < 0 || out.dims()[0] < 0 || cs.dims()[0] == out.dims()[0])
                      : cs.is_compatible_with(out);
             if (!fits)
               throw ValueError(str_cat(c.node_name, ": condition of shape ", cs.to_string(),
                                        " must have x's shape ", out.to_string(),
                                        " or be a vector over its first dimension"));
             // What the condition knows of the shape (TF merges it in).
             std::vector<std::int64_t> d = out.dims();
             if (rows) {
               if (d[0] < 0) d[0] = cs.dims()[0];
             } else {
               for (std::size_t k = 0; k < d.size(); ++k)
                 if (d[k] < 0) d[k] = cs.dims()[k];
             }
             out = Shape(d);
           }
           c.set_output(c.input_dtypes[1], out);
         }});
  // TF's Transpose(x, perm): output dimension i is x's dimension perm[i].
  r.add({.name = "Transpose", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           const Shape& x = c.input_shapes[0];
           auto perm = const_int_values(c, 1);
           // A perm the graph decides (TF evaluates constant subgraphs: tensordot's ConcatV2 of
           // Consts).
           if (!perm && c.input_value_shapes[1].is_fully_defined())
             perm = c.input_value_shapes[1].dims();
           if (!perm) {
             const Shape& ps = c.input_shapes[1];
             if (x.has_rank())
               return c.set_output(c.input_dtypes[0], Shape(std::vector<std::int64_t>(
                                                          static_cast<std::size_t>(x.rank()), -1)));
             if (ps.has_rank() && ps.rank() == 1 && ps.dims()[0] >= 0)
               return c.set_output(
                   c.input_dtypes[0],
                   Shape(std::vector<std::int64_t>(static_cast<std::size_t>(ps.dims()[0]), -1)));
             return c.set_output(c.input_dtypes[0], Shape::unknown());
           }
           const auto n = static_cast<std::int64_t>(perm->size());
           if (x.has_rank() && x.rank() != n)
             throw ValueError(str_cat(c.node_name, ": perm has ", n,
                                      " entries for a tensor of rank ", x.rank()));
           std::vector<bool> seen(static_cast<std::size_t>(n), false);
           std::vector<std::int64_t> dims;
           for (auto p : *perm) {
             if (p < 0 || p >= n || seen[static_cast<std::size_t>(p)])
               throw ValueError(str_cat(c.node_name, ": perm must be a permutation of 0..", n - 1));
             seen[static_cast<std::size_t>(p)] = true;
             dims.push_back(x.has_rank() ? x.dims()[static_cast<std::size_t>(p)] : -1);
           }
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  // TF's StopGradient: x itself; gradients stop there (NotDifferentiable).
  r.add({.name = "StopGradient", .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
  // TF's ExpandDims(input, dim): a 1 inserted at dim (in [-rank-1, rank]).
  r.add({.name = "ExpandDims", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           const Shape& x = c.input_shapes[0];
           const auto dim = const_int_values(c, 1);
           if (dim && dim->size() != 1)
             throw ValueError(str_cat(c.node_name, ": dim must be a scalar"));
           if (!x.has_rank() || !dim) return c.set_output(c.input_dtypes[0], Shape::unknown());
           const std::int64_t rank = x.rank(), d = (*dim)[0];
           if (d < -rank - 1 || d > rank)
             throw ValueError(str_cat(c.node_name, ": dim ", d, " is out of range for rank ", rank,
                                      " (it must be in [", -rank - 1, ", ", rank, "])"));
           std::vector<std::int64_t> dims = x.dims();
           dims.insert(dims.begin() + (d < 0 ? d + rank + 1 : d), 1);
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  // TF's Squeeze (attr squeeze_dims): the listed size-1 dimensions removed, or every one.
  r.add({.name = "Squeeze", .min_inputs = 1, .max_inputs = 1, .shape = [](ShapeContext& c) {
           const Shape& x = c.input_shapes[0];
           const auto axes = c.attr().get_or<std::vector<std::int64_t>>("squeeze_dims", {});
           if (!x.has_rank()) return c.set_output(c.input_dtypes[0], Shape::unknown());
           const std::int64_t rank = x.rank();
           std::vector<bool> drop(static_cast<std::size_t>(rank), false);
           for (auto a : axes) {
             if (a < -rank || a >= rank)
               throw ValueError(str_cat(c.node_name, ": squeeze dimension ", a,
                                        " is out of range for rank ", rank));
             const auto k = static_cast<std::size_t>(a < 0 ? a + rank : a);
             const std::int64_t d = x.dims()[k];
             if (d >= 0 && d != 1)
               throw ValueError(str_cat(c.node_name, ": Can not squeeze dim[", k,
                                        "], expected a dimension of 1, got ", d));
             drop[k] = true;
           }
           std::vector<std::int64_t> dims;
           for (std::size_t k = 0; k < drop.size(); ++k) {
             const std::int64_t d = x.dims()[k];
             // Without squeeze_dims, an unknown dimension may be 1: the rank is unknown (TF).
             if (axes.empty() && d < 0) return c.set_output(c.input_dtypes[0], Shape::unknown());
             if (!(drop[k] || (axes.empty() && d == 1))) dims.push_back(d);
           }
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  r.add({.name = "LogicalNot", .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
  r.add({.name = "BooleanMask", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           if (c.input_dtypes[1] != DType::kBool)
             throw ValueError(
                 str_cat(c.node_name, ": mask must be bool, got ", dtype_name(c.input_dtypes[1])));
           c.set_output(c.input_dtypes[0], Shape{-1});
         }});
  // TF's tf.gather (batch_dims 0): params' axis replaced by the indices' shape.
  r.add({.name = "GatherV2", .min_inputs = 3, .max_inputs = 3, .shape = [](ShapeContext& c) {
           const Shape& params = c.input_shapes[0];
           const Shape& indices = c.input_shapes[1];
           if (c.input_dtypes[1] != DType::kInt32 && c.input_dtypes[1] != DType::kInt64)
             throw ValueError(str_cat(c.node_name, ": indices must be int32 or int64, got ",
                                      dtype_name(c.input_dtypes[1])));
           if (c.attr().get_or<std::int64_t>("batch_dims", 0) != 0)
             throw ValueError(str_cat(c.node_name, ": batch_dims other than 0 is not supported"));
           if (!params.has_rank() || !indices.has_rank())
             return c.set_output(c.input_dtypes[0], Shape::unknown());
           if (params.rank() < 1)
             throw ValueError(str_cat(c.node_name, ": params must be at least 1 dimensional"));
           const auto axis = normalized_axis(c, 2, params.rank());
           if (!axis) return c.set_output(c.input_dtypes[0], Shape::unknown());
           std::vector<std::int64_t> dims;
           for (int k = 0; k < params.rank(); ++k) {
             if (k == *axis)
               for (auto d : indices.dims()) dims.push_back(d);
             else
               dims.push_back(params.dims()[static_cast<std::size_t>(k)]);
           }
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  // TF's tf.math.unsorted_segment_sum: [num_segments] + data's dimensions after the ids'.
  r.add({.name = "UnsortedSegmentSum",
         .min_inputs = 3,
         .max_inputs = 3,
         .shape = [](ShapeContext& c) {
           const Shape& data = c.input_shapes[0];
           const Shape& ids = c.input_shapes[1];
           if (c.input_dtypes[1] != DType::kInt32 && c.input_dtypes[1] != DType::kInt64)
             throw ValueError(str_cat(c.node_name, ": segment_ids must be int32 or int64, got ",
                                      dtype_name(c.input_dtypes[1])));
           const auto n = const_int_values(c, 2);
           if (!data.has_rank() || !ids.has_rank())
             return c.set_output(c.input_dtypes[0], Shape::unknown());
           if (ids.rank() > data.rank())
             throw ValueError(str_cat(c.node_name, ": segment_ids.shape = ", ids.to_string(),
                                      " does not prefix data.shape = ", data.to_string()));
           for (int k = 0; k < ids.rank(); ++k) {
             const auto a = data.dims()[static_cast<std::size_t>(k)],
                        b = ids.dims()[static_cast<std::size_t>(k)];
             if (a >= 0 && b >= 0 && a != b)
               throw ValueError(str_cat(c.node_name, ": segment_ids.shape = ", ids.to_string(),
                                        " does not prefix data.shape = ", data.to_string()));
           }
           std::vector<std::int64_t> dims{n && n->size() == 1 ? (*n)[0] : -1};
           for (int k = ids.rank(); k < data.rank(); ++k)
             dims.push_back(data.dims()[static_cast<std::size_t>(k)]);
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  // ScopeFlow's: each id's row in the concatenation of an embedding's shards (attrs
  // partition_strategy "mod" | "div", shard_rows); see kernels/gather/gather.h.
  r.add({.name = "_EmbeddingRowIndex",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = [](ShapeContext& c) {
           if (c.input_dtypes[0] != DType::kInt32 && c.input_dtypes[0] != DType::kInt64)
             throw ValueError(str_cat(c.node_name, ": ids must be int32 or int64, got ",
                                      dtype_name(c.input_dtypes[0])));
           c.set_output(DType::kInt64, c.input_shapes[0]);
         }});
  // TF's HostMemory inputs (see OpDef::host_memory_inputs).
  r.set_host_memory_inputs("GatherV2", {2});            // axis
  r.set_host_memory_inputs("UnsortedSegmentSum", {2});  // num_segments
  r.set_host_memory_inputs("ConcatV2", {-1});           // axis
  r.set_host_memory_inputs("SplitV", {1, 2});           // size_splits, axis
  r.set_host_memory_inputs("Fill", {0, 1});             // dims, value
  r.set_host_memory_inputs("BroadcastTo", {1});         // shape
  r.set_host_memory_inputs("BroadcastGradientArgs", {0, 1});
  r.set_host_memory_inputs("ExpandDims", {1});  // dim
  r.set_host_memory_inputs("Transpose", {1});   // perm
  r.set_host_memory_inputs("InvertPermutation", {0});
  r.set_host_memory_inputs("Tile", {1});                                     // multiples
  r.set_host_memory_inputs("Range", {0, 1, 2});                              // start, limit, delta
  r.set_host_memory_inputs("DynamicStitch", {OpDef::kHostMemoryFirstHalf});  // indices
  r.set_host_memory_inputs("OneHot", {1, 2, 3});  // depth, on_value, off_value
  for (const char* op : {"RandomUniform", "RandomStandardNormal", "TruncatedNormal"})
    r.set_host_memory_inputs(op, {0});  // shape
}

}  // namespace scopeflow
