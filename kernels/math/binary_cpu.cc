// Element-wise binary ops on the CPU: reference loops with broadcasting, and multi-threaded
// float32 kernels (label "cpu") for same-shape and trailing-block (bias-style) operands.
// See binary.h.
#include "kernels/math/binary.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/parallel_for.h"
#include "kernels/init/random.h"

namespace scopeflow::kernels {

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what) {
  if (!a.has_rank() || !b.has_rank()) return Shape::unknown();
  const int ra = a.rank(), rb = b.rank(), r = std::max(ra, rb);
  std::vector<std::int64_t> dims(static_cast<std::size_t>(r));
  for (int i = 0; i < r; ++i) {
    const std::int64_t da = i < r - ra ? 1 : a.dims()[static_cast<std::size_t>(i - (r - ra))];
    const std::int64_t db = i < r - rb ? 1 : b.dims()[static_cast<std::size_t>(i - (r - rb))];
    std::int64_t d;
    if (da == db)
      d = da;
    else if (da == 1)
      d = db;
    else if (db == 1)
      d = da;
    else if (da < 0 || db < 0)
      d = std::max(da, db) > 1 ? std::max(da, db) : -1;
    else
      throw InvalidArgumentError(
          str_cat(what, ": Incompatible shapes: ", a.to_string(), " vs. ", b.to_string()));
    dims[static_cast<std::size_t>(i)] = d;
  }
  return Shape(dims);
}

std::vector<std::int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  const int r = out.rank(), rs = s.rank();
  std::vector<std::int64_t> strides(static_cast<std::size_t>(r), 0);
  std::int64_t stride = 1;
  for (int i = rs - 1; i >= 0; --i) {
    const auto d = s.dims()[static_cast<std::size_t>(i)];
    if (d != 1) strides[static_cast<std::size_t>(i + r - rs)] = stride;
    stride *= d;
  }
  return strides;
}

namespace {

template <class T>
T apply(BinaryOp op, T x, T y) {
  if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16_t>) {
    // NOTE: 16-bit floats compute in float and round once (as the GPU kernels do).
    return T(apply(op, static_cast<float>(x), static_cast<float>(y)));
  } else {
    switch (op) {
      case BinaryOp::kAdd:
        if constexpr (std::is_integral_v<T>)  // wrapping, as two's complement
          return static_cast<T>(static_cast<std::make_unsigned_t<T>>(x) +
                                static_cast<std::make_unsigned_t<T>>(y));
        else
          return x + y;
      case BinaryOp::kSub:
        if constexpr (std::is_integral_v<T>)
          return static_cast<T>(static_cast<std::make_unsigned_t<T>>(x) -
                                static_cast<std::make_unsigned_t<T>>(y));
        else
          return x - y;
      case BinaryOp::kMul:
        if constexpr (std::is_integral_v<T>)
          return static_cast<T>(static_cast<std::make_unsigned_t<T>>(x) *
                                static_cast<std::make_unsigned_t<T>>(y));
        else
          return x * y;
      case BinaryOp::kDiv:
        // The one signed quotient that overflows (and traps on x86): -2^(n-1) / -1 wraps to
        // -2^(n-1), as two's complement negation does, instead of a SIGFPE.
        if constexpr (std::is_integral_v<T> && std::is_signed_v<T>)
          if (y == T(-1)) return static_cast<T>(T(0) - static_cast<std::make_unsigned_t<T>>(x));
        return x / y;
      case BinaryOp::kMax: return x != x ? x : (y != y ? y : (x < y ? y : x));
      case BinaryOp::kMin: return x != x ? x : (y != y ? y : (y < x ? y : x));
      case BinaryOp::kSquaredDifference: {
        if constexpr (std::is_integral_v<T>) {  // wrapping, as two's complement
          using U = std::make_unsigned_t<T>;
          const U d = static_cast<U>(static_cast<U>(x) - static_cast<U>(y));
          return static_cast<T>(static_cast<U>(d * d));
        } else {
          const T d = x - y;
          return d * d;
        }
      }
      case BinaryOp::kPow:
        if constexpr (std::is_integral_v<T>)
          return integer_pow(x, y);
        else
          return std::pow(x, y);
      case BinaryOp::kFloorMod:
        if constexpr (std::is_integral_v<T>)
          return floor_mod_int(x, y);
        else
          return floor_mod_from_fmod(std::fmod(x, y), y);
      case BinaryOp::kFloorDiv:
        if constexpr (std::is_integral_v<T>)
          return floor_div_int(x, y);
        else
          return std::floor(x / y);
    }
    return T{};
  }
}

}  // namespace

