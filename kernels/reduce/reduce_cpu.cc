// Reductions on the CPU. See reduce.h.
#include "kernels/reduce/reduce.h"

#include <limits>

namespace scopeflow::kernels {

std::vector<bool> reduction_mask(const Shape& in, const std::vector<std::int64_t>& axes,
                                 const std::string& what) {
  const int r = in.rank();
  std::vector<bool> mask(static_cast<std::size_t>(r), axes.empty());
  for (auto a : axes) {
    if (a < -r || a >= r)
      throw InvalidArgumentError(str_cat(what, ": Invalid reduction dimension ", a,
                                         " for input with ", r, " dimensions."));
    const auto at = static_cast<std::size_t>(a < 0 ? a + r : a);
    if (mask[at] && !axes.empty())  // TF's ReductionHelper
      throw InvalidArgumentError(
          str_cat(what, ": Invalid reduction arguments: Axes contains duplicate dimension: ", at));
    mask[at] = true;
  }
  return mask;
}

Shape reduced_shape(const Shape& in, const std::vector<bool>& mask, bool keep_dims) {
  std::vector<std::int64_t> d;
  for (int i = 0; i < in.rank(); ++i) {
    if (!mask[static_cast<std::size_t>(i)])
      d.push_back(in.dims()[static_cast<std::size_t>(i)]);
    else if (keep_dims)
      d.push_back(1);
  }
  return Shape(d);
}

void reduce_forward_ref(ReduceOp op, const float* x, const Shape& in, const std::vector<bool>& mask,
                        float* y) {
  const int r = in.rank();
  // Output index of every input element: strides over the kept dimensions.
  std::vector<std::int64_t> out_stride(static_cast<std::size_t>(r), 0);
  std::int64_t s = 1, out_n = 1, group = 1;
  for (int i = r - 1; i >= 0; --i) {
    const auto k = static_cast<std::size_t>(i);
    if (!mask[k]) {
      out_stride[k] = s;
      s *= in.dims()[k];
      out_n *= in.dims()[k];
    } else {
      group *= in.dims()[k];
    }
  }
  std::vector<double> acc(static_cast<std::size_t>(out_n),
                          op == ReduceOp::kMax ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(r), 0);
  const std::int64_t n = in.num_elements();
  std::int64_t o = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto& a = acc[static_cast<std::size_t>(o)];
    if (op == ReduceOp::kMax)
      a = (x[i] > a || x[i] != x[i]) ? x[i] : a;
    else if (op == ReduceOp::kL2Loss)
      a += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    else
      a += x[i];
    for (int d = r - 1; d >= 0; --d) {
      const auto k = static_cast<std::size_t>(d);
      ++idx[k];
      o += out_stride[k];
      if (idx[k] < in.dims()[k]) break;
      o -= out_stride[k] * idx[k];
      idx[k] = 0;
    }
  }
  for (std::int64_t i = 0; i < out_n; ++i) {
    double v = acc[static_cast<std::size_t>(i)];
    if (op == ReduceOp::kMean) v /= static_cast<double>(group);
    if (op == ReduceOp::kL2Loss) v *= 0.5;
    y[i] = static_cast<float>(v);
  }
}

namespace {
template <ReduceOp kOp>
void reduce_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  std::vector<std::int64_t> axes;
  const Tensor& ax = c.inputs.at(1);
  if (ax.dtype() == DType::kInt32) {
    for (auto a : ax.to_vector<std::int32_t>()) axes.push_back(a);
  } else {
    axes = ax.to_vector<std::int64_t>();
  }
  // NOTE: an empty axes tensor reduces nothing in TF; reduce_sum(x) passes all axes explicitly.
  std::vector<bool> mask = reduction_mask(x.shape(), axes, c.node_name);
  if (axes.empty()) std::fill(mask.begin(), mask.end(), false);
  Tensor& y =
      c.allocate_output(0, DType::kFloat32,
                        reduced_shape(x.shape(), mask, c.attr().get_or<bool>("keep_dims", false)));
  reduce_forward_ref(kOp, x.data<float>(), x.shape(), mask, y.data<float>());
}
// TF's L2Loss: a float32 scalar, sum(t^2) / 2 over every element of t.
void l2_loss_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  if (x.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": L2Loss takes float32, got ", dtype_name(x.dtype())));
  const std::vector<bool> all(static_cast<std::size_t>(x.shape().rank()), true);
  Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{});
  reduce_forward_ref(ReduceOp::kL2Loss, x.data<float>(), x.shape(), all, y.data<float>());
}
}  // namespace

void register_reduce_cpu_kernels(KernelRegistry& r) {
  r.add({"L2Loss", devices::DeviceType::kCPU, DType::kFloat32, "ref"}, l2_loss_kernel);
  using devices::DeviceType;
  r.add({"Sum", DeviceType::kCPU, DType::kFloat32, "ref"}, reduce_kernel<ReduceOp::kSum>);
  r.add({"Mean", DeviceType::kCPU, DType::kFloat32, "ref"}, reduce_kernel<ReduceOp::kMean>);
  r.add({"Max", DeviceType::kCPU, DType::kFloat32, "ref"}, reduce_kernel<ReduceOp::kMax>);
}

}  // namespace scopeflow::kernels
