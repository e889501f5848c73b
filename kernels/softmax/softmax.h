// Softmax / LogSoftmax over the last dimension (float32), numerically stable: the row maximum
// is subtracted before exp, sums accumulate in double (CUDA: float). CPU: softmax_cpu.cc;
// CUDA: softmax_cuda.cu.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// y[r, :] = exp(x[r, :] - max) / sum(exp(x[r, :] - max)) for `rows` rows of `depth` values.
// NOTE: a NaN anywhere in a row makes the whole row NaN, and +inf in a row gives NaN (inf -
// inf), as TF's Softmax (Eigen) does; -inf entries give 0 when the row has a finite maximum.
void softmax_forward_ref(const float* x, float* y, std::int64_t rows, std::int64_t depth);
// y = x - max - log(sum(exp(x - max))) per row; the same NaN/inf rules.
void log_softmax_forward_ref(const float* x, float* y, std::int64_t rows, std::int64_t depth);
void register_softmax_cpu_kernels(KernelRegistry& r);

// The same on CUDA (device memory, queued on `stream`, a CUDA stream of the tensors' device):
// a warp per row up to 256 values, a 256-thread block per row beyond; float32 sums.
void softmax_forward_cuda(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                          devices::Stream& stream);
void log_softmax_forward_cuda(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                              devices::Stream& stream);
void register_softmax_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
