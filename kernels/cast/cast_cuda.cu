// Cast on CUDA between every pair of cast_dtypes(). Reference: cast_cpu.cc (cast_ref); the
// conversions below mirror its `convert` step by step, so results match it exactly (NaN bit
// patterns aside). Semantics: cast.h.
#include <type_traits>

#include "devices/cuda/cuda_check.h"
#include "kernels/cast/cast.h"
#include "kernels/common/cuda_types.cuh"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

template <class T>
constexpr bool is_reduced_float = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

__device__ __forceinline__ unsigned short reduced_bits(__half h) { return __half_as_ushort(h); }
__device__ __forceinline__ unsigned short reduced_bits(__nv_bfloat16 h) {
  return __bfloat16_as_ushort(h);
}
template <class H>
__device__ __forceinline__ H reduced_from_bits(unsigned short b) {
  if constexpr (std::is_same_v<H, __half>)
    return __ushort_as_half(b);
  else
    return __ushort_as_bfloat16(b);
}

// float16/bfloat16 from a float, round to nearest even; Truncate steps a value that rounded
// away from zero one ulp back toward zero (sign-magnitude: bits - 1 is the next smaller
// magnitude), as the reference's to_reduced.
template <class H>
__device__ __forceinline__ H to_reduced(float f, bool truncate) {
  H h = store_compute<H>(f);
  if (truncate && !isnan(f) && fabsf(load_compute(h)) > fabsf(f))
    h = reduced_from_bits<H>(static_cast<unsigned short>(reduced_bits(h) - 1));
  return h;
}

template <class I>
__device__ __forceinline__ I int_min() {
  if constexpr (sizeof(I) == 8)
    return static_cast<I>(INT64_MIN);
  else
    return static_cast<I>(INT32_MIN);
}

// float -> int32/int64 as the reference (x86's cvttss2si/cvttsd2si): truncation, and the
// minimum value for NaN and out-of-range inputs. NOTE: not CUDA's saturating conversion.
template <class I>
__device__ __forceinline__ I float_to_int(double v) {
  const double lo = static_cast<double>(int_min<I>());  // exact: -2^31 or -2^63
  if (!(v >= lo && v < -lo)) return int_min<I>();
  return static_cast<I>(v);
}

template <class D, class S>
__device__ __forceinline__ D convert(S s, bool truncate) {
  if constexpr (std::is_same_v<D, bool>) {
    if constexpr (is_reduced_float<S>)
      return load_compute(s) != 0.0f;
    else
      return s != S{};
  } else if constexpr (std::is_same_v<S, bool>) {
    if constexpr (is_reduced_float<D>)
      return store_compute<D>(s ? 1.0f : 0.0f);
    else
      return static_cast<D>(s ? 1 : 0);
  } else if constexpr (is_reduced_float<D>) {
    if constexpr (is_reduced_float<S>)
      return to_reduced<D>(load_compute(s), truncate);
    else
      return to_reduced<D>(static_cast<float>(s), truncate);  // double: via float, as Eigen
  } else if constexpr (is_reduced_float<S>) {
    return convert<D, float>(load_compute(s), truncate);
  } else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    if constexpr (sizeof(D) >= 4)
      return float_to_int<D>(static_cast<double>(s));
    else  // int8/uint8: through int32, keeping the low bits
      return static_cast<D>(float_to_int<std::int32_t>(static_cast<double>(s)));
  } else {
    return static_cast<D>(s);  // int <-> int (wraps), int -> float, float <-> double
  }
}

// ---------------------------------------------------------------- kernels
// One thread per element, grid-stride; loads and stores coalesce.
template <class D, class S>
__global__ void cast_kernel(const S* src, D* dst, std::int64_t n, bool truncate) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    dst[i] = convert<D, S>(src[i], truncate);
}

}  // namespace

// ---------------------------------------------------------------- launchers
void cast_forward_cuda(DType from, const void* src, DType to, void* dst, std::int64_t n,
                       bool truncate, devices::Stream& stream, const std::string& what) {
  with_cast_type(from, what, [&]<class S>(S) {
    with_cast_type(to, what, [&]<class D>(D) {
      if (n == 0) return;
      constexpr int kBlock = 256;
      cast_kernel<cuda_type_t<D>, cuda_type_t<S>>
          <<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream, what)>>>(
              cuda_ptr(static_cast<const S*>(src)), cuda_ptr(static_cast<D*>(dst)), n, truncate);
      SF_CUDA_CHECK(cudaGetLastError());
    });
  });
}

// ---------------------------------------------------------------- registration
namespace {

void cast_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  const DType to = c.attr().get<DType>("DstT");
  const DType from = c.attr().get_or<DType>("SrcT", x.dtype());
  if (from != x.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input is ", dtype_name(x.dtype()),
                                       " but SrcT is ", dtype_name(from)));
  if (from == to) {
    if (c.outputs.empty()) c.outputs.resize(1);
    c.outputs[0] = x;  // NOTE: shares the buffer, as TF's Cast forwards its input
    return;
  }
  with_cast_type(to, c.node_name, [](auto) {});  // an unsupported DstT throws before allocating
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, to, x.shape());
  cast_forward_cuda(from, x.raw_data(), to, y.raw_data(), x.num_elements(),
                    c.attr().get_or<bool>("Truncate", false), c.get_stream(), c.node_name);
}

}  // namespace

void register_cast_cuda_kernels(KernelRegistry& r) {
  for (DType d : cast_dtypes())
    r.add({"Cast", devices::DeviceType::kGPU, d, "cuda"}, cast_gpu_kernel);
}

}  // namespace scopeflow::kernels
