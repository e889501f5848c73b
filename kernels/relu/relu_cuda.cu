// Relu / ReluGrad on CUDA (float32, float16, bfloat16). Reference: relu_cpu.cc; the
// per-element rule is relu.h's (NaN passes through Relu; ReluGrad is 0 where x <= 0).
#include "devices/cuda/cuda_check.h"
#include "kernels/common/cuda_types.cuh"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/relu/relu.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

template <class D>
__device__ __forceinline__ D relu_of(D x) {
  return load_compute(x) < 0.0f ? store_compute<D>(0.0f) : x;
}
template <class D>
__device__ __forceinline__ D relu_grad_of(D dy, D x) {
  return load_compute(x) > 0.0f ? dy : store_compute<D>(0.0f);
}

// ---------------------------------------------------------------- kernels
// Element i per thread, grid-stride; 16-bit and odd-sized tensors.
template <class D>
__global__ void relu_forward_kernel(const D* x, D* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    y[i] = relu_of(x[i]);
}

// float32 with 16-byte aligned pointers: one float4 per thread and step (the kernel is
// bandwidth-bound; wide accesses halve the memory instructions), then the < 4 leftovers.
__global__ void relu_forward_vec4_kernel(const float* x, float* y, std::int64_t n) {
  const std::int64_t n4 = n / 4;
  const auto* x4 = reinterpret_cast<const float4*>(x);
  auto* y4 = reinterpret_cast<float4*>(y);
  const std::int64_t stride = std::int64_t{gridDim.x} * blockDim.x;
  const std::int64_t t = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  for (std::int64_t i = t; i < n4; i += stride) {
    const float4 v = x4[i];
    y4[i] = make_float4(relu(v.x), relu(v.y), relu(v.z), relu(v.w));
  }
  for (std::int64_t i = 4 * n4 + t; i < n; i += stride) y[i] = relu(x[i]);
}

template <class D>
__global__ void relu_backward_kernel(const D* dy, const D* x, D* dx, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    dx[i] = relu_grad_of(dy[i], x[i]);
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

// ---------------------------------------------------------------- launchers
template <class T>
void relu_forward_cuda(const T* x, T* y, std::int64_t n, devices::Stream& stream) {
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(stream);
  if constexpr (std::is_same_v<T, float>) {
    if (aligned16(x) && aligned16(y)) {
      relu_forward_vec4_kernel<<<grid_size((n + 3) / 4, kBlock), kBlock, 0, s>>>(x, y, n);
      SF_CUDA_CHECK(cudaGetLastError());
      return;
    }
  }
  relu_forward_kernel<<<grid_size(n, kBlock), kBlock, 0, s>>>(cuda_ptr(x), cuda_ptr(y), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void relu_backward_cuda(const T* dy, const T* x, T* dx, std::int64_t n, devices::Stream& stream) {
  if (n == 0) return;
  relu_backward_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      cuda_ptr(dy), cuda_ptr(x), cuda_ptr(dx), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

template void relu_forward_cuda<float>(const float*, float*, std::int64_t, devices::Stream&);
template void relu_forward_cuda<half>(const half*, half*, std::int64_t, devices::Stream&);
template void relu_forward_cuda<bfloat16_t>(const bfloat16_t*, bfloat16_t*, std::int64_t,
                                            devices::Stream&);
template void relu_backward_cuda<float>(const float*, const float*, float*, std::int64_t,
                                        devices::Stream&);
template void relu_backward_cuda<half>(const half*, const half*, half*, std::int64_t,
                                       devices::Stream&);
template void relu_backward_cuda<bfloat16_t>(const bfloat16_t*, const bfloat16_t*, bfloat16_t*,
                                             std::int64_t, devices::Stream&);

// ---------------------------------------------------------------- registration
namespace {
template <class T>
void relu_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, x.dtype(), x.shape());
  relu_forward_cuda<T>(x.data<T>(), y.data<T>(), x.num_elements(), c.get_stream());
}
template <class T>
void relu_grad_gpu_kernel(KernelContext& c) {
  const Tensor& dy = gpu_input(c, 0);
  const Tensor& x = gpu_input(c, 1);
  if (!(dy.shape() == x.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": ReluGrad shapes differ: ",
                                       dy.shape().to_string(), " vs ", x.shape().to_string()));
  GpuLaunchScope scope(c);
  Tensor& dx = gpu_output(c, 0, x.dtype(), x.shape());
  relu_backward_cuda<T>(dy.data<T>(), x.data<T>(), dx.data<T>(), x.num_elements(), c.get_stream());
}
template <class T>
void register_relu_type(KernelRegistry& r) {
  r.add({"Relu", devices::DeviceType::kGPU, dtype_of<T>, "cuda"}, relu_gpu_kernel<T>);
  r.add({"ReluGrad", devices::DeviceType::kGPU, dtype_of<T>, "cuda"}, relu_grad_gpu_kernel<T>);
}
}  // namespace

void register_relu_cuda_kernels(KernelRegistry& r) {
  register_relu_type<float>(r);
  register_relu_type<half>(r);
  register_relu_type<bfloat16_t>(r);
}

}  // namespace scopeflow::kernels
