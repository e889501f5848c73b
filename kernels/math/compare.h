// Element-wise comparisons with NumPy broadcasting (as binary.h): Equal, NotEqual (float32,
// float64, int32, int64, bool), Less, Greater, LessEqual, GreaterEqual (the same without
// bool), all giving bool.
// NOTE: IEEE rules: NaN compares unequal to everything (NotEqual(NaN, NaN) is true), and
// -0.0 == 0.0. CPU: compare_cpu.cc; CUDA: compare_cuda.cu.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

enum class CompareOp { kEqual, kNotEqual, kLess, kGreater, kLessEqual, kGreaterEqual };

// Calls run(T{}) with the C++ type of the inputs' dtype: float32, float64, int32, int64, and
// bool for Equal / NotEqual; InvalidArgumentError naming `node` for any other dtype. The CPU
// and CUDA kernels share it, so both accept exactly the same dtypes.
template <class F>
void dispatch_compare_dtype(CompareOp op, DType dtype, const std::string& node, F&& run) {
  switch (dtype) {
    case DType::kFloat32: return run(float{});
    case DType::kFloat64: return run(double{});
    case DType::kInt32: return run(std::int32_t{});
    case DType::kInt64: return run(std::int64_t{});
    case DType::kBool:
      if (op == CompareOp::kEqual || op == CompareOp::kNotEqual) return run(bool{});
      [[fallthrough]];
    default:
      throw InvalidArgumentError(
          str_cat(node, ": comparison does not support ", dtype_name(dtype)));
  }
}

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
