// Definitions of the core ops (TF names): constants, placeholders, variables and their
// assignment, initializer ops, element-wise math, and the ops behind
// report_uninitialized_variables. Kernels: kernels/<family>/.
#include "devices/base/errors.h"
#include "kernels/math/binary.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace {

// Output shape of an op whose first input is a shape vector (Fill, RandomUniform, ...).
Shape shape_from_input(const ShapeContext& c, int i) {
  const Tensor* t = c.input_values[static_cast<std::size_t>(i)];
  if (t == nullptr) {
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
  r.add({.name = "Const", .shape = [](ShapeContext& c) {
           const Tensor& v = c.attr().get<Tensor>("value");
           c.set_output(v.dtype(), v.shape());
         }});
  r.add({.name = "Placeholder", .shape = [](ShapeContext& c) {
           c.set_output(c.attr().get<DType>("dtype"), c.attr().get<Shape>("shape"));
         }});
  r.add({.name = "NoOp", .shape = [](ShapeContext&) {}});
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
  r.add({.name = "Fill", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
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
  for (const char* op : {"Add", "AddV2", "Sub", "Mul", "RealDiv"})
    r.add({.name = op, .min_inputs = 2, .max_inputs = 2, .shape = binary_broadcast});
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
  for (const char* op : {"Neg", "Square", "Sqrt", "Floor"})
    r.add({.name = op, .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
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
  r.add({.name = "LogicalNot", .min_inputs = 1, .max_inputs = 1, .shape = same_as_input0});
  r.add({.name = "BooleanMask", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           c.set_output(c.input_dtypes[0], Shape{-1});
         }});
}

}  // namespace scopeflow
