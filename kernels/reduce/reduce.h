// Sum / Mean / Max over a set of axes (float32), TF's reduction_indices and keep_dims.
// CPU: reduce_cpu.cc (double accumulation).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

enum class ReduceOp { kSum, kMean, kMax };

// Normalizes axes (negative counts from the end; empty = all) and checks them.
std::vector<bool> reduction_mask(const Shape& in, const std::vector<std::int64_t>& axes,
                                 const std::string& what);
Shape reduced_shape(const Shape& in, const std::vector<bool>& mask, bool keep_dims);
void reduce_forward_ref(ReduceOp op, const float* x, const Shape& in, const std::vector<bool>& mask,
                        float* y);
void register_reduce_cpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
