// BiasAdd (NHWC / last-dimension bias) and BiasAddGrad (sum over all but the last
// dimension), float32. CPU: bias_add_cpu.cc.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// y[r, c] = x[r, c] + b[c] for rows r of `channels` values.
void bias_add_forward_ref(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels);
void bias_add_backward_ref(const float* dy, float* db, std::int64_t rows, std::int64_t channels);
void register_bias_add_cpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
