// Local response normalization (TF's LRN / LRNGrad, AlexNet's and TF's cifar10 tutorial's
// norm1 / norm2), float32, NHWC, across the last (depth) dimension:
//   sqr_sum[.., d] = sum over k in [d - r, d + r] (clipped to the depth) of x[.., k]^2
//   y[.., d] = x[.., d] / (bias + alpha * sqr_sum[.., d]) ^ beta
// LRNGrad (TF's CPU formula): for each d and each k in d's window,
//   dx[k] += dy[d] * ((k == d) * norm_d^-beta - 2 alpha beta x[k] y[d] / norm_d).
// CPU: lrn_cpu.cc ("ref": double sums, windows summed anew; "cpu", the default: running window
// sums, rows on the intra-op pool); CUDA: lrn_cuda.cu (float sums, one thread per element).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// TF's norm^-beta: 1 / norm for beta 1, 1 / sqrt(norm) for 0.5, else exp(-beta log(norm)) (so
// a negative norm gives NaN, and a zero norm with beta 0 too, as TF's).
inline double lrn_scale(double norm, double beta) {
  if (beta == 1.0) return 1.0 / norm;
  if (beta == 0.5) return 1.0 / std::sqrt(norm);
  return std::exp(-beta * std::log(norm));
}

struct LrnParams {
  std::int64_t depth_radius = 5;
  float bias = 1.0f, alpha = 1.0f, beta = 0.5f;
};

// `rows` = N*H*W positions of `depth` values each.
void lrn_forward_ref(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                     const LrnParams& p);
void lrn_backward_ref(const float* dy, const float* x, const float* y, float* dx, std::int64_t rows,
                      std::int64_t depth, const LrnParams& p);

// The attrs of an LRN / LRNGrad node, checked (depth_radius in [0, 2^31 - 1), as TF's; beta,
// alpha and bias finite): InvalidArgumentError naming the node otherwise.
LrnParams lrn_params(const KernelContext& c);
// A float32 4-D tensor `what` (InvalidArgumentError naming the node otherwise).
void lrn_check_4d(const KernelContext& c, const Tensor& t, const char* what);
// LRNGrad's inputs: float32, 4-D, one shape, depth + depth_radius within int32 (TF's limit)
// (InvalidArgumentError naming the node otherwise).
void lrn_grad_check(const KernelContext& c, const Tensor& dy, const Tensor& x, const Tensor& y);

void register_lrn_cpu_kernels(KernelRegistry& r);
void register_lrn_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
