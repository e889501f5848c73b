// Element-wise ops on CUDA: Add/AddV2/Sub/Mul/RealDiv/Maximum/Minimum/Pow with broadcasting,
// Neg/Square/Sqrt/Floor/Ceil/Cos/Exp/..., AddN, BroadcastTo. Reference: binary_cpu.cc;
// broadcasting: broadcast_launch.cuh.
#include "devices/cuda/cuda_check.h"
#include "kernels/common/cuda_types.cuh"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/init/random.h"
#include "kernels/math/binary.h"
#include "kernels/math/broadcast_launch.cuh"
#include "kernels/math/broadcast_plan.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

// The type integer +, -, * compute in: unsigned, so that they wrap as two's complement.
template <class C, bool = std::is_integral_v<C>>
struct WrapType {
  using type = C;
};
template <class C>
struct WrapType<C, true> {
  using type = std::make_unsigned_t<C>;
};

template <BinaryOp kOp, class C>
__device__ __forceinline__ C binary_apply(C x, C y) {
  using W = typename WrapType<C>::type;
  if constexpr (kOp == BinaryOp::kAdd)  // integers wrap, as two's complement
    return static_cast<C>(static_cast<W>(x) + static_cast<W>(y));
  else if constexpr (kOp == BinaryOp::kSub)
    return static_cast<C>(static_cast<W>(x) - static_cast<W>(y));
  else if constexpr (kOp == BinaryOp::kMul)
    return static_cast<C>(static_cast<W>(x) * static_cast<W>(y));
  else if constexpr (kOp == BinaryOp::kDiv)
    return x / y;
  else if constexpr (kOp == BinaryOp::kMax)  // NaN wins; a tie gives x (the reference's rule)
    return x != x ? x : (y != y ? y : (x < y ? y : x));
  else if constexpr (kOp == BinaryOp::kMin)
    return x != x ? x : (y != y ? y : (y < x ? y : x));
  else if constexpr (kOp == BinaryOp::kSquaredDifference && std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    const U d = static_cast<U>(static_cast<U>(x) - static_cast<U>(y));
    return static_cast<C>(static_cast<U>(d * d));
  } else if constexpr (kOp == BinaryOp::kSquaredDifference) {
    const C d = x - y;
    return d * d;
  } else if constexpr (kOp == BinaryOp::kFloorMod && std::is_integral_v<C>) {
    return floor_mod_int(x, y);
  } else if constexpr (kOp == BinaryOp::kFloorMod) {
    return floor_mod_from_fmod(fmod(x, y), y);
  } else if constexpr (kOp == BinaryOp::kFloorDiv && std::is_integral_v<C>) {
    return floor_div_int(x, y);
  } else if constexpr (kOp == BinaryOp::kFloorDiv) {
    return floor(x / y);
  } else if constexpr (std::is_integral_v<C>)
    return integer_pow(x, y);
  else
    return pow(x, y);  // CUDA's powf / pow: within 2 ulp / 1 ulp of the reference's std::pow
}

// out = a op b, computed as the reference does (16-bit floats in float, rounded once).
template <BinaryOp kOp, class D>
struct BinaryFn {
  __device__ D operator()(D x, D y) const {
    return store_compute<D>(binary_apply<kOp>(load_compute(x), load_compute(y)));
  }
};

// BroadcastTo: the first operand (the plan's a and b are the same input).
struct FirstFn {
  template <class D>
  __device__ D operator()(D x, D) const {
    return x;
  }
};

// ---------------------------------------------------------------- kernels
enum class UnaryOp {
  kNeg,
  kSquare,
  kSqrt,
  kFloor,
  kExp,
  kLog,
  kSigmoid,
  kTanh,
  kAbs,
  kSign,
  kLog1p,
  kCeil,
  kCos,
  kSin,
  kRsqrt
};