template <class T>
void binary_forward_ref(BinaryOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                        T* out, const Shape& so) {
  for_each_broadcast(sa, sb, so, [&](std::int64_t i, std::int64_t ia, std::int64_t ib) {
    out[i] = apply(op, a[ia], b[ib]);
  });
}

template <class T>
void broadcast_to_ref(const T* in, const Shape& in_shape, T* out, const Shape& out_shape) {
  for_each_broadcast(in_shape, in_shape, out_shape,
                     [&](std::int64_t i, std::int64_t ii, std::int64_t) { out[i] = in[ii]; });
}
template void broadcast_to_ref<float>(const float*, const Shape&, float*, const Shape&);

template void binary_forward_ref<float>(BinaryOp, const float*, const Shape&, const float*,
                                        const Shape&, float*, const Shape&);

namespace {

template <class T, BinaryOp kOp>
void binary_cpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  if (a.dtype() != b.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input dtypes differ: ",
                                       dtype_name(a.dtype()), " vs ", dtype_name(b.dtype())));
  if constexpr ((kOp == BinaryOp::kDiv || kOp == BinaryOp::kFloorMod ||
                 kOp == BinaryOp::kFloorDiv) &&
                std::is_integral_v<T>) {
    for (T v : b.to_vector<T>())
      if (v == 0) throw InvalidArgumentError(str_cat(c.node_name, ": Integer division by zero"));
  }
  if constexpr (kOp == BinaryOp::kPow && std::is_integral_v<T>)
    check_integer_exponents<T>(a, b, c.node_name);
  const Shape so = broadcast_shapes(a.shape(), b.shape(), c.node_name);
  Tensor& out = c.allocate_output(0, a.dtype(), so);
  binary_forward_ref<T>(kOp, a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<T>(), so);
}

