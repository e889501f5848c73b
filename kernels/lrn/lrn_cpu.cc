// LRN / LRNGrad on the CPU: reference loops (double sums) and registration. See lrn.h.
#include "kernels/lrn/lrn.h"

#include "kernels/common/parallel_for.h"

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
    // As TF: the norm is a float32 (alpha * sum overflowing to inf makes the output 0).
    norm[d] = static_cast<float>(double(p.bias) + double(p.alpha) * static_cast<float>(s));
  }
}

using LrnForward = void (*)(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                            const LrnParams& p);
using LrnBackward = void (*)(const float* dy, const float* x, const float* y, float* dx,
                             std::int64_t rows, std::int64_t depth, const LrnParams& p);

// The LRN / LRNGrad kernels around a row function (the reference's or the fast one): attrs and
// inputs checked, the output allocated, rows = N * H * W of depth values.
template <LrnForward kForward>
void lrn_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& x = c.inputs.at(0);
  lrn_check_4d(c, x, "input");
  const std::int64_t depth = x.shape().dims()[3];
  Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
  kForward(x.data<float>(), y.data<float>(), depth ? x.num_elements() / depth : 0, depth, p);
}

template <LrnBackward kBackward>
void lrn_grad_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& dy = c.inputs.at(0);
  const Tensor& x = c.inputs.at(1);
  const Tensor& y = c.inputs.at(2);
  lrn_grad_check(c, dy, x, y);
  const std::int64_t depth = x.shape().dims()[3];
  Tensor& dx = c.allocate_output(0, DType::kFloat32, x.shape());
  kBackward(dy.data<float>(), x.data<float>(), y.data<float>(), dx.data<float>(),
            depth ? x.num_elements() / depth : 0, depth, p);
}

}  // namespace

void lrn_check_4d(const KernelContext& c, const Tensor& t, const char* what) {
  if (t.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be float32, got ", dtype_name(t.dtype())));
  if (t.shape().rank() != 4)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be 4-dimensional, got ", t.shape().to_string()));
}

void lrn_grad_check(const KernelContext& c, const Tensor& dy, const Tensor& x, const Tensor& y) {
  lrn_check_4d(c, dy, "input_grads");
  lrn_check_4d(c, x, "input_image");
  lrn_check_4d(c, y, "output_image");
  if (!(dy.shape() == x.shape()) || !(y.shape() == x.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": input_grads ", dy.shape().to_string(),
                                       ", input_image ", x.shape().to_string(),
                                       " and output_image ", y.shape().to_string(),
                                       " must have the same shape"));
}

LrnParams lrn_params(const KernelContext& c) {
  LrnParams p;
  p.depth_radius = c.attr().get_or<std::int64_t>("depth_radius", 5);
  p.bias = c.attr().get_or<float>("bias", 1.0f);
  p.alpha = c.attr().get_or<float>("alpha", 1.0f);
  p.beta = c.attr().get_or<float>("beta", 0.5f);
  if (p.depth_radius < 0 || p.depth_radius >= std::numeric_limits<std::int32_t>::max())
    throw InvalidArgumentError(
        str_cat(c.node_name, ": depth_radius = ", p.depth_radius, " must be in [0, 2^31 - 1)"));
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
          double(in[d]) * lrn_scale(norm[static_cast<std::size_t>(d)], double(p.beta)));
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
        if (k == d) v += lrn_scale(nd, double(p.beta));
        acc[static_cast<std::size_t>(k)] += v * g;
      }
    }
    for (std::int64_t d = 0; d < depth; ++d)
      dx[r * depth + d] = static_cast<float>(acc[static_cast<std::size_t>(d)]);
  }
}

