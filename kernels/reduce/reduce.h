// Sum / Mean / Max over a set of axes (float32), TF's reduction_indices and keep_dims; and
// L2Loss (TF's sum(x^2) / 2 over every element, a scalar), the same machinery.
// CPU: reduce_cpu.cc (double accumulation); CUDA: reduce_cuda.cu (double accumulation in a
// fixed order per shape, so results repeat bit for bit; plans in reduce_plan.h).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/reduce/reduce_plan.h"

namespace scopeflow::kernels {

// kL2Loss: half the sum of the squares (each element squared in double, as it is summed).
enum class ReduceOp { kSum, kMean, kMax, kL2Loss };

// Normalizes axes (negative counts from the end; empty = all) and checks them.
std::vector<bool> reduction_mask(const Shape& in, const std::vector<std::int64_t>& axes,
                                 const std::string& what);
Shape reduced_shape(const Shape& in, const std::vector<bool>& mask, bool keep_dims);
// The mask of a Sum / Mean / Max node: its axes input (int32 or int64, on any device) checked
// against x's shape; an empty axes tensor reduces nothing, as TF's.
std::vector<bool> reduction_mask_of(const KernelContext& c, const Shape& x);
void reduce_forward_ref(ReduceOp op, const float* x, const Shape& in, const std::vector<bool>& mask,
                        float* y);
void register_reduce_cpu_kernels(KernelRegistry& r);

// Registers L2Loss (CPU "ref"; CUDA "cuda" in reduce_cuda.cu).
// y = the reduction of x by plan `p`, float32 device memory, queued on `stream`. NOTE: Max
// propagates NaN and gives -inf for an empty reduction, Mean of nothing is NaN, as in the
// reference. `scratch` holds reduce_scratch_elems(p) doubles (reduce_plan.h).
void reduce_forward_cuda(ReduceOp op, const float* x, const ReducePlan& p, float* y,
                         double* scratch, devices::Stream& stream);
void register_reduce_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
