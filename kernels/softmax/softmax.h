// Softmax / LogSoftmax over the last dimension (float32), numerically stable: the row maximum
// is subtracted before exp, sums accumulate in double. CPU: softmax_cpu.cc.
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

}  // namespace scopeflow::kernels