template <UnaryOp kOp>
__device__ __forceinline__ float unary_apply(float x) {
  if constexpr (kOp == UnaryOp::kNeg)
    return -x;
  else if constexpr (kOp == UnaryOp::kSquare)
    return x * x;
  else if constexpr (kOp == UnaryOp::kSqrt)
    return sqrtf(x);  // IEEE (nvcc's -prec-sqrt default)
  else if constexpr (kOp == UnaryOp::kFloor)
    return floorf(x);
  else if constexpr (kOp == UnaryOp::kCeil)
    return ceilf(x);
  else if constexpr (kOp == UnaryOp::kRsqrt)
    return 1.0f / sqrtf(x);  // IEEE sqrt and division: the reference's 1 / std::sqrt
  else if constexpr (kOp == UnaryOp::kCos)
    return cosf(x);  // within 2 ulp of std::cos (nvcc's default, no fast math)
  else if constexpr (kOp == UnaryOp::kSin)
    return sinf(x);  // within 2 ulp of std::sin
  else if constexpr (kOp == UnaryOp::kLog)
    return logf(x);  // CUDA's logf: within 1 ulp of std::log (not bit-equal)
  else if constexpr (kOp == UnaryOp::kSigmoid)
    return 1.0f / (1.0f + expf(-x));  // the reference's formula (see binary_cpu.cc)
  else if constexpr (kOp == UnaryOp::kTanh)
    return tanhf(x);  // within 2 ulp of std::tanh
  else if constexpr (kOp == UnaryOp::kAbs)
    return fabsf(x);
  else if constexpr (kOp == UnaryOp::kLog1p)
    return log1pf(x);  // within 1 ulp of std::log1p
  else if constexpr (kOp == UnaryOp::kSign)
    return static_cast<float>((x > 0.0f) - (x < 0.0f));  // Eigen's: 0 for zeros and NaN
  else
    return expf(x);  // CUDA's expf: within 2 ulp of the reference's std::exp (not bit-equal)
}

// Floor, Ceil, Cos, Sin, Log in float64 (CUDA's floor / ceil exact; cos / sin within 2 ulp).
template <UnaryOp kOp>
__global__ void unary_double_kernel(const double* x, double* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    if constexpr (kOp == UnaryOp::kFloor)
      y[i] = floor(x[i]);
    else if constexpr (kOp == UnaryOp::kCeil)
      y[i] = ceil(x[i]);
    else if constexpr (kOp == UnaryOp::kCos)
      y[i] = cos(x[i]);
    else if constexpr (kOp == UnaryOp::kLog)
      y[i] = log(x[i]);  // within 1 ulp
    else if constexpr (kOp == UnaryOp::kRsqrt)
      y[i] = 1.0 / sqrt(x[i]);  // IEEE: the reference's expression
    else
      y[i] = sin(x[i]);
  }
}

template <UnaryOp kOp>
__global__ void unary_kernel(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    y[i] = unary_apply<kOp>(x[i]);
}

// AddN over up to kAddNChunk inputs per launch; `accumulate` continues a previous chunk's sums
// from `out`, so the order is the reference's: ((0 + x0) + x1) + ...
constexpr int kAddNChunk = 16;
template <class T>
struct AddNInputs {
  const T* p[kAddNChunk];
  int count;
};
template <class T>
__global__ void add_n_kernel(AddNInputs<T> in, bool accumulate, T* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    T s = accumulate ? out[i] : T{0};
    for (int k = 0; k < in.count; ++k) s += in.p[k][i];
    out[i] = s;
  }
}

}  // namespace

// ---------------------------------------------------------------- launchers
template <class T>
void binary_forward_cuda(BinaryOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                         T* out, const Shape& so, devices::Stream& stream) {
  const BroadcastPlan p = make_broadcast_plan(sa, sb, so);
  using D = cuda_type_t<T>;
  auto launch = [&]<BinaryOp kOp>() {
    broadcast::launch(BinaryFn<kOp, D>{}, cuda_ptr(a), cuda_ptr(b), cuda_ptr(out), p,
                      cuda_stream(stream));
  };
  switch (op) {
    case BinaryOp::kAdd: launch.template operator()<BinaryOp::kAdd>(); break;
    case BinaryOp::kSub: launch.template operator()<BinaryOp::kSub>(); break;
    case BinaryOp::kMul: launch.template operator()<BinaryOp::kMul>(); break;
    case BinaryOp::kDiv: launch.template operator()<BinaryOp::kDiv>(); break;
    case BinaryOp::kMax: launch.template operator()<BinaryOp::kMax>(); break;
    case BinaryOp::kMin: launch.template operator()<BinaryOp::kMin>(); break;
    case BinaryOp::kPow: launch.template operator()<BinaryOp::kPow>(); break;
    case BinaryOp::kSquaredDifference:
      launch.template operator()<BinaryOp::kSquaredDifference>();
      break;
    case BinaryOp::kFloorMod: launch.template operator()<BinaryOp::kFloorMod>(); break;
    case BinaryOp::kFloorDiv: launch.template operator()<BinaryOp::kFloorDiv>(); break;
  }
}

template <class T>
void broadcast_to_cuda(const T* in, const Shape& in_shape, T* out, const Shape& out_shape,
                       devices::Stream& stream) {
  const BroadcastPlan p = make_broadcast_plan(in_shape, in_shape, out_shape);
  broadcast::launch(FirstFn{}, cuda_ptr(in), cuda_ptr(in), cuda_ptr(out), p, cuda_stream(stream));
}

