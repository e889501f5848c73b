// LRN / LRNGrad on the CPU: reference loops (double sums) and registration. See lrn.h.
#include "kernels/lrn/lrn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace scopeflow::kernels {
namespace {

// The window sums of squares of one position's depth values, as a running sum.
void window_norms(const float* x, std::int64_t depth, const LrnParams& p, double* norm) {
  for (std::int64_t d = 0; d < depth; ++d) {
    const std::int64_t lo = std::max<std::int64_t>(0, d - p.depth_radius);
    const std::int64_t hi = std::min<std::int64_t>(depth, d + p.depth_radius + 1);
    double s = 0;
    for (std::int64_t k = lo; k < hi; ++k) s += double(x[k]) * double(x[k]);
    norm[d] = double(p.bias) + double(p.alpha) * s;
  }
}

void check_4d(const KernelContext& c, const Tensor& t, const char* what) {
  if (t.shape().rank() != 4)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be 4-dimensional, got ", t.shape().to_string()));
}

void lrn_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& x = c.inputs.at(0);
  check_4d(c, x, "input");
  const std::int64_t depth = x.shape().dims()[3];
  Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
  lrn_forward_ref(x.data<float>(), y.data<float>(), depth ? x.num_elements() / depth : 0, depth, p);
}

void lrn_grad_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& dy = c.inputs.at(0);
  const Tensor& x = c.inputs.at(1);
  const Tensor& y = c.inputs.at(2);
  check_4d(c, dy, "input_grads");
  if (!(dy.shape() == x.shape()) || !(y.shape() == x.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": input_grads ", dy.shape().to_string(),
                                       ", input_image ", x.shape().to_string(),
                                       " and output_image ", y.shape().to_string(),
                                       " must have the same shape"));
  const std::int64_t depth = x.shape().dims()[3];
  Tensor& dx = c.allocate_output(0, DType::kFloat32, x.shape());
  lrn_backward_ref(dy.data<float>(), x.data<float>(), y.data<float>(), dx.data<float>(),
                   depth ? x.num_elements() / depth : 0, depth, p);
}

}  // namespace

LrnParams lrn_params(const KernelContext& c) {
  LrnParams p;
  p.depth_radius = c.attr().get_or<std::int64_t>("depth_radius", 5);
  p.bias = c.attr().get_or<float>("bias", 1.0f);
  p.alpha = c.attr().get_or<float>("alpha", 1.0f);
  p.beta = c.attr().get_or<float>("beta", 0.5f);
  if (p.depth_radius < 0 || p.depth_radius > std::numeric_limits<std::int32_t>::max())
    throw InvalidArgumentError(
        str_cat(c.node_name, ": depth_radius must be in [0, 2^31), got ", p.depth_radius));
  if (!std::isfinite(p.bias) || !std::isfinite(p.alpha) || !std::isfinite(p.beta))
    throw InvalidArgumentError(str_cat(c.node_name, ": bias, alpha and beta must be finite, got ",
                                       p.bias, ", ", p.alpha, ", ", p.beta));
  return p;
}

void lrn_forward_ref(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                     const LrnParams& p) {
  std::vector<double> norm(static_cast<std::size_t>(depth));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * depth;
    window_norms(in, depth, p, norm.data());
    for (std::int64_t d = 0; d < depth; ++d)
      y[r * depth + d] = static_cast<float>(
          double(in[d]) * std::pow(norm[static_cast<std::size_t>(d)], -double(p.beta)));
  }
}

void lrn_backward_ref(const float* dy, const float* x, const float* y, float* dx, std::int64_t rows,
                      std::int64_t depth, const LrnParams& p) {
  std::vector<double> norm(static_cast<std::size_t>(depth)), acc(static_cast<std::size_t>(depth));
  const double ab2 = -2.0 * double(p.alpha) * double(p.beta);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * depth;
    window_norms(in, depth, p, norm.data());
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::int64_t d = 0; d < depth; ++d) {
      const double nd = norm[static_cast<std::size_t>(d)];
      const double g = dy[r * depth + d];
      const double yd = y[r * depth + d];
      const std::int64_t lo = std::max<std::int64_t>(0, d - p.depth_radius);
      const std::int64_t hi = std::min<std::int64_t>(depth, d + p.depth_radius + 1);
      for (std::int64_t k = lo; k < hi; ++k) {
        double v = ab2 * double(in[k]) * yd / nd;
        if (k == d) v += std::pow(nd, -double(p.beta));
        acc[static_cast<std::size_t>(k)] += v * g;
      }
    }
    for (std::int64_t d = 0; d < depth; ++d)
      dx[r * depth + d] = static_cast<float>(acc[static_cast<std::size_t>(d)]);
  }
}

void register_lrn_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"LRN", DeviceType::kCPU, DType::kFloat32, "ref"}, lrn_kernel);
  r.add({"LRNGrad", DeviceType::kCPU, DType::kFloat32, "ref"}, lrn_grad_kernel);
}

}  // namespace scopeflow::kernels
