// LRN / LRNGrad on CUDA: one thread per element, float window sums (the reference sums in
// double). See lrn.h.
#include <algorithm>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/lrn/lrn.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

__device__ __forceinline__ float window_norm(const float* row, std::int64_t d, std::int64_t depth,
                                             std::int64_t radius, float bias, float alpha) {
  const std::int64_t lo = d - radius > 0 ? d - radius : 0;
  const std::int64_t hi = d + radius + 1 < depth ? d + radius + 1 : depth;
  float s = 0.0f;
  for (std::int64_t k = lo; k < hi; ++k) s += row[k] * row[k];
  return bias + alpha * s;
}

__global__ void lrn_kernel(const float* x, float* y, std::int64_t n, std::int64_t depth,
                           LrnParams p) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t d = i % depth;
    const float* row = x + (i - d);
    y[i] = x[i] * powf(window_norm(row, d, depth, p.depth_radius, p.bias, p.alpha), -p.beta);
  }
}

// dx[k] = sum over d in k's window of dy[d] * ((k == d) norm_d^-beta - 2 alpha beta x[k] y[d] /
// norm_d): d's window holds k exactly when k's holds d.
__global__ void lrn_grad_kernel(const float* dy, const float* x, const float* y, float* dx,
                                std::int64_t n, std::int64_t depth, LrnParams p) {
  const float ab2 = -2.0f * p.alpha * p.beta;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t k = i % depth;
    const std::int64_t base = i - k;
    const float* row = x + base;
    const std::int64_t lo = k - p.depth_radius > 0 ? k - p.depth_radius : 0;
    const std::int64_t hi = k + p.depth_radius + 1 < depth ? k + p.depth_radius + 1 : depth;
    float acc = 0.0f;
    for (std::int64_t d = lo; d < hi; ++d) {
      const float nd = window_norm(row, d, depth, p.depth_radius, p.bias, p.alpha);
      float v = ab2 * row[k] * y[base + d] / nd;
      if (d == k) v += powf(nd, -p.beta);
      acc += v * dy[base + d];
    }
    dx[i] = acc;
  }
}

void check_4d(const KernelContext& c, const Tensor& t, const char* what) {
  if (t.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be float32, got ", dtype_name(t.dtype())));
  if (t.shape().rank() != 4)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be 4-dimensional, got ", t.shape().to_string()));
}

void lrn_gpu_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& x = gpu_input(c, 0);
  check_4d(c, x, "input");
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  lrn_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream())>>>(
      x.data<float>(), y.data<float>(), n, x.shape().dims()[3], p);
  SF_CUDA_CHECK(cudaGetLastError());
}

void lrn_grad_gpu_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& dy = gpu_input(c, 0);
  const Tensor& x = gpu_input(c, 1);
  const Tensor& y = gpu_input(c, 2);
  check_4d(c, dy, "input_grads");
  check_4d(c, x, "input_image");
  check_4d(c, y, "output_image");
  if (!(dy.shape() == x.shape()) || !(y.shape() == x.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": input_grads ", dy.shape().to_string(),
                                       ", input_image ", x.shape().to_string(),
                                       " and output_image ", y.shape().to_string(),
                                       " must have the same shape"));
  GpuLaunchScope scope(c);
  Tensor& dx = gpu_output(c, 0, DType::kFloat32, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  lrn_grad_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream())>>>(
      dy.data<float>(), x.data<float>(), y.data<float>(), dx.data<float>(), n, x.shape().dims()[3],
      p);
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_lrn_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"LRN", DeviceType::kGPU, DType::kFloat32, "cuda"}, lrn_gpu_kernel);
  r.add({"LRNGrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, lrn_grad_gpu_kernel);
}

}  // namespace scopeflow::kernels
