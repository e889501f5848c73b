// Element-wise binary ops with NumPy broadcasting: Add/AddV2, Sub, Mul, RealDiv, Maximum, Minimum,
// Pow, SquaredDifference ((x - y) * (x - y), as Eigen's abs2)
// (NaN wins; a tie such as +0 vs -0 gives the first operand, as TF 2's element-wise path)
// (float32, float64, float16, bfloat16, int32, int64). CPU: binary_cpu.cc ("ref"; float32
// also "cpu", multi-threaded); CUDA: binary_cuda.cu (broadcasting through broadcast_plan.h).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "devices/base/host_device.h"
#include "devices/base/shape.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

// The broadcast shape of a and b (NumPy rules); throws InvalidArgumentError naming both.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what);

// Element strides of `s` aligned to the rank of `out` (its broadcast shape), 0 where a
// dimension is broadcast: index arithmetic for broadcasting loops.
std::vector<std::int64_t> broadcast_strides(const Shape& s, const Shape& out);

// Calls f(i, ia, ib) for every element i of `so` (the broadcast shape of `sa` and `sb`), in
// order, with the offsets of its operands in `sa` and `sb`: the reference kernels' loop.
template <class F>
void for_each_broadcast(const Shape& sa, const Shape& sb, const Shape& so, F&& f) {
  const std::int64_t n = so.num_elements();
  if (sa == so && sb == so) {
    for (std::int64_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  const int r = so.rank();
  const auto st_a = broadcast_strides(sa, so), st_b = broadcast_strides(sb, so);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(r), 0);
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    f(i, ia, ib);
    for (int d = r - 1; d >= 0; --d) {  // odometer increment
      const auto k = static_cast<std::size_t>(d);
      ++idx[k];
      ia += st_a[k];
      ib += st_b[k];
      if (idx[k] < so.dims()[k]) break;
      ia -= st_a[k] * idx[k];
      ib -= st_b[k] * idx[k];
      idx[k] = 0;
    }
  }
}

enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMax,
  kMin,
  kPow,
  kSquaredDifference,
  kFloorMod,  // TF's FloorMod: x - floor(x / y) * y, the sign of y
  kFloorDiv   // TF's FloorDiv: floor(x / y)
};

// TF's FloorMod on signed integers (google_floor_mod): the truncated remainder, moved by y when
// its sign differs from y's. y != 0 (the kernels refuse a zero divisor first); y == -1 gives 0
// (x % -1 of the most negative x would trap).
template <class T>
SF_HOST_DEVICE constexpr T floor_mod_int(T x, T y) {
  if (y == T(-1)) return T(0);
  const T r = static_cast<T>(x % y);
  return r != T(0) && ((y < T(0)) != (r < T(0))) ? static_cast<T>(r + y) : r;
}
// TF's FloorDiv on signed integers (google_floor_div): the truncated quotient, less one when
// there is a remainder and the signs differ. y != 0; the most negative x over -1 wraps.
template <class T>
SF_HOST_DEVICE constexpr T floor_div_int(T x, T y) {
  using U = std::make_unsigned_t<T>;
  if (y == T(-1)) return static_cast<T>(U(0) - static_cast<U>(x));
  const T z = static_cast<T>(x / y);
  return static_cast<T>(z * y) != x && ((x < T(0)) != (y < T(0))) ? static_cast<T>(z - T(1)) : z;
}
// TF's FloorMod on floats from the truncated remainder r = fmod(x, y): r + y when r is nonzero
// and its sign differs from y's.
template <class T>
SF_HOST_DEVICE constexpr T floor_mod_from_fmod(T r, T y) {
  return r != T(0) && ((y < T(0)) != (r < T(0))) ? r + y : r;
}

// x^y for integers (TF's Pow on int32/int64): repeated squaring, wrapping as two's complement
// on overflow; y >= 0 (a negative exponent is refused by the kernels before they run).
template <class T>
SF_HOST_DEVICE constexpr T integer_pow(T x, T y) {
  using U = std::make_unsigned_t<T>;
  U base = static_cast<U>(x), result = 1;
  for (U e = static_cast<U>(y); e != 0; e >>= 1) {
    if (e & 1U) result = static_cast<U>(result * base);
    base = static_cast<U>(base * base);
  }
  return static_cast<T>(result);
}

// Pow of integers: TF refuses a negative exponent ("Integers to negative integer powers are not
// allowed"), checked on the host (a device-to-host copy for GPU tensors, rare for integer
// powers); not when the broadcast output is empty (TF checks the exponents it uses).
template <class T>
void check_integer_exponents(const Tensor& a, const Tensor& b, const std::string& node) {
  if (broadcast_shapes(a.shape(), b.shape(), node).num_elements() == 0) return;
  for (T v : b.to_vector<T>())
    if (v < 0)
      throw InvalidArgumentError(
          str_cat(node, ": Integers to negative integer powers are not allowed"));
}

template <class T>
void binary_forward_ref(BinaryOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                        T* out, const Shape& so);

// out = `in` broadcast to `out_shape` (NumPy rules).
template <class T>
void broadcast_to_ref(const T* in, const Shape& in_shape, T* out, const Shape& out_shape);

// Device memory, queued on `stream` (a CUDA stream of the device holding the tensors); `so`
// is broadcast_shapes(sa, sb). T: float, double, half, bfloat16_t, int32_t, int64_t (integer
// division by zero must be ruled out by the caller). Throws InvalidArgumentError when the
// broadcast needs more than kMaxBroadcastRank dimensions after merging.
template <class T>
void binary_forward_cuda(BinaryOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                         T* out, const Shape& so, devices::Stream& stream);
template <class T>
void broadcast_to_cuda(const T* in, const Shape& in_shape, T* out, const Shape& out_shape,
                       devices::Stream& stream);

// Registers Add/AddV2/Sub/Mul/RealDiv, the unary Neg/Square/Sqrt/Floor/Exp, AddN and
// BroadcastTo.
void register_binary_cpu_kernels(KernelRegistry& r);
void register_binary_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
