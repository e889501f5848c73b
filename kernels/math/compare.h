// Element-wise comparisons with NumPy broadcasting (as binary.h): Equal, NotEqual (float32,
// float64, int32, int64, bool), Less, Greater (the same without bool), all giving bool.
// NOTE: IEEE rules: NaN compares unequal to everything (NotEqual(NaN, NaN) is true), and
// -0.0 == 0.0. CPU: compare_cpu.cc; CUDA: compare_cuda.cu.
#pragma once

#include "kernels/kernel.h"

namespace scopeflow::kernels {

enum class CompareOp { kEqual, kNotEqual, kLess, kGreater };

template <class T>
void compare_forward_ref(CompareOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                         bool* out, const Shape& so);

// NOTE: registered under DType::kBool, the output dtype the session looks kernels up by; the
// kernel dispatches on the inputs' dtype.
void register_compare_cpu_kernels(KernelRegistry& r);

// The same on CUDA: device memory, queued on `stream`; `so` is broadcast_shapes(sa, sb).
// T: float, double, int32_t, int64_t, bool. Throws InvalidArgumentError when the broadcast
// needs more than kMaxBroadcastRank dimensions after merging.
template <class T>
void compare_forward_cuda(CompareOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                          bool* out, const Shape& so, devices::Stream& stream);
void register_compare_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