#define SF_BINARY_CUDA_INSTANTIATE(T)                                                            \
  template void binary_forward_cuda<T>(BinaryOp, const T*, const Shape&, const T*, const Shape&, \
                                       T*, const Shape&, devices::Stream&);                      \
  template void broadcast_to_cuda<T>(const T*, const Shape&, T*, const Shape&, devices::Stream&);
SF_BINARY_CUDA_INSTANTIATE(float)
SF_BINARY_CUDA_INSTANTIATE(double)
SF_BINARY_CUDA_INSTANTIATE(half)
SF_BINARY_CUDA_INSTANTIATE(bfloat16_t)
SF_BINARY_CUDA_INSTANTIATE(std::int32_t)
SF_BINARY_CUDA_INSTANTIATE(std::int64_t)
#undef SF_BINARY_CUDA_INSTANTIATE

// ---------------------------------------------------------------- registration
namespace {

template <class T, BinaryOp kOp>
void binary_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& a = gpu_input(c, 0);
  const Tensor& b = gpu_input(c, 1);
  if (a.dtype() != b.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input dtypes differ: ",
                                       dtype_name(a.dtype()), " vs ", dtype_name(b.dtype())));
  if constexpr ((kOp == BinaryOp::kDiv || kOp == BinaryOp::kFloorMod ||
                 kOp == BinaryOp::kFloorDiv) &&
                std::is_integral_v<T>) {
    // NOTE: the reference throws on an integer zero divisor (CUDA would return garbage), so
    // the divisor is checked on the host: a device-to-host copy, rare for integer division.
    for (T v : b.to_vector<T>())
      if (v == 0) throw InvalidArgumentError(str_cat(c.node_name, ": Integer division by zero"));
  }
  if constexpr (kOp == BinaryOp::kPow && std::is_integral_v<T>)
    check_integer_exponents<T>(a, b, c.node_name);
  const Shape so = broadcast_shapes(a.shape(), b.shape(), c.node_name);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, a.dtype(), so);
  binary_forward_cuda<T>(kOp, a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<T>(), so,
                         c.get_stream());
}

template <UnaryOp kOp>
void unary_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  unary_kernel<kOp><<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream())>>>(
      x.data<float>(), y.data<float>(), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

// Floor and Ceil of 16-bit floats, through float (exact).
template <bool kCeil, class D>
__global__ void round16_kernel(const D* x, D* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const float v = load_compute(x[i]);
    y[i] = store_compute<D>(kCeil ? ceilf(v) : floorf(v));
  }
}

template <bool kCeil, class T>
void round16_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, dtype_of<T>, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  using D = cuda_type_t<T>;
  round16_kernel<kCeil, D><<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream())>>>(
      cuda_ptr(x.data<T>()), cuda_ptr(y.data<T>()), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

template <UnaryOp kOp>
void unary_double_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat64, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  unary_double_kernel<kOp><<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream())>>>(
      x.data<double>(), y.data<double>(), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void add_n_gpu_kernel(KernelContext& c) {
  if (c.inputs.empty()) throw InvalidArgumentError(str_cat(c.node_name, ": AddN needs inputs"));
  const Shape& s = c.inputs[0].shape();
  for (std::size_t k = 0; k < c.inputs.size(); ++k) {
    const Tensor& t = gpu_input(c, k);
    if (!(t.shape() == s))
      throw InvalidArgumentError(str_cat(c.node_name, ": AddN inputs must have one shape: ",
                                         s.to_string(), " vs ", t.shape().to_string()));
  }
  GpuLaunchScope scope(c);
  std::vector<const T*> ptrs;
  for (const auto& t : c.inputs) ptrs.push_back(t.data<T>());  // before outputs may alias
  Tensor& y = gpu_output(c, 0, dtype_of<T>, s);
  const std::int64_t n = y.num_elements();
  if (n == 0) return;
  const cudaStream_t st = cuda_stream(c.get_stream());
  for (std::size_t first = 0; first < ptrs.size(); first += kAddNChunk) {
    AddNInputs<T> in{};
    in.count = static_cast<int>(std::min<std::size_t>(kAddNChunk, ptrs.size() - first));
    for (int k = 0; k < in.count; ++k) in.p[k] = ptrs[first + static_cast<std::size_t>(k)];
    add_n_kernel<T><<<grid_size(n, kBlock), kBlock, 0, st>>>(in, first > 0, y.data<T>(), n);
    SF_CUDA_CHECK(cudaGetLastError());
  }
}

void broadcast_to_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  const Shape target = shape_from_tensor(c.inputs.at(1), c.node_name);
  const Shape b = broadcast_shapes(x.shape(), target, c.node_name);
  if (!(b == target))
    throw InvalidArgumentError(str_cat(c.node_name, ": cannot broadcast ", x.shape().to_string(),
                                       " to ", target.to_string()));
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32, target);
  broadcast_to_cuda<float>(x.data<float>(), x.shape(), y.data<float>(), target, c.get_stream());
}

