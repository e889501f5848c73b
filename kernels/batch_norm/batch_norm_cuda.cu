// FusedBatchNormV3 / FusedBatchNormGradV3 on CUDA: the per-channel statistics are the
// deterministic reductions of reduce_cuda.cu (double accumulation, a fixed order per shape) over
// x viewed as [outer, C, inner]; the rest is elementwise and per-channel kernels. Same
// conventions as the CPU kernels (batch_norm.h): reserve_space_2 holds the biased variance.
#include <algorithm>

#include "devices/cuda/cuda_check.h"
#include "kernels/batch_norm/batch_norm.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/reduce/reduce.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

struct Dims {
  std::int64_t n, channels, inner;
};

__device__ __forceinline__ std::int64_t channel_of(std::int64_t e, const Dims& d) {
  return (e / d.inner) % d.channels;
}

// out[e] = (x[e] - mean[c])^2
__global__ void centered_square_kernel(const float* x, const float* mean, float* out, Dims d) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < d.n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const float v = x[e] - mean[channel_of(e, d)];
    out[e] = v * v;
  }
}

// out[e] = dy[e] * (x[e] - mean[c])
__global__ void dy_centered_kernel(const float* dy, const float* x, const float* mean, float* out,
                                   Dims d) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < d.n;
       e += std::int64_t{gridDim.x} * blockDim.x)
    out[e] = dy[e] * (x[e] - mean[channel_of(e, d)]);
}

struct ForwardParams {
  std::int64_t channels;
  float epsilon, factor;
  double correction;  // Bessel's n / max(n - 1, 1)
  bool training, blend;
  bool empty;  // no element per channel, either mode: NaN statistics, reserve spaces 0 (TF's)
};

// Per channel: the outputs 1-4 and the affine coefficients y = x * mul + add. `mean` / `var`:
// the batch statistics (training) or the given ones.
__global__ void forward_finalize_kernel(const float* mean, const float* var, const float* scale,
                                        const float* offset, const float* mean_in,
                                        const float* var_in, float* batch_mean, float* batch_var,
                                        float* saved_mean, float* saved_var, float* mul, float* add,
                                        ForwardParams p) {
  const std::int64_t ch = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (ch >= p.channels) return;
  const float m = mean[ch], v = var[ch];
  if (p.training) {
    const auto unbiased = static_cast<float>(double(v) * p.correction);
    batch_mean[ch] = p.blend ? (1.0f - p.factor) * mean_in[ch] + p.factor * m : m;
    batch_var[ch] = p.blend ? (1.0f - p.factor) * var_in[ch] + p.factor * unbiased : unbiased;
  } else {
    batch_mean[ch] = m;
    batch_var[ch] = v;
  }
  saved_mean[ch] = p.empty ? 0.0f : m;
  saved_var[ch] = p.empty ? 0.0f : v;
  if (p.empty) batch_mean[ch] = batch_var[ch] = __int_as_float(0x7fc00000);  // NaN, as TF
  const float k = scale[ch] / sqrtf(v + p.epsilon);
  mul[ch] = k;
  add[ch] = offset[ch] - m * k;
}

__global__ void affine_kernel(const float* x, const float* mul, const float* add, float* y,
                              Dims d) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < d.n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t ch = channel_of(e, d);
    y[e] = x[e] * mul[ch] + add[ch];
  }
}

struct GradParams {
  std::int64_t channels;
  float epsilon;
  double count;  // elements per channel
  bool training;
};

// Per channel: dscale, doffset and dx's coefficients dx = k1 * (dy - k2 - (x - mean) * k3).
__global__ void grad_finalize_kernel(const float* sum_dy, const float* sum_dyxc, const float* scale,
                                     const float* var, float* dscale, float* doffset, float* k1,
                                     float* k2, float* k3, GradParams p) {
  const std::int64_t ch = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (ch >= p.channels) return;
  const double k = 1.0 / sqrt(double(var[ch]) + double(p.epsilon));
  dscale[ch] = static_cast<float>(double(sum_dyxc[ch]) * k);
  doffset[ch] = sum_dy[ch];
  k1[ch] = static_cast<float>(double(scale[ch]) * k);
  const bool stats = p.training && p.count > 0;
  k2[ch] = stats ? static_cast<float>(double(sum_dy[ch]) / p.count) : 0.0f;
  k3[ch] = stats ? static_cast<float>(k * k * double(sum_dyxc[ch]) / p.count) : 0.0f;
}

