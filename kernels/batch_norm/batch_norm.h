// TF's fused batch normalization, float32: FusedBatchNormV3(x, scale, offset, mean, variance) ->
// (y, batch_mean, batch_variance, reserve_space_1, reserve_space_2, reserve_space_3) and
// FusedBatchNormGradV3(y_backprop, x, scale, reserve_space_1, reserve_space_2, reserve_space_3)
// -> (x_backprop, scale_backprop, offset_backprop, reserve_space_4, reserve_space_5), with TF's
// attrs epsilon, exponential_avg_factor (forward), data_format (NHWC, NCHW, NDHWC, NCDHW) and
// is_training. x is viewed as [outer, C, inner] (channels last: inner = 1).
//
// Training (TF's CPU kernel's conventions, on every device here):
//   mean = E[x], var = E[(x - mean)^2] per channel (the biased variance);
//   y = x * a + b with a = scale * rsqrt(var + eps), b = offset - mean * a;
//   batch_mean = (1 - f) * mean_in + f * mean, batch_variance = (1 - f) * variance_in
//   + f * var * n / max(n - 1, 1) (Bessel's correction; f = exponential_avg_factor, and the
//   inputs mean / variance may be empty when f is 1);
//   reserve_space_1 = mean, reserve_space_2 = var (biased), reserve_space_3 = [0] (unused).
// Inference: y from the given mean and variance, which the other four outputs repeat.
// Gradient (training; mean and var from the reserve spaces, k = rsqrt(var + eps)):
//   dx = scale * k * (dy - E[dy] - (x - mean) * k^2 * E[dy * (x - mean)]),
//   dscale = sum(dy * (x - mean)) * k, doffset = sum(dy);
// inference: dx = dy * scale * k with the population statistics. reserve_space_4 / _5 are
// zero scalars (TF's placeholders).
// CPU: batch_norm_cpu.cc (double sums over fixed blocks: results repeat bit for bit whatever
// the thread count); CUDA: batch_norm_cuda.cu (the deterministic reductions of reduce_cuda.cu
// and elementwise kernels).
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

struct BatchNormLayout {
  std::int64_t outer = 0, channels = 0, inner = 1;
  std::int64_t count() const { return outer * inner; }  // elements per channel
};

struct BatchNormAttrs {
  float epsilon = 1e-4f;
  float factor = 1.0f;  // exponential_avg_factor
  bool is_training = true;
  bool channels_first = false;  // NCHW / NCDHW
};

// The node's attrs, checked (data_format one of TF's four, epsilon finite and >= 0):
// InvalidArgumentError naming the node otherwise.
BatchNormAttrs batch_norm_attrs(const KernelContext& c);
// x's [outer, C, inner] view: float32 of rank 4 (NHWC / NCHW) or 5 (NDHWC / NCDHW), as the
// data_format says (InvalidArgumentError naming the node otherwise).
BatchNormLayout batch_norm_layout(const KernelContext& c, const Tensor& x, const BatchNormAttrs& a);
// A float32 1-D tensor of `channels` elements (`what`: TF's input name), or, when
// `may_be_empty`, an empty one (InvalidArgumentError naming the node otherwise).
void batch_norm_check_vector(const KernelContext& c, const Tensor& t, const char* what,
                             std::int64_t channels, bool may_be_empty = false);

// Whether the forward op reads its mean / variance inputs.
inline bool batch_norm_reads_statistics(const BatchNormAttrs& a) {
  return !a.is_training || a.factor != 1.0f;
}

// The inputs both devices check before running, InvalidArgumentError naming the node otherwise.
// Forward: 5 inputs, x's layout, scale and offset, and mean and variance when they are read
// (unread, any 1-D float32 tensor, as TF's kernel). Gradient: 6 inputs, x's layout, y_backprop
// float32 of x's shape, scale, reserve_space_1 and reserve_space_2. Both return x's layout.
BatchNormLayout batch_norm_check_forward(const KernelContext& c, const BatchNormAttrs& a);
BatchNormLayout batch_norm_check_grad(const KernelContext& c, const BatchNormAttrs& a);

void register_batch_norm_cpu_kernels(KernelRegistry& r);
void register_batch_norm_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