template <class T>
void register_type(KernelRegistry& r) {
  using devices::DeviceType;
  constexpr DType d = dtype_of<T>;
  r.add({"Add", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kAdd>);
  r.add({"AddV2", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kAdd>);
  r.add({"Sub", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kSub>);
  r.add({"Mul", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kMul>);
  r.add({"RealDiv", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kDiv>);
  r.add({"Maximum", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kMax>);
  r.add({"Minimum", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kMin>);
  r.add({"Pow", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kPow>);
  r.add({"SquaredDifference", DeviceType::kCPU, d, "ref"},
        binary_cpu_kernel<T, BinaryOp::kSquaredDifference>);
  r.add({"FloorMod", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kFloorMod>);
  r.add({"FloorDiv", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kFloorDiv>);
}

}  // namespace

// ---------------------------------------------------------------- multi-threaded (label "cpu")
namespace {

// The number of elements after which `s` repeats in an output of shape `out` when `s` is a
// trailing block of `out` (leading 1s aside: a bias [C] against [N, H, W, C], or a scalar,
// giving 1); -1 for any other broadcast.
std::int64_t trailing_block(const Shape& s, const Shape& out) {
  const auto& d = s.dims();
  std::size_t first = 0;
  while (first < d.size() && d[first] == 1) ++first;
  const std::size_t k = d.size() - first;
  if (k > static_cast<std::size_t>(out.rank())) return -1;
  std::int64_t inner = 1;
  for (std::size_t i = 0; i < k; ++i) {
    if (d[first + i] != out.dims()[out.dims().size() - k + i]) return -1;
    inner *= d[first + i];
  }
  return inner;
}

template <BinaryOp kOp>
void binary_float_cpu_kernel(KernelContext& c) {
  const Tensor& a = c.inputs.at(0);
  const Tensor& b = c.inputs.at(1);
  if (a.dtype() != b.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input dtypes differ: ",
                                       dtype_name(a.dtype()), " vs ", dtype_name(b.dtype())));
  const Shape so = broadcast_shapes(a.shape(), b.shape(), c.node_name);
  Tensor& out = c.allocate_output(0, DType::kFloat32, so);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  const std::int64_t n = so.num_elements();
  if (n == 0) return;
  if (a.shape() == so && b.shape() == so) {
    parallel_for(n, kElementwiseGrain, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) po[i] = apply(kOp, pa[i], pb[i]);
    });
    return;
  }
  // One operand full-size, the other repeating every `inner` elements: rows of `inner`.
  const bool a_full = a.shape() == so, b_full = b.shape() == so;
  const std::int64_t inner = a_full   ? trailing_block(b.shape(), so)
                             : b_full ? trailing_block(a.shape(), so)
                                      : -1;
  if (inner <= 0) {  // another broadcast: the reference loop
    binary_forward_ref<float>(kOp, pa, a.shape(), pb, b.shape(), po, so);
    return;
  }
  if (inner == 1) {  // a scalar operand (grad * 0.5, x / keep_prob): one flat loop
    const float sa = pa[0], sb = pb[0];
    parallel_for(n, kElementwiseGrain, [&](std::int64_t lo, std::int64_t hi) {
      if (a_full)
        for (std::int64_t i = lo; i < hi; ++i) po[i] = apply(kOp, pa[i], sb);
      else
        for (std::int64_t i = lo; i < hi; ++i) po[i] = apply(kOp, sa, pb[i]);
    });
    return;
  }
  parallel_for(n / inner, std::max<std::int64_t>(1, kElementwiseGrain / inner),
               [&](std::int64_t lo, std::int64_t hi) {
                 for (std::int64_t r = lo; r < hi; ++r) {
                   const std::int64_t base = r * inner;
                   if (a_full)
                     for (std::int64_t j = 0; j < inner; ++j)
                       po[base + j] = apply(kOp, pa[base + j], pb[j]);
                   else
                     for (std::int64_t j = 0; j < inner; ++j)
                       po[base + j] = apply(kOp, pa[j], pb[base + j]);
                 }
               });
}

}  // namespace

namespace {
// The float32 unary ops: one loop over raw pointers.
template <class F>
void unary_kernel(KernelContext& c, F f) {
  const Tensor& x = c.inputs.at(0);
  Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
  const float* in = x.data<float>();
  float* out = y.data<float>();
  for (std::int64_t i = 0; i < x.num_elements(); ++i) out[i] = f(in[i]);
}
void neg_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return -v; });
}
void square_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return v * v; });
}
void sqrt_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::sqrt(v); });
}
void floor_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::floor(v); });
}
// Floor, Ceil, Cos, Sin also take float64 (learning-rate schedules of a float64 rate), and Log
// (Pow's float64 gradient).
template <class T, class F>
void unary_typed_kernel(KernelContext& c, F f) {
  const Tensor& x = c.inputs.at(0);
  Tensor& y = c.allocate_output(0, dtype_of<T>, x.shape());
  const T* in = x.data<T>();
  T* out = y.data<T>();
  for (std::int64_t i = 0; i < x.num_elements(); ++i) out[i] = f(in[i]);
}
template <class T>
void floor_typed_kernel(KernelContext& c) {
  // (16-bit floats through float: exact, as their floor is a 16-bit value.)
  unary_typed_kernel<T>(c, [](T v) {
    if constexpr (sizeof(T) == 2)
      return T(std::floor(static_cast<float>(v)));
    else
      return std::floor(v);
  });
}
template <class T>
void log_typed_kernel(KernelContext& c) {
  unary_typed_kernel<T>(c, [](T v) { return std::log(v); });
}
template <class T>
void ceil_kernel(KernelContext& c) {
  unary_typed_kernel<T>(c, [](T v) {
    if constexpr (sizeof(T) == 2)
      return T(std::ceil(static_cast<float>(v)));
    else
      return std::ceil(v);
  });
}
template <class T>
void sin_kernel(KernelContext& c) {
  unary_typed_kernel<T>(c, [](T v) { return std::sin(v); });
}
template <class T>
void cos_kernel(KernelContext& c) {
  unary_typed_kernel<T>(c, [](T v) { return std::cos(v); });
}
void rsqrt_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return 1.0f / std::sqrt(v); });
}
void exp_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::exp(v); });
}
void log_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::log(v); });
}
// 1 / (1 + e^-x): 0 for x below about -88 (e^-x overflows to inf), 1 above about 17.
void sigmoid_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}
void tanh_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::tanh(v); });
}
void log1p_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::log1p(v); });
}
void abs_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return std::fabs(v); });
}
// Eigen's sign: (x > 0) - (x < 0), so 0 for +-0 and NaN.
void sign_kernel(KernelContext& c) {
  unary_kernel(c, [](float v) { return static_cast<float>((v > 0.0f) - (v < 0.0f)); });
}
template <class T>
void add_n_kernel(KernelContext& c) {
  if (c.inputs.empty()) throw InvalidArgumentError(str_cat(c.node_name, ": AddN needs inputs"));
  const Shape& s = c.inputs[0].shape();
  for (const auto& t : c.inputs)
    if (!(t.shape() == s))
      throw InvalidArgumentError(str_cat(c.node_name, ": AddN inputs must have one shape: ",
                                         s.to_string(), " vs ", t.shape().to_string()));
  Tensor& y = c.allocate_output(0, dtype_of<T>, s);
  T* out = y.data<T>();
  std::fill(out, out + y.num_elements(), T{0});
  for (const auto& t : c.inputs) {
    const T* x = t.data<T>();
    for (std::int64_t i = 0; i < t.num_elements(); ++i) out[i] += x[i];
  }
}
// AddN on the intra-op pool: each chunk sums the inputs in input order, as the reference does
// (the same bits).
void add_n_float_cpu_kernel(KernelContext& c) {
  if (c.inputs.empty()) throw InvalidArgumentError(str_cat(c.node_name, ": AddN needs inputs"));
  const Shape& s = c.inputs[0].shape();
  std::vector<const float*> in;
  for (const auto& t : c.inputs) {
    if (!(t.shape() == s))
      throw InvalidArgumentError(str_cat(c.node_name, ": AddN inputs must have one shape: ",
                                         s.to_string(), " vs ", t.shape().to_string()));
    in.push_back(t.data<float>());
  }
  Tensor& y = c.allocate_output(0, DType::kFloat32, s);
  float* out = y.data<float>();
  // In blocks that stay in L1 while every input is added; the first one or two inputs in the
  // same pass that writes the block: the reference's (0 + x0) + x1 without its zero fill (NOTE:
  // 0.0f + x0 is kept, it turns -0 into +0 as the reference does).
  constexpr std::int64_t kBlock = 2048;
  parallel_for(y.num_elements(), kElementwiseGrain, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t b = lo; b < hi; b += kBlock) {
      const std::int64_t e = std::min(hi, b + kBlock);
      const float* x0 = in[0];
      std::size_t k = 1;
      if (in.size() >= 2) {
        const float* x1 = in[1];
        for (std::int64_t i = b; i < e; ++i) out[i] = (0.0f + x0[i]) + x1[i];
        k = 2;
      } else {
        for (std::int64_t i = b; i < e; ++i) out[i] = 0.0f + x0[i];
      }
      for (; k < in.size(); ++k) {
        const float* x = in[k];
        for (std::int64_t i = b; i < e; ++i) out[i] += x[i];
      }
    }
  });
}
void broadcast_to_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const Shape target = shape_from_tensor(c.inputs.at(1), c.node_name);
  const Shape b = broadcast_shapes(x.shape(), target, c.node_name);
  if (!(b == target))
    throw InvalidArgumentError(str_cat(c.node_name, ": cannot broadcast ", x.shape().to_string(),
                                       " to ", target.to_string()));
  Tensor& y = c.allocate_output(0, DType::kFloat32, target);
  broadcast_to_ref<float>(x.data<float>(), x.shape(), y.data<float>(), target);
}
}  // namespace

