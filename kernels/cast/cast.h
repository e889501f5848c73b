// Cast (TF's attrs SrcT, DstT, Truncate) between float32, float64, float16, bfloat16, int8,
// uint8, int32, int64 and bool. CPU: cast_cpu.cc; CUDA: cast_cuda.cu (the same semantics,
// bit for bit: not CUDA's saturating float -> int conversion).
//
// Semantics (TF's x86 CPU kernel, which is C++'s static_cast where that is defined):
// - float -> int truncates toward zero. NOTE: NaN, +-inf and values outside the target's
//   range give the minimum of int32/int64 (x86's "integer indefinite", what TF's CPU kernel
//   returns: tf.cast(nan, tf.int32) == -2147483648; TF's GPU kernel gives 0 instead). int8 and
//   uint8 go through int32 and keep the low bits, as x86 code does (300.0 -> 44, -1.0 -> 255).
// - int -> int wraps (two's complement); int -> float rounds to nearest.
// - bool -> number is 1 or 0; number -> bool is x != 0 (so NaN -> true, -0.0 -> false).
// - to float16/bfloat16: round to nearest even (float64 goes through float32, as Eigen's
//   half(double) does); Truncate=true rounds toward zero instead (NaN stays NaN).
// - SrcT == DstT forwards the input buffer (TF's Cast does too).
#pragma once

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// Converts n elements of `src` (dtype `from`) to `dst` (dtype `to`); both host buffers.
// Throws InvalidArgumentError naming `what` for an unsupported dtype.
void cast_ref(DType from, const void* src, DType to, void* dst, std::int64_t n, bool truncate,
              const std::string& what);
// The dtypes Cast converts between.
const std::vector<DType>& cast_dtypes();
// Calls f(T{}) with T the host type of `d` (one of cast_dtypes()); throws
// InvalidArgumentError naming `what` for any other dtype.
template <class F>
void with_cast_type(DType d, const std::string& what, F f) {
  switch (d) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kFloat16: return f(half{});
    case DType::kBFloat16: return f(bfloat16_t{});
    case DType::kInt8: return f(std::int8_t{});
    case DType::kUInt8: return f(std::uint8_t{});
    case DType::kInt32: return f(std::int32_t{});
    case DType::kInt64: return f(std::int64_t{});
    case DType::kBool: return f(bool{});
    default: throw InvalidArgumentError(str_cat(what, ": Cast does not support ", dtype_name(d)));
  }
}
// Registers Cast under every DstT of cast_dtypes(). NOTE: keyed by DstT, the node's output
// dtype, which is what the session looks kernels up by; the kernel dispatches on the input.
void register_cast_cpu_kernels(KernelRegistry& r);

// cast_ref on CUDA: device buffers, queued on `stream` (a CUDA stream of their device).
void cast_forward_cuda(DType from, const void* src, DType to, void* dst, std::int64_t n,
                       bool truncate, devices::Stream& stream, const std::string& what);
void register_cast_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