__global__ void grad_dx_kernel(const float* dy, const float* x, const float* mean, const float* k1,
                               const float* k2, const float* k3, float* dx, Dims d) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < d.n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t ch = channel_of(e, d);
    dx[e] = k1[ch] * (dy[e] - k2[ch] - (x[e] - mean[ch]) * k3[ch]);
  }
}

// out[C] = the reduction `op` (kSum or kMean) of `in` ([outer, C, inner]) per channel. With the
// channels in the middle (NCHW with N > 1) one plan would take the reduction's general kernel
// (a thread per channel walking N*H*W elements); two fast ones instead: each (n, c) row over
// its H*W elements, then the [N, C] partials down the columns. A sum of sums is the sum, a mean
// of equal-sized means the mean.
void reduce_channels(KernelContext& c, ReduceOp op, const float* in, const BatchNormLayout& l,
                     float* out) {
  auto run = [&c, op](const float* src, const Shape& shape, const std::vector<bool>& mask,
                      float* dst) {
    const ReducePlan plan = make_reduce_plan(shape, mask);
    Tensor scratch;
    if (const std::int64_t n = reduce_scratch_elems(plan); n > 0)
      scratch = gpu_scratch(c, DType::kFloat64, Shape{n});
    reduce_forward_cuda(op, src, plan, dst,
                        scratch.initialized() ? scratch.data<double>() : nullptr, c.get_stream());
  };
  if (l.outer > 1 && l.inner > 1) {
    Tensor rows = gpu_scratch(c, DType::kFloat32, Shape{l.outer, l.channels});
    run(in, Shape{l.outer * l.channels, l.inner}, {false, true}, rows.data<float>());
    run(rows.data<float>(), Shape{l.outer, l.channels}, {true, false}, out);
    return;
  }
  run(in, Shape{l.outer, l.channels, l.inner}, {true, false, true}, out);
}

unsigned channel_grid(std::int64_t channels) {
  return static_cast<unsigned>(std::max<std::int64_t>(1, (channels + kBlock - 1) / kBlock));
}

void fused_batch_norm_gpu(KernelContext& c) {
  const BatchNormAttrs a = batch_norm_attrs(c);
  const BatchNormLayout l = batch_norm_check_forward(c, a);
  const Tensor& x = gpu_input(c, 0);
  const bool reads = batch_norm_reads_statistics(a);
  const float* scale = gpu_input(c, 1).data<float>();
  const float* offset = gpu_input(c, 2).data<float>();
  const float* mean_in = reads && l.channels > 0 ? gpu_input(c, 3).data<float>() : nullptr;
  const float* var_in = reads && l.channels > 0 ? gpu_input(c, 4).data<float>() : nullptr;
  GpuLaunchScope scope(c);
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  const Shape cs{l.channels};
  c.outputs.resize(6);
  float* y = gpu_output(c, 0, DType::kFloat32, x.shape()).data<float>();
  float* batch_mean = gpu_output(c, 1, DType::kFloat32, cs).data<float>();
  float* batch_var = gpu_output(c, 2, DType::kFloat32, cs).data<float>();
  float* saved_mean = gpu_output(c, 3, DType::kFloat32, cs).data<float>();
  float* saved_var = gpu_output(c, 4, DType::kFloat32, cs).data<float>();
  gpu_output(c, 5, DType::kFloat32, Shape{0});
  if (l.channels == 0) return;
  const Dims d{x.num_elements(), l.channels, l.inner};
  const float* mean = mean_in;
  const float* var = var_in;
  if (a.is_training) {
    reduce_channels(c, ReduceOp::kMean, x.data<float>(), l, saved_mean);
    Tensor sq = gpu_scratch(c, DType::kFloat32, x.shape());
    if (d.n > 0) {
      centered_square_kernel<<<grid_size(d.n, kBlock), kBlock, 0, s>>>(x.data<float>(), saved_mean,
                                                                       sq.data<float>(), d);
      SF_CUDA_CHECK(cudaGetLastError());
    }
    reduce_channels(c, ReduceOp::kMean, sq.data<float>(), l, saved_var);
    mean = saved_mean;
    var = saved_var;
  }
  Tensor coef = gpu_scratch(c, DType::kFloat32, Shape{2, l.channels});
  float* mul = coef.data<float>();
  float* add = mul + l.channels;
  const double n = static_cast<double>(l.count());
  const ForwardParams p{l.channels,    a.epsilon,
                        a.factor,      n / std::max(n - 1.0, 1.0),
                        a.is_training, a.is_training && a.factor != 1.0f,
                        l.count() == 0};
  forward_finalize_kernel<<<channel_grid(l.channels), kBlock, 0, s>>>(
      mean, var, scale, offset, mean_in, var_in, batch_mean, batch_var, saved_mean, saved_var, mul,
      add, p);
  SF_CUDA_CHECK(cudaGetLastError());
  if (d.n > 0) {
    affine_kernel<<<grid_size(d.n, kBlock), kBlock, 0, s>>>(x.data<float>(), mul, add, y, d);
    SF_CUDA_CHECK(cudaGetLastError());
  }
}

