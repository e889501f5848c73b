// Cast on the CPU: reference loops and registration. See cast.h for the semantics.
#include "kernels/cast/cast.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace scopeflow::kernels {
namespace {

template <class T>
constexpr bool is_reduced_float = std::is_same_v<T, half> || std::is_same_v<T, bfloat16_t>;
template <class T>
constexpr bool is_float_like = std::is_floating_point_v<T> || is_reduced_float<T>;

// float16/bfloat16 from a float; Truncate steps a value that rounded away from zero one ulp
// back toward zero (both formats are sign-magnitude, so bits - 1 is the next smaller magnitude).
template <class H>
H to_reduced(float f, bool truncate) {
  H h(f);
  if (truncate && !std::isnan(f) && std::fabs(static_cast<float>(h)) > std::fabs(f))
    h.bits = static_cast<std::uint16_t>(h.bits - 1);
  return h;
}

// float -> int32/int64 as x86's cvttss2si/cvttsd2si: truncation, and the minimum value for
// NaN and out-of-range inputs (see cast.h).
template <class I>
I float_to_int(double v) {
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::min());  // exact: -2^k
  if (!(v >= lo && v < -lo)) return std::numeric_limits<I>::min();
  return static_cast<I>(v);
}

template <class D, class S>
D convert(S s, bool truncate) {
  if constexpr (std::is_same_v<D, bool>) {
    if constexpr (is_reduced_float<S>)
      return static_cast<float>(s) != 0.0f;
    else
      return s != S{};
  } else if constexpr (std::is_same_v<S, bool>) {
    if constexpr (is_reduced_float<D>)
      return D(s ? 1.0f : 0.0f);
    else
      return static_cast<D>(s ? 1 : 0);
  } else if constexpr (is_reduced_float<D>) {
    return to_reduced<D>(static_cast<float>(s), truncate);
  } else if constexpr (is_reduced_float<S>) {
    return convert<D, float>(static_cast<float>(s), truncate);
  } else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    if constexpr (sizeof(D) >= 4)
      return float_to_int<D>(static_cast<double>(s));
    else
      return static_cast<D>(float_to_int<std::int32_t>(static_cast<double>(s)));
  } else {
    return static_cast<D>(s);  // int <-> int (wraps), int -> float, float <-> double
  }
}

template <class D, class S>
void cast_loop(const S* src, D* dst, std::int64_t n, bool truncate) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = convert<D, S>(src[i], truncate);
}

void cast_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
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
  Tensor& y = c.allocate_output(0, to, x.shape());
  cast_ref(from, x.raw_data(), to, y.raw_data(), x.num_elements(),
           c.attr().get_or<bool>("Truncate", false), c.node_name);
}

}  // namespace

void cast_ref(DType from, const void* src, DType to, void* dst, std::int64_t n, bool truncate,
              const std::string& what) {
  with_cast_type(from, what, [&]<class S>(S) {
    with_cast_type(to, what, [&]<class D>(D) {
      cast_loop<D, S>(static_cast<const S*>(src), static_cast<D*>(dst), n, truncate);
    });
  });
}

const std::vector<DType>& cast_dtypes() {
  static const std::vector<DType> dtypes{DType::kFloat32,  DType::kFloat64, DType::kFloat16,
                                         DType::kBFloat16, DType::kInt8,    DType::kUInt8,
                                         DType::kInt32,    DType::kInt64,   DType::kBool};
  return dtypes;
}

void register_cast_cpu_kernels(KernelRegistry& r) {
  for (DType d : cast_dtypes()) r.add({"Cast", devices::DeviceType::kCPU, d, "ref"}, cast_kernel);
}

}  // namespace scopeflow::kernels