void register_binary_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Neg", DeviceType::kCPU, DType::kFloat32, "ref"}, neg_kernel);
  r.add({"Square", DeviceType::kCPU, DType::kFloat32, "ref"}, square_kernel);
  r.add({"Sqrt", DeviceType::kCPU, DType::kFloat32, "ref"}, sqrt_kernel);
  r.add({"Floor", DeviceType::kCPU, DType::kFloat32, "ref"}, floor_kernel);
  r.add({"Floor", DeviceType::kCPU, DType::kFloat64, "ref"}, floor_typed_kernel<double>);
  r.add({"Floor", DeviceType::kCPU, DType::kFloat16, "ref"}, floor_typed_kernel<half>);
  r.add({"Floor", DeviceType::kCPU, DType::kBFloat16, "ref"}, floor_typed_kernel<bfloat16_t>);
  r.add({"Ceil", DeviceType::kCPU, DType::kFloat16, "ref"}, ceil_kernel<half>);
  r.add({"Ceil", DeviceType::kCPU, DType::kBFloat16, "ref"}, ceil_kernel<bfloat16_t>);
  r.add({"Log", DeviceType::kCPU, DType::kFloat64, "ref"}, log_typed_kernel<double>);
  r.add({"Ceil", DeviceType::kCPU, DType::kFloat32, "ref"}, ceil_kernel<float>);
  r.add({"Ceil", DeviceType::kCPU, DType::kFloat64, "ref"}, ceil_kernel<double>);
  r.add({"Cos", DeviceType::kCPU, DType::kFloat32, "ref"}, cos_kernel<float>);
  r.add({"Cos", DeviceType::kCPU, DType::kFloat64, "ref"}, cos_kernel<double>);
  r.add({"Sin", DeviceType::kCPU, DType::kFloat32, "ref"}, sin_kernel<float>);
  r.add({"Sin", DeviceType::kCPU, DType::kFloat64, "ref"}, sin_kernel<double>);
  r.add({"Exp", DeviceType::kCPU, DType::kFloat32, "ref"}, exp_kernel);
  r.add({"Rsqrt", DeviceType::kCPU, DType::kFloat32, "ref"}, rsqrt_kernel);
  r.add({"Rsqrt", DeviceType::kCPU, DType::kFloat64, "ref"}, [](KernelContext& c) {
    unary_typed_kernel<double>(c, [](double v) { return 1.0 / std::sqrt(v); });
  });
  r.add({"Log", DeviceType::kCPU, DType::kFloat32, "ref"}, log_kernel);
  r.add({"Sigmoid", DeviceType::kCPU, DType::kFloat32, "ref"}, sigmoid_kernel);
  r.add({"Tanh", DeviceType::kCPU, DType::kFloat32, "ref"}, tanh_kernel);
  r.add({"Abs", DeviceType::kCPU, DType::kFloat32, "ref"}, abs_kernel);
  r.add({"Log1p", DeviceType::kCPU, DType::kFloat32, "ref"}, log1p_kernel);
  r.add({"Sign", DeviceType::kCPU, DType::kFloat32, "ref"}, sign_kernel);
  r.add({"AddN", DeviceType::kCPU, DType::kFloat32, "ref"}, add_n_kernel<float>);
  r.add({"AddN", DeviceType::kCPU, DType::kFloat64, "ref"}, add_n_kernel<double>);
  r.add({"AddN", DeviceType::kCPU, DType::kFloat32, "cpu"}, add_n_float_cpu_kernel);
  r.add({"BroadcastTo", DeviceType::kCPU, DType::kFloat32, "ref"}, broadcast_to_kernel);
  register_type<float>(r);
  register_type<double>(r);
  register_type<half>(r);
  register_type<bfloat16_t>(r);
  r.add({"Add", DeviceType::kCPU, DType::kFloat32, "cpu"}, binary_float_cpu_kernel<BinaryOp::kAdd>);
  r.add({"AddV2", DeviceType::kCPU, DType::kFloat32, "cpu"},
        binary_float_cpu_kernel<BinaryOp::kAdd>);
  r.add({"Sub", DeviceType::kCPU, DType::kFloat32, "cpu"}, binary_float_cpu_kernel<BinaryOp::kSub>);
  r.add({"Mul", DeviceType::kCPU, DType::kFloat32, "cpu"}, binary_float_cpu_kernel<BinaryOp::kMul>);
  r.add({"RealDiv", DeviceType::kCPU, DType::kFloat32, "cpu"},
        binary_float_cpu_kernel<BinaryOp::kDiv>);
  r.add({"Maximum", DeviceType::kCPU, DType::kFloat32, "cpu"},
        binary_float_cpu_kernel<BinaryOp::kMax>);
  r.add({"Minimum", DeviceType::kCPU, DType::kFloat32, "cpu"},
        binary_float_cpu_kernel<BinaryOp::kMin>);
  register_type<std::int32_t>(r);
  register_type<std::int64_t>(r);
}

}  // namespace scopeflow::kernels
