// MaxPool / MaxPoolGrad / MaxPoolGradGrad / AvgPool / AvgPoolGrad on CUDA, NHWC float32. Reference:
// pool_cpu.cc; the per-element math (gradients gathered per input element, no atomics) is
// pool_gather.h, shared with its CPU test.
#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/init/random.h"
#include "kernels/pool/pool.h"
#include "kernels/pool/pool_gather.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

// ---------------------------------------------------------------- kernels
// Forward: one thread per output element (n, oh, ow, c), c fastest so a warp reads
// neighbouring channels. Gradients: one thread per input element. Math: pool_gather.h.
__global__ void max_pool_forward_kernel(PoolGeom g, const float* x, float* y) {
  const std::int64_t total = g.n * g.h.out * g.w.out * g.c;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x)
    y[o] = max_pool_forward_at(g, x, o);
}

__global__ void max_pool_backward_kernel(PoolGeom g, const float* x, const float* dy, float* dx) {
  const std::int64_t total = g.n * g.h.in * g.w.in * g.c;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x)
    dx[i] = max_pool_backward_at(g, x, dy, i);
}

__global__ void avg_pool_forward_kernel(PoolGeom g, const float* x, float* y) {
  const std::int64_t total = g.n * g.h.out * g.w.out * g.c;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x)
    y[o] = avg_pool_forward_at(g, x, o);
}

__global__ void avg_pool_backward_kernel(PoolGeom g, const float* dy, float* dx) {
  const std::int64_t total = g.n * g.h.in * g.w.in * g.c;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x)
    dx[i] = avg_pool_backward_at(g, dy, i);
}

__global__ void max_pool_grad_grad_kernel(PoolGeom g, const float* x, const float* ddx, float* y) {
  const std::int64_t total = g.n * g.h.out * g.w.out * g.c;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x)
    y[o] = max_pool_grad_grad_at(g, x, ddx, o);
}

}  // namespace

// ---------------------------------------------------------------- launchers
void max_pool_forward_cuda(const PoolGeom& g, const float* x, float* y, devices::Stream& stream) {
  const std::int64_t n = g.n * g.h.out * g.w.out * g.c;
  if (n == 0) return;
  max_pool_forward_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(g, x, y);
  SF_CUDA_CHECK(cudaGetLastError());
}

void max_pool_backward_cuda(const PoolGeom& g, const float* x, const float* dy, float* dx,
                            devices::Stream& stream) {
  const std::int64_t n = g.n * g.h.in * g.w.in * g.c;
  if (n == 0) return;
  max_pool_backward_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(g, x, dy, dx);
  SF_CUDA_CHECK(cudaGetLastError());
}

void avg_pool_forward_cuda(const PoolGeom& g, const float* x, float* y, devices::Stream& stream) {
  const std::int64_t n = g.n * g.h.out * g.w.out * g.c;
  if (n == 0) return;
  avg_pool_forward_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(g, x, y);
  SF_CUDA_CHECK(cudaGetLastError());
}

void avg_pool_backward_cuda(const PoolGeom& g, const float* dy, float* dx,
                            devices::Stream& stream) {
  const std::int64_t n = g.n * g.h.in * g.w.in * g.c;
  if (n == 0) return;
  avg_pool_backward_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(g, dy, dx);
  SF_CUDA_CHECK(cudaGetLastError());
}

void max_pool_grad_grad_cuda(const PoolGeom& g, const float* x, const float* ddx, float* y,
                             devices::Stream& stream) {
  const std::int64_t n = g.n * g.h.out * g.w.out * g.c;
  if (n == 0) return;
  max_pool_grad_grad_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(g, x, ddx, y);
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- registration
void register_pool_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"MaxPool", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    const Tensor& x = gpu_input(c, 0);
    const PoolGeom g = pool_geometry(c, x.shape());
    GpuLaunchScope scope(c);
    Tensor& y = gpu_output(c, 0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    max_pool_forward_cuda(g, x.data<float>(), y.data<float>(), c.get_stream());
  });
  r.add({"MaxPoolGrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    const Tensor& x = gpu_input(c, 0);
    const Tensor& dy = gpu_input(c, 2);
    const PoolGeom g = pool_geometry(c, x.shape());
    if (!(dy.shape() == Shape{g.n, g.h.out, g.w.out, g.c}))
      throw InvalidArgumentError(str_cat(c.node_name, ": MaxPoolGrad gradient shape ",
                                         dy.shape().to_string(), " does not match the output ",
                                         Shape{g.n, g.h.out, g.w.out, g.c}.to_string()));
    GpuLaunchScope scope(c);
    Tensor& dx = gpu_output(c, 0, DType::kFloat32, x.shape());
    max_pool_backward_cuda(g, x.data<float>(), dy.data<float>(), dx.data<float>(), c.get_stream());
  });
  r.add({"MaxPoolGradGrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    const Tensor& x = gpu_input(c, 0);
    const Tensor& ddx = gpu_input(c, 2);
    const PoolGeom g = pool_geometry(c, x.shape());
    if (!(ddx.shape() == x.shape()))
      throw InvalidArgumentError(str_cat(c.node_name, ": grad shape ", ddx.shape().to_string(),
                                         " does not match the input ", x.shape().to_string()));
    GpuLaunchScope scope(c);
    Tensor& y = gpu_output(c, 0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    max_pool_grad_grad_cuda(g, x.data<float>(), ddx.data<float>(), y.data<float>(), c.get_stream());
  });
  r.add({"AvgPool", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    const Tensor& x = gpu_input(c, 0);
    const PoolGeom g = pool_geometry(c, x.shape());
    GpuLaunchScope scope(c);
    Tensor& y = gpu_output(c, 0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    avg_pool_forward_cuda(g, x.data<float>(), y.data<float>(), c.get_stream());
  });
  r.add({"AvgPoolGrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    const Shape in = shape_from_tensor(c.inputs.at(0), c.node_name);
    const Tensor& dy = gpu_input(c, 1);
    const PoolGeom g = pool_geometry(c, in);
    if (!(dy.shape() == Shape{g.n, g.h.out, g.w.out, g.c}))
      throw InvalidArgumentError(str_cat(c.node_name, ": AvgPoolGrad gradient shape ",
                                         dy.shape().to_string(), " does not match the output ",
                                         Shape{g.n, g.h.out, g.w.out, g.c}.to_string()));
    GpuLaunchScope scope(c);
    Tensor& dx = gpu_output(c, 0, DType::kFloat32, in);
    avg_pool_backward_cuda(g, dy.data<float>(), dx.data<float>(), c.get_stream());
  });
}

}  // namespace scopeflow::kernels
