// BiasAdd (NHWC / last-dimension bias) and BiasAddGrad (sum over all but the last
// dimension), float32. CPU: bias_add_cpu.cc ("ref" and multi-threaded "cpu").
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// y[r, c] = x[r, c] + b[c] for rows r of `channels` values.
void bias_add_forward_ref(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels);
void bias_add_backward_ref(const float* dy, float* db, std::int64_t rows, std::int64_t channels);
// The same on the intra-op thread pool (label "cpu"). NOTE: the backward pass sums fixed
// blocks of rows in double and adds the blocks' sums in block order, so its result does not
// depend on the number of threads (it may differ from the reference in the last bit).
void bias_add_forward_cpu(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels);
void bias_add_backward_cpu(const float* dy, float* db, std::int64_t rows, std::int64_t channels);
// Registers BiasAdd and BiasAddGrad under "ref" and "cpu".
void register_bias_add_cpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
