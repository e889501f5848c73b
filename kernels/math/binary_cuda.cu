// Element-wise ops on CUDA: Add/AddV2/Sub/Mul/RealDiv with broadcasting, Neg/Square/Sqrt/
// Floor/Exp, AddN, BroadcastTo. Reference: binary_cpu.cc; broadcasting: broadcast_plan.h.
#include "devices/cuda/cuda_check.h"
#include "kernels/common/cuda_types.cuh"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/init/random.h"
#include "kernels/math/binary.h"
#include "kernels/math/broadcast_plan.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

template <BinaryOp kOp, class C>
__device__ __forceinline__ C binary_apply(C x, C y) {
  if constexpr (kOp == BinaryOp::kAdd)
    return x + y;
  else if constexpr (kOp == BinaryOp::kSub)
    return x - y;
  else if constexpr (kOp == BinaryOp::kMul)
    return x * y;
  else
    return x / y;
}

// ---------------------------------------------------------------- kernels
// Merged rank <= 1 (same shapes, a scalar against anything): offsets are i * stride, no
// division. One thread per element, grid-stride.
template <BinaryOp kOp, class D>
__global__ void binary_flat_kernel(const D* a, std::int64_t sa, const D* b, std::int64_t sb, D* out,
                                   std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    out[i] = store_compute<D>(binary_apply<kOp>(load_compute(a[i * sa]), load_compute(b[i * sb])));
}

// Merged rank 2 (a row or a column against a matrix, an outer sum): one division.
template <BinaryOp kOp, class D, class I>
__global__ void binary_2d_kernel(const D* a, const D* b, D* out, BroadcastPlan p) {
  const I n = static_cast<I>(p.n), cols = static_cast<I>(p.dims[1]);
  const I sa0 = static_cast<I>(p.stride_a[0]), sa1 = static_cast<I>(p.stride_a[1]);
  const I sb0 = static_cast<I>(p.stride_b[0]), sb1 = static_cast<I>(p.stride_b[1]);
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const I r = i / cols, c = i - r * cols;
    out[i] = store_compute<D>(
        binary_apply<kOp>(load_compute(a[r * sa0 + c * sa1]), load_compute(b[r * sb0 + c * sb1])));
  }
}

// Any merged rank up to kMaxBroadcastRank: offsets decoded dimension by dimension.
template <BinaryOp kOp, class D, class I>
__global__ void binary_strided_kernel(const D* a, const D* b, D* out, BroadcastPlan p) {
  const I n = static_cast<I>(p.n);
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I ia, ib;
    broadcast_offsets<I>(p, i, ia, ib);
    out[i] = store_compute<D>(binary_apply<kOp>(load_compute(a[ia]), load_compute(b[ib])));
  }
}

enum class UnaryOp { kNeg, kSquare, kSqrt, kFloor, kExp };

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
  else
    return expf(x);  // CUDA's expf: within 2 ulp of the reference's std::exp (not bit-equal)
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

template <class D, class I>
__global__ void broadcast_to_kernel(const D* in, D* out, BroadcastPlan p) {
  const I n = static_cast<I>(p.n);
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I ia, ib;
    broadcast_offsets<I>(p, i, ia, ib);
    out[i] = in[ia];
  }
}

}  // namespace

// ---------------------------------------------------------------- launchers
template <class T>
void binary_forward_cuda(BinaryOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                         T* out, const Shape& so, devices::Stream& stream) {
  const BroadcastPlan p = make_broadcast_plan(sa, sb, so);
  if (p.n == 0) return;
  using D = cuda_type_t<T>;
  const D* da = cuda_ptr(a);
  const D* db = cuda_ptr(b);
  D* dout = cuda_ptr(out);
  const cudaStream_t s = cuda_stream(stream);
  const unsigned grid = grid_size(p.n, kBlock);
  const bool i32 = broadcast_fits_int32(p);
  auto launch = [&]<BinaryOp kOp>() {
    if (p.rank <= 1) {
      const std::int64_t sa0 = p.rank == 0 ? 0 : p.stride_a[0];
      const std::int64_t sb0 = p.rank == 0 ? 0 : p.stride_b[0];
      binary_flat_kernel<kOp, D><<<grid, kBlock, 0, s>>>(da, sa0, db, sb0, dout, p.n);
    } else if (p.rank == 2) {
      if (i32)
        binary_2d_kernel<kOp, D, std::int32_t><<<grid, kBlock, 0, s>>>(da, db, dout, p);
      else
        binary_2d_kernel<kOp, D, std::int64_t><<<grid, kBlock, 0, s>>>(da, db, dout, p);
    } else {
      if (i32)
        binary_strided_kernel<kOp, D, std::int32_t><<<grid, kBlock, 0, s>>>(da, db, dout, p);
      else
        binary_strided_kernel<kOp, D, std::int64_t><<<grid, kBlock, 0, s>>>(da, db, dout, p);
    }
  };
  switch (op) {
    case BinaryOp::kAdd: launch.template operator()<BinaryOp::kAdd>(); break;
    case BinaryOp::kSub: launch.template operator()<BinaryOp::kSub>(); break;
    case BinaryOp::kMul: launch.template operator()<BinaryOp::kMul>(); break;
    case BinaryOp::kDiv: launch.template operator()<BinaryOp::kDiv>(); break;
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void broadcast_to_cuda(const T* in, const Shape& in_shape, T* out, const Shape& out_shape,
                       devices::Stream& stream) {
  const BroadcastPlan p = make_broadcast_plan(in_shape, in_shape, out_shape);
  if (p.n == 0) return;
  using D = cuda_type_t<T>;
  const cudaStream_t s = cuda_stream(stream);
  if (broadcast_fits_int32(p))
    broadcast_to_kernel<D, std::int32_t>
        <<<grid_size(p.n, kBlock), kBlock, 0, s>>>(cuda_ptr(in), cuda_ptr(out), p);
  else
    broadcast_to_kernel<D, std::int64_t>
        <<<grid_size(p.n, kBlock), kBlock, 0, s>>>(cuda_ptr(in), cuda_ptr(out), p);
  SF_CUDA_CHECK(cudaGetLastError());
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
  if constexpr (kOp == BinaryOp::kDiv && std::is_integral_v<T>) {
    // NOTE: the reference throws on an integer zero divisor (CUDA would return garbage), so
    // the divisor is checked on the host: a device-to-host copy, rare for integer division.
    for (T v : b.to_vector<T>())
      if (v == 0) throw InvalidArgumentError(str_cat(c.node_name, ": Integer division by zero"));
  }
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
}

}  // namespace

void register_binary_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Neg", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kNeg>);
  r.add({"Square", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kSquare>);
  r.add({"Sqrt", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kSqrt>);
  r.add({"Floor", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kFloor>);
  r.add({"Exp", DeviceType::kGPU, DType::kFloat32, "cuda"}, unary_gpu_kernel<UnaryOp::kExp>);
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