template <class T>
void register_binary_type(KernelRegistry& r) {
  using devices::DeviceType;
  constexpr DType d = dtype_of<T>;
  r.add({"Add", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kAdd>);
  r.add({"AddV2", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kAdd>);
  r.add({"Sub", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kSub>);
  r.add({"Mul", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kMul>);
  r.add({"RealDiv", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kDiv>);
  r.add({"Maximum", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kMax>);
  r.add({"Minimum", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kMin>);
  r.add({"Pow", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kPow>);
  r.add({"SquaredDifference", DeviceType::kGPU, d, "cuda"},
        binary_gpu_kernel<T, BinaryOp::kSquaredDifference>);
  r.add({"FloorMod", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kFloorMod>);
  r.add({"FloorDiv", DeviceType::kGPU, d, "cuda"}, binary_gpu_kernel<T, BinaryOp::kFloorDiv>);
}

}  // namespace

void register_binary_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Neg", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kNeg>);
  r.add({"Square", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kSquare>);
  r.add({"Sqrt", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kSqrt>);
  r.add({"Floor", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kFloor>);
  r.add({"Ceil", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kCeil>);
  r.add({"Cos", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kCos>);
  r.add({"Sin", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kSin>);
  r.add({"Floor", DeviceType::kGPU, DType::kFloat64, "cuda"},
        unary_double_gpu_kernel<UnaryOp::kFloor>);
  r.add({"Ceil", DeviceType::kGPU, DType::kFloat64, "cuda"},
        unary_double_gpu_kernel<UnaryOp::kCeil>);
  r.add({"Cos", DeviceType::kGPU, DType::kFloat64, "cuda"}, unary_double_gpu_kernel<UnaryOp::kCos>);
  r.add({"Sin", DeviceType::kGPU, DType::kFloat64, "cuda"}, unary_double_gpu_kernel<UnaryOp::kSin>);
  r.add({"Log", DeviceType::kGPU, DType::kFloat64, "cuda"}, unary_double_gpu_kernel<UnaryOp::kLog>);
  r.add({"Floor", DeviceType::kGPU, DType::kFloat16, "cuda"}, round16_gpu_kernel<false, half>);
  r.add({"Floor", DeviceType::kGPU, DType::kBFloat16, "cuda"},
        round16_gpu_kernel<false, bfloat16_t>);
  r.add({"Ceil", DeviceType::kGPU, DType::kFloat16, "cuda"}, round16_gpu_kernel<true, half>);
  r.add({"Ceil", DeviceType::kGPU, DType::kBFloat16, "cuda"}, round16_gpu_kernel<true, bfloat16_t>);
  r.add({"Exp", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kExp>);
  r.add({"Rsqrt", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kRsqrt>);
  r.add({"Rsqrt", DeviceType::kGPU, DType::kFloat64, "cuda"},
        unary_double_gpu_kernel<UnaryOp::kRsqrt>);
  r.add({"Log", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kLog>);
  r.add({"Sigmoid", DeviceType::kGPU, DType::kFloat32, "cuda"},
        unary_gpu_kernel<UnaryOp::kSigmoid>);
  r.add({"Tanh", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kTanh>);
  r.add({"Abs", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kAbs>);
  r.add({"Log1p", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kLog1p>);
  r.add({"Sign", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kSign>);
  r.add({"AddN", DeviceType::kGPU, DType::kFloat32, "cuda"}, add_n_gpu_kernel<float>);
  r.add({"AddN", DeviceType::kGPU, DType::kFloat64, "cuda"}, add_n_gpu_kernel<double>);
  r.add({"BroadcastTo", DeviceType::kGPU, DType::kFloat32, "cuda"}, broadcast_to_gpu_kernel);
  register_binary_type<float>(r);
  register_binary_type<double>(r);
  register_binary_type<half>(r);
  register_binary_type<bfloat16_t>(r);
  register_binary_type<std::int32_t>(r);
  register_binary_type<std::int64_t>(r);
}

}  // namespace scopeflow::kernels
