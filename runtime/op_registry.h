// Op definitions: each op's TF type name, its shape function (output dtypes and shapes from
// the inputs and attrs; validation throws ValueError) and whether it is stateful. Kernels
// are registered separately, per device (kernels/kernel.h).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "devices/base/dtype.h"
#include "devices/base/shape.h"
#include "devices/tensor.h"
#include "kernels/attr.h"

namespace scopeflow {

struct ShapeContext {
  std::string node_name;
  const AttrMap* attrs = nullptr;
  std::vector<DType> input_dtypes;
  std::vector<Shape> input_shapes;
  std::vector<const Tensor*> input_values;  // the value of a Const input, else nullptr
  // TF's constant_value_as_shape, for an int vector input made by a Shape op (that op's
  // input's static shape, partially known: [?, 784] for a placeholder of batch None) or by a
  // ConcatV2 along axis 0 of Shape ops and Consts (negative values unknown). Unknown for every
  // other input, a Const included (read input_values: its -1 means "infer" to Reshape).
  std::vector<Shape> input_value_shapes;
  std::vector<DType> output_dtypes;  // set by the shape function
  std::vector<Shape> output_shapes;
  const AttrMap& attr() const { return *attrs; }
  // Sets one output.
  void set_output(DType dtype, Shape shape) {
    output_dtypes.push_back(dtype);
    output_shapes.push_back(std::move(shape));
  }
};

class Graph;
class Operation;
class Output;
// Builds the gradients of an op's inputs from the gradients of its outputs (`dys[i]` invalid
// when output i has none). Returns one Output per input; an invalid Output means "no
// gradient" for that input. Written as graph ops, so every device gets gradients.
using GradFn = std::function<std::vector<Output>(Graph& g, const Operation& op,
                                                 const std::vector<Output>& dys)>;

struct OpDef {
  std::string name;
  int min_inputs = 0;
  int max_inputs = 0;  // -1: any number
  bool stateful = false;
  std::function<void(ShapeContext&)> shape;
  // Empty: no gradient registered (gradients() through this op is an error, unless
  // `not_differentiable` says its inputs simply get none, as TF's NotDifferentiable).
  GradFn grad = nullptr;
  bool not_differentiable = false;
  // TF's HostMemory: inputs that GPU kernels read on the host (shapes, axes, fill values); -1
  // is the last input, kHostMemoryFirstHalf every input of the first half (DynamicStitch's
  // indices). A Const there reaches a GPU step as its host value, with no copy node.
  static constexpr int kHostMemoryFirstHalf = -2;
  std::vector<int> host_memory_inputs = {};
  bool is_host_memory_input(std::size_t k, std::size_t num_inputs) const;
};

class OpRegistry {
 public:
  void add(OpDef def);
  // Sets the gradient of a registered op (gradient tables live beside their ops).
  void set_grad(const std::string& op, GradFn grad);
  void set_not_differentiable(const std::string& op);
  void set_host_memory_inputs(const std::string& op, std::vector<int> inputs);
  // nullptr when unknown.
  const OpDef* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, OpDef> defs_;
};

const OpRegistry& op_registry();

// The explicit list of op families (runtime/ops/*.cc).
void register_core_ops(OpRegistry& r);
void register_nn_ops(OpRegistry& r);
void register_math_ops(OpRegistry& r);
void register_collective_ops(OpRegistry& r);
void register_gradients(OpRegistry& r);

}  // namespace scopeflow
