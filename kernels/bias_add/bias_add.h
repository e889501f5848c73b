// BiasAdd (NHWC / last-dimension bias) and BiasAddGrad (sum over all but the last
// dimension), float32, and the fused bias-add + relu (op "_FusedBiasAddRelu", what
// Relu(BiasAdd(x, b)) computes, in one pass). CPU: bias_add_cpu.cc ("ref" and multi-threaded
// "cpu"); CUDA: bias_add_cuda.cu.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// y[r, c] = x[r, c] + b[c] for rows r of `channels` values.
void bias_add_forward_ref(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels);
void bias_add_backward_ref(const float* dy, float* db, std::int64_t rows, std::int64_t channels);
// y[r, c] = relu(x[r, c] + b[c]) (relu.h: NaN passes).
void bias_add_relu_forward_ref(const float* x, const float* b, float* y, std::int64_t rows,
                               std::int64_t channels);
// The same on the intra-op thread pool (label "cpu"). NOTE: the backward pass sums fixed
// blocks of rows in double and adds the blocks' sums in block order, so its result does not
// depend on the number of threads (it may differ from the reference in the last bit).
void bias_add_forward_cpu(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels);
void bias_add_backward_cpu(const float* dy, float* db, std::int64_t rows, std::int64_t channels);
// Registers BiasAdd and BiasAddGrad under "ref" and "cpu".
void register_bias_add_cpu_kernels(KernelRegistry& r);

// Device memory, queued on `stream`; y may alias x. Float4 accesses when the pointers are
// 16-byte aligned and channels % 4 == 0.
void bias_add_forward_cuda(const float* x, const float* b, float* y, std::int64_t rows,
                           std::int64_t channels, devices::Stream& stream);
void bias_add_relu_cuda(const float* x, const float* b, float* y, std::int64_t rows,
                        std::int64_t channels, devices::Stream& stream);
// db[c] = sum over rows of dy[r, c], accumulated in double in an order fixed by the shape
// (no atomics: repeated runs give the same bits). `scratch` holds
// bias_add_backward_cuda_scratch_elems(rows, channels) doubles.
std::int64_t bias_add_backward_cuda_scratch_elems(std::int64_t rows, std::int64_t channels);
void bias_add_backward_cuda(const float* dy, float* db, std::int64_t rows, std::int64_t channels,
                            double* scratch, devices::Stream& stream);
void register_bias_add_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