namespace {

// norm^-beta, with 0.75 (AlexNet's and the cifar10 tutorial's) as square roots (NaN for a
// negative norm, as lrn_scale).
inline float pow_neg_beta(float norm, float beta) {
  // In double: norm^1.5 neither overflows nor underflows there (a float norm of 1e26 or 1e-32
  // would give 0 or inf in float, where TF's exp(-beta log(norm)) is finite).
  if (beta == 0.75f) {
    const double n = norm;
    return static_cast<float>(1.0 / std::sqrt(n * std::sqrt(n)));
  }
  return static_cast<float>(lrn_scale(double(norm), double(beta)));
}

// Window sums over a row of `depth` values v(k): a running sum in double, recomputed exactly
// when a term leaving the window dominated it (so a huge value followed by small ones does not
// leave the small ones' sums cancelled away). sums[d] = sum of v(k) for k in d's window.
template <class V>
void window_sums(std::int64_t depth, std::int64_t r, const V& v, double* sums) {
  auto exact = [&](std::int64_t d) {
    double s = 0;
    for (std::int64_t k = std::max<std::int64_t>(0, d - r); k < std::min(depth, d + r + 1); ++k)
      s += v(k);
    return s;
  };
  double s = depth > 0 ? exact(0) : 0;
  for (std::int64_t d = 0; d < depth; ++d) {
    sums[d] = s;
    if (d + 1 >= depth) break;
    if (d + r + 1 < depth) s += v(d + r + 1);
    if (d - r >= 0) {
      const double removed = v(d - r);
      s -= removed;
      // Recomputed when the leaving term dominated, and past a NaN or an infinity (inf - inf):
      // each window's sum is then its own, as the reference's.
      if (!std::isfinite(s) || std::fabs(s) < 1e-8 * std::fabs(removed)) s = exact(d + 1);
    }
  }
}

// The norms bias + alpha * (window sum of squares) of one row.
void running_norms(const float* x, std::int64_t depth, const LrnParams& p, float* norm,
                   double* scratch) {
  window_sums(
      depth, p.depth_radius, [x](std::int64_t k) { return double(x[k]) * x[k]; }, scratch);
  for (std::int64_t d = 0; d < depth; ++d)
    norm[d] = static_cast<float>(double(p.bias) + double(p.alpha) * static_cast<float>(scratch[d]));
}

// Rows per chunk: enough work per chunk for the pool.
std::int64_t row_grain(std::int64_t depth) {
  return std::max<std::int64_t>(1, kElementwiseGrain / std::max<std::int64_t>(1, depth));
}

// Label "cpu": float math, O(1) work per element (running window sums), rows on the intra-op
// pool. Within 1e-5 relative of "ref" (tests/kernels/nn_test.cc).
void lrn_forward_fast(const float* in, float* out, std::int64_t rows, std::int64_t depth,
                      const LrnParams& p) {
  parallel_for(rows, row_grain(depth), [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> norm(static_cast<std::size_t>(depth));
    std::vector<double> scratch(static_cast<std::size_t>(depth));
    for (std::int64_t row = begin; row < end; ++row) {
      const float* xr = in + row * depth;
      running_norms(xr, depth, p, norm.data(), scratch.data());
      for (std::int64_t d = 0; d < depth; ++d)
        out[row * depth + d] = xr[d] * pow_neg_beta(norm[static_cast<std::size_t>(d)], p.beta);
    }
  });
}

// dx[k] = dy[k] norm_k^-beta - 2 alpha beta x[k] * sum over d in k's window of dy[d] y[d] /
// norm_d: the sum a running one.
void lrn_backward_fast(const float* g, const float* in, const float* out, float* res,
                       std::int64_t rows, std::int64_t depth, const LrnParams& p) {
  const std::int64_t r = p.depth_radius;
  const double ab2 = -2.0 * double(p.alpha) * double(p.beta);
  parallel_for(rows, row_grain(depth), [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> norm(static_cast<std::size_t>(depth));
    std::vector<double> t(static_cast<std::size_t>(depth)), sums(static_cast<std::size_t>(depth));
    for (std::int64_t row = begin; row < end; ++row) {
      const std::int64_t o = row * depth;
      running_norms(in + o, depth, p, norm.data(), sums.data());
      for (std::int64_t d = 0; d < depth; ++d)
        t[static_cast<std::size_t>(d)] =
            double(g[o + d]) * double(out[o + d]) / double(norm[static_cast<std::size_t>(d)]);
      window_sums(
          depth, r, [&t](std::int64_t k) { return t[static_cast<std::size_t>(k)]; }, sums.data());
      for (std::int64_t k = 0; k < depth; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        const double own = double(g[o + k]) * pow_neg_beta(norm[kk], p.beta);
        res[o + k] = static_cast<float>(own + ab2 * double(in[o + k]) * sums[kk]);
      }
    }
  });
}

}  // namespace

void register_lrn_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"LRN", DeviceType::kCPU, DType::kFloat32, "cpu"}, lrn_kernel<lrn_forward_fast>);
  r.add({"LRNGrad", DeviceType::kCPU, DType::kFloat32, "cpu"}, lrn_grad_kernel<lrn_backward_fast>);
  r.add({"LRN", DeviceType::kCPU, DType::kFloat32, "ref"}, lrn_kernel<lrn_forward_ref>);
  r.add({"LRNGrad", DeviceType::kCPU, DType::kFloat32, "ref"}, lrn_grad_kernel<lrn_backward_ref>);
}

}  // namespace scopeflow::kernels
