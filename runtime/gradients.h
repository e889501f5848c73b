// gradients(ys, xs, grad_ys): TF1's symbolic differentiation. Walks the ops between xs and
// ys backwards, calling each op's registered gradient function under the name scope
// "gradients/<op>_grad", summing gradients that reach a tensor by several paths with AddN.
#pragma once

#include <vector>

#include "runtime/graph.h"

namespace scopeflow {

// One gradient per x (an invalid Output when x does not influence any y, as TF's None).
// `grad_ys`: the initial gradients (default: ones shaped like each y). ValueError naming the
// op when a path crosses an op without a gradient.
std::vector<Output> gradients(const std::vector<Output>& ys, const std::vector<Output>& xs,
                              const std::vector<Output>& grad_ys = {});
inline std::vector<Output> gradients(const Output& y, const std::vector<Output>& xs) {
  return gradients(std::vector<Output>{y}, xs);
}

// The attrs on a gather's gradient along axis 0 (TF's IndexedSlices): the name of the op whose
// output 0 holds the rows it touches (int32/int64, -1 for an index that touches none), and the
// gather's name. MomentumOptimizer updates only those rows, as TF's sparse update does, when the
// gather reads the variable itself (through Identity ops only): a gradient that other ops passed
// on unchanged (an Add of equal shapes) is dense in TF.
inline constexpr const char* kGradientRowsAttr = "_gradient_rows";
inline constexpr const char* kGradientGatherAttr = "_gradient_gather";

namespace grad_util {
// Creates an op in `g` (name relative to the current name scope) and returns output 0.
Output op(Graph& g, const std::string& type, const std::vector<Output>& inputs, AttrMap attrs = {},
          const std::string& name = "");
Output const_ints(Graph& g, const std::vector<std::int64_t>& v, const std::string& name);
Output scalar(Graph& g, double value, DType dtype, const std::string& name);
// TF's Cast of x to dst (Truncate false).
Output cast_to(Graph& g, const Output& x, DType dst, const std::string& name);
// t's shape as an int32 vector: a Const when its static shape is fully defined, else a Shape op
// (the value at run time, as TF's gradients take array_ops.shape).
Output shape_of(Graph& g, const Output& t, const std::string& name);
// TF's Tensor.set_shape(shape) for a compatible shape: t's unknown static dimensions (or rank)
// taken from `shape` (the gradients take their input's static shape, as TF's).
void refine_static_shape(const Output& t, const Shape& shape);
// TF's `_is_zeros_tensor` tag: t is zeros that gradients() or tf.zeros / tf.zeros_like made (a
// ZerosLike op, a Fill of a constant 0, or a Const of zeros); gradient functions skip work for
// it as TF's do (a softmax cross-entropy's unused backprop output).
bool is_zeros_tensor(const Output& t);
// x's gradient from `grad`, the gradient of an op's output that broadcast x (with `other`, the
// op's other operand, when it has one): `grad` summed over the axes that broadcasting added or
// stretched, reshaped to x's shape. Where the static shapes decide those axes (always when
// they are fully defined, and for [?, n] + [n]), they are Consts; otherwise they are computed
// at run time, as TF's BroadcastGradientArgs.
Output reduce_to_shape(Graph& g, const Output& grad, const Output& x, const Output& other = {});
}  // namespace grad_util

}  // namespace scopeflow
