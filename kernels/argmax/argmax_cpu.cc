// ArgMax on the CPU: reference loops and registration. See argmax.h.
#include "kernels/argmax/argmax.h"

#include <cmath>

#include <limits>

namespace scopeflow::kernels {

template <class T, class Index>
void argmax_forward_ref(const T* x, Index* out, std::int64_t outer, std::int64_t depth,
                        std::int64_t inner) {
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * depth * inner + i;
      std::int64_t best = 0;
      T best_value = std::numeric_limits<T>::lowest();
      for (std::int64_t d = 0; d < depth; ++d)
        if (p[d * inner] > best_value) {  // NOTE: false for NaN, so NaN never wins (argmax.h)
          best = d;
          best_value = p[d * inner];
        }
      out[o * inner + i] = static_cast<Index>(best);
    }
}
template void argmax_forward_ref<float, std::int64_t>(const float*, std::int64_t*, std::int64_t,
                                                      std::int64_t, std::int64_t);

ArgMaxPlan argmax_plan(const Tensor& x, const Tensor& dim, const std::string& node) {
  if (dim.num_elements() != 1 || (dim.dtype() != DType::kInt32 && dim.dtype() != DType::kInt64))
    throw InvalidArgumentError(str_cat(node, ": dimension must be an int32/int64 scalar"));
  const int rank = x.shape().rank();
  std::int64_t axis =
      dim.dtype() == DType::kInt32 ? dim.scalar<std::int32_t>() : dim.scalar<std::int64_t>();
  if (axis < -rank || axis >= rank)
    throw InvalidArgumentError(str_cat(node, ": Expected dimension in the range [", -rank, ", ",
                                       rank, "), but got ", axis));
  if (axis < 0) axis += rank;
  const auto& dims = x.shape().dims();
  ArgMaxPlan p;
  for (int i = 0; i < rank; ++i) {
    if (i < axis) p.outer *= dims[static_cast<std::size_t>(i)];
    if (i > axis) p.inner *= dims[static_cast<std::size_t>(i)];
    if (i != axis) p.out_dims.push_back(dims[static_cast<std::size_t>(i)]);
  }
  p.depth = dims[static_cast<std::size_t>(axis)];
  if (p.depth == 0)
    throw InvalidArgumentError(
        str_cat(node, ": Reduction axis ", axis, " is empty in shape ", x.shape().to_string()));
  return p;
}

namespace {

template <class Index>
void argmax_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const ArgMaxPlan p = argmax_plan(x, c.inputs.at(1), c.node_name);
  const std::int64_t outer = p.outer, depth = p.depth, inner = p.inner;
  Tensor& y = c.allocate_output(0, dtype_of<Index>, Shape(p.out_dims));
  Index* out = y.data<Index>();
  switch (x.dtype()) {
    case DType::kFloat32: return argmax_forward_ref(x.data<float>(), out, outer, depth, inner);
    case DType::kFloat64: return argmax_forward_ref(x.data<double>(), out, outer, depth, inner);
    case DType::kInt32: return argmax_forward_ref(x.data<std::int32_t>(), out, outer, depth, inner);
    case DType::kInt64: return argmax_forward_ref(x.data<std::int64_t>(), out, outer, depth, inner);
    default:
      throw InvalidArgumentError(
          str_cat(c.node_name, ": ArgMax does not support ", dtype_name(x.dtype())));
  }
}

void in_top_k_kernel(KernelContext& c) {
  const Tensor& pred = c.inputs.at(0);
  const Tensor& targets = c.inputs.at(1);
  const std::int64_t k = in_top_k_check(pred, targets, c.inputs.at(2), c.node_name);
  const std::int64_t batch = pred.shape().dims()[0], classes = pred.shape().dims()[1];
  Tensor& out = c.allocate_output(0, DType::kBool, Shape{batch});
  if (targets.dtype() == DType::kInt32)
    in_top_k_ref(pred.data<float>(), targets.data<std::int32_t>(), out.data<bool>(), batch, classes,
                 k);
  else
    in_top_k_ref(pred.data<float>(), targets.data<std::int64_t>(), out.data<bool>(), batch, classes,
                 k);
}

}  // namespace

std::int64_t in_top_k_check(const Tensor& predictions, const Tensor& targets, const Tensor& k,
                            const std::string& node) {
  if (predictions.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(node, ": predictions must be float32, got ", dtype_name(predictions.dtype())));
  if (predictions.shape().rank() != 2)
    throw InvalidArgumentError(str_cat(node, ": predictions must be 2-dimensional, got ",
                                       predictions.shape().to_string()));
  if (targets.dtype() != DType::kInt32 && targets.dtype() != DType::kInt64)
    throw InvalidArgumentError(
        str_cat(node, ": targets must be int32 or int64, got ", dtype_name(targets.dtype())));
  if (targets.shape().rank() != 1)
    throw InvalidArgumentError(
        str_cat(node, ": targets must be 1-dimensional, got ", targets.shape().to_string()));
  if (targets.shape().dims()[0] != predictions.shape().dims()[0])
    throw InvalidArgumentError(
        str_cat(node, ": First dimension of predictions ", predictions.shape().dims()[0],
                " must match length of targets ", targets.shape().dims()[0]));
  if (k.dtype() != DType::kInt32 && k.dtype() != DType::kInt64)
    throw InvalidArgumentError(
        str_cat(node, ": k must be int32 or int64, got ", dtype_name(k.dtype())));
  if (k.shape().rank() != 0)
    throw InvalidArgumentError(str_cat(node, ": k must be 0-D, got shape ", k.shape().to_string()));
  const Tensor kh = k.to(devices::host_device());
  return kh.dtype() == DType::kInt32 ? kh.scalar<std::int32_t>() : kh.scalar<std::int64_t>();
}

template <class Index>
void in_top_k_ref(const float* predictions, const Index* targets, bool* out, std::int64_t batch,
                  std::int64_t classes, std::int64_t k) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t t = static_cast<std::int64_t>(targets[b]);
    const float* row = predictions + b * classes;
    bool finite = t >= 0 && t < classes;
    for (std::int64_t i = 0; i < classes && finite; ++i) finite = std::isfinite(row[i]);
    std::int64_t above = 0;
    for (std::int64_t i = 0; i < classes && finite; ++i) above += row[i] > row[t];
    out[b] = finite && above < k;
  }
}
template void in_top_k_ref<std::int32_t>(const float*, const std::int32_t*, bool*, std::int64_t,
                                         std::int64_t, std::int64_t);
template void in_top_k_ref<std::int64_t>(const float*, const std::int64_t*, bool*, std::int64_t,
                                         std::int64_t, std::int64_t);

void register_argmax_cpu_kernels(KernelRegistry& r) {
  r.add({"InTopKV2", devices::DeviceType::kCPU, DType::kBool, "ref"}, in_top_k_kernel);
  using devices::DeviceType;
  r.add({"ArgMax", DeviceType::kCPU, DType::kInt64, "ref"}, argmax_kernel<std::int64_t>);
  r.add({"ArgMax", DeviceType::kCPU, DType::kInt32, "ref"}, argmax_kernel<std::int32_t>);
}

}  // namespace scopeflow::kernels
