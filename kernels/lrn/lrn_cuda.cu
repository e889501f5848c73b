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

// lrn_scale (lrn.h) in float: TF's norm^-beta.
__device__ __forceinline__ float scale_of(float norm, float beta) {
  if (beta == 1.0f) return 1.0f / norm;
  if (beta == 0.5f) return 1.0f / sqrtf(norm);
  return expf(-beta * logf(norm));
}

__global__ void lrn_kernel(const float* x, float* y, std::int64_t n, std::int64_t depth,
                           LrnParams p) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t d = i % depth;
    const float* row = x + (i - d);
    y[i] = x[i] * scale_of(window_norm(row, d, depth, p.depth_radius, p.bias, p.alpha), p.beta);
  }
}

// LRNGrad in two passes, O(window) per element: first each element's own scale norm_d^-beta
// and t[d] = dy[d] y[d] / norm_d; then dx[k] = dy[k] scale[k] - 2 alpha beta x[k] * (sum of t
// over k's window) (d's window holds k exactly when k's holds d).
__global__ void lrn_grad_terms_kernel(const float* dy, const float* x, const float* y, float* scale,
                                      float* t, std::int64_t n, std::int64_t depth, LrnParams p) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t d = i % depth;
    const float norm = window_norm(x + (i - d), d, depth, p.depth_radius, p.bias, p.alpha);
    scale[i] = scale_of(norm, p.beta);
    t[i] = dy[i] * y[i] / norm;
  }
}

__global__ void lrn_grad_kernel(const float* dy, const float* x, const float* scale, const float* t,
                                float* dx, std::int64_t n, std::int64_t depth, LrnParams p) {
  const float ab2 = -2.0f * p.alpha * p.beta;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t k = i % depth;
    const std::int64_t base = i - k;
    const std::int64_t lo = k - p.depth_radius > 0 ? k - p.depth_radius : 0;
    const std::int64_t hi = k + p.depth_radius + 1 < depth ? k + p.depth_radius + 1 : depth;
    float s = 0.0f;
    for (std::int64_t d = lo; d < hi; ++d) s += t[base + d];
    dx[i] = dy[i] * scale[i] + ab2 * x[i] * s;
  }
}

void lrn_gpu_kernel(KernelContext& c) {
  const LrnParams p = lrn_params(c);
  const Tensor& x = gpu_input(c, 0);
  lrn_check_4d(c, x, "input");
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
  lrn_grad_check(c, dy, x, y);
  GpuLaunchScope scope(c);
  Tensor& dx = gpu_output(c, 0, DType::kFloat32, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  Tensor terms = gpu_scratch(c, DType::kFloat32, Shape{2, n});
  float* scale = terms.data<float>();
  float* t = scale + n;
  const cudaStream_t st = cuda_stream(c.get_stream());
  const std::int64_t depth = x.shape().dims()[3];
  lrn_grad_terms_kernel<<<grid_size(n, kBlock), kBlock, 0, st>>>(
      dy.data<float>(), x.data<float>(), y.data<float>(), scale, t, n, depth, p);
  SF_CUDA_CHECK(cudaGetLastError());
  lrn_grad_kernel<<<grid_size(n, kBlock), kBlock, 0, st>>>(dy.data<float>(), x.data<float>(), scale,
                                                           t, dx.data<float>(), n, depth, p);
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_lrn_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"LRN", DeviceType::kGPU, DType::kFloat32, "cuda"}, lrn_gpu_kernel);
  r.add({"LRNGrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, lrn_grad_gpu_kernel);
}

}  // namespace scopeflow::kernels
