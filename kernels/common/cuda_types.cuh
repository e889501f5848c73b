// Device element types behind ScopeFlow's host storage types, and the arithmetic type each
// is computed in: float16/bfloat16 load as float, compute in float and round once on store
// (round to nearest even), as the CPU reference kernels do with sf::half / sf::bfloat16_t.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "devices/base/dtype.h"

namespace scopeflow::kernels {

// NOTE: kernels reinterpret sf::half* as __half* (and bfloat16_t* as __nv_bfloat16*): both
// are two bytes holding the IEEE/bfloat16 bits, and the host conversions round like
// __float2half_rn / __float2bfloat16_rn (devices/base/dtype.cc).
static_assert(sizeof(half) == sizeof(__half) && alignof(half) == alignof(__half));
static_assert(sizeof(bfloat16_t) == sizeof(__nv_bfloat16) &&
              alignof(bfloat16_t) == alignof(__nv_bfloat16));

template <class T>
struct CudaTypeOf {
  using type = T;
};
template <>
struct CudaTypeOf<half> {
  using type = __half;
};
template <>
struct CudaTypeOf<bfloat16_t> {
  using type = __nv_bfloat16;
};
// The device element type of host type T.
template <class T>
using cuda_type_t = typename CudaTypeOf<T>::type;

template <class T>
inline cuda_type_t<T>* cuda_ptr(T* p) {
  return reinterpret_cast<cuda_type_t<T>*>(p);
}
template <class T>
inline const cuda_type_t<T>* cuda_ptr(const T* p) {
  return reinterpret_cast<const cuda_type_t<T>*>(p);
}

// Arithmetic: T itself, float for the 16-bit floats.
template <class D>
struct ComputeTypeOf {
  using type = D;
};
template <>
struct ComputeTypeOf<__half> {
  using type = float;
};
template <>
struct ComputeTypeOf<__nv_bfloat16> {
  using type = float;
};
template <class D>
using compute_t = typename ComputeTypeOf<D>::type;

template <class D>
__device__ __forceinline__ compute_t<D> load_compute(D x) {
  return x;
}
template <>
__device__ __forceinline__ float load_compute<__half>(__half x) {
  return __half2float(x);
}
template <>
__device__ __forceinline__ float load_compute<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <class D>
__device__ __forceinline__ D store_compute(compute_t<D> x) {
  return x;
}
template <>
__device__ __forceinline__ __half store_compute<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 store_compute<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

}  // namespace scopeflow::kernels