void fused_batch_norm_grad_gpu(KernelContext& c) {
  const BatchNormAttrs a = batch_norm_attrs(c);
  const BatchNormLayout l = batch_norm_check_grad(c, a);
  const Tensor& dy = gpu_input(c, 0);
  const Tensor& x = gpu_input(c, 1);
  const float* scale = gpu_input(c, 2).data<float>();
  const float* mean = gpu_input(c, 3).data<float>();
  const float* var = gpu_input(c, 4).data<float>();
  GpuLaunchScope scope(c);
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  c.outputs.resize(5);
  float* dx = gpu_output(c, 0, DType::kFloat32, x.shape()).data<float>();
  float* dscale = gpu_output(c, 1, DType::kFloat32, Shape{l.channels}).data<float>();
  float* doffset = gpu_output(c, 2, DType::kFloat32, Shape{l.channels}).data<float>();
  for (std::size_t i = 3; i < 5; ++i)
    SF_CUDA_CHECK(cudaMemsetAsync(gpu_output(c, i, DType::kFloat32, Shape{}).raw_data(), 0,
                                  sizeof(float), s));
  if (l.channels == 0) return;
  const Dims d{x.num_elements(), l.channels, l.inner};
  Tensor work = gpu_scratch(c, DType::kFloat32, Shape{5, l.channels});
  float* sum_dy = work.data<float>();
  float* sum_dyxc = sum_dy + l.channels;
  float* k1 = sum_dyxc + l.channels;
  float* k2 = k1 + l.channels;
  float* k3 = k2 + l.channels;
  reduce_channels(c, ReduceOp::kSum, dy.data<float>(), l, sum_dy);
  Tensor prod = gpu_scratch(c, DType::kFloat32, x.shape());
  if (d.n > 0) {
    dy_centered_kernel<<<grid_size(d.n, kBlock), kBlock, 0, s>>>(dy.data<float>(), x.data<float>(),
                                                                 mean, prod.data<float>(), d);
    SF_CUDA_CHECK(cudaGetLastError());
  }
  reduce_channels(c, ReduceOp::kSum, prod.data<float>(), l, sum_dyxc);
  const GradParams p{l.channels, a.epsilon, static_cast<double>(l.count()), a.is_training};
  grad_finalize_kernel<<<channel_grid(l.channels), kBlock, 0, s>>>(sum_dy, sum_dyxc, scale, var,
                                                                   dscale, doffset, k1, k2, k3, p);
  SF_CUDA_CHECK(cudaGetLastError());
  if (d.n > 0) {
    grad_dx_kernel<<<grid_size(d.n, kBlock), kBlock, 0, s>>>(dy.data<float>(), x.data<float>(),
                                                             mean, k1, k2, k3, dx, d);
    SF_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace

void register_batch_norm_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"FusedBatchNormV3", DeviceType::kGPU, DType::kFloat32, "cuda"}, fused_batch_norm_gpu);
  r.add({"FusedBatchNormGradV3", DeviceType::kGPU, DType::kFloat32, "cuda"},
        fused_batch_norm_grad_gpu);
}

}  // namespace scopeflow::kernels
