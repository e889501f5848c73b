// Sum / Mean / Max on CUDA. Reference: reduce_cpu.cc (reduce_forward_ref); plans:
// reduce_plan.h. Deterministic: no atomics; each output's partial sums are combined in an
// order fixed by the shape alone, in double, as the reference accumulates.
#include <math_constants.h>

#include <algorithm>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/reduce/reduce.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;
constexpr int kColsX = static_cast<int>(kReduceColsTile), kColsY = 8;  // column kernel lanes

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

template <ReduceOp kOp>
__device__ __forceinline__ double reduce_init() {
  return kOp == ReduceOp::kMax ? -CUDART_INF : 0.0;
}
// NOTE: Max keeps a NaN once seen and takes any later one, as reduce_forward_ref does.
template <ReduceOp kOp>
__device__ __forceinline__ double reduce_combine(double acc, double v) {
  if constexpr (kOp == ReduceOp::kMax)
    return (v > acc || v != v) ? v : acc;
  else
    return acc + v;
}
// An input element as it enters the accumulation (partials are combined as they are).
template <ReduceOp kOp>
__device__ __forceinline__ double reduce_load(float v) {
  if constexpr (kOp == ReduceOp::kL2Loss)
    return static_cast<double>(v) * static_cast<double>(v);
  else
    return v;
}
template <ReduceOp kOp>
__device__ __forceinline__ float reduce_finish(double acc, std::int64_t group) {
  if constexpr (kOp == ReduceOp::kMean) acc /= static_cast<double>(group);
  if constexpr (kOp == ReduceOp::kL2Loss) acc *= 0.5;
  return static_cast<float>(acc);
}

// ---------------------------------------------------------------- kernels
// Every output gets the empty reduction (a zero-sized reduced dimension).
template <ReduceOp kOp>
__global__ void reduce_empty_kernel(float* y, std::int64_t n) {
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < n;
       o += std::int64_t{gridDim.x} * blockDim.x)
    y[o] = reduce_finish<kOp>(reduce_init<kOp>(), 0);
}

// One thread per output of an [a, r, b] plan, summing its r elements in order (reads are
// coalesced across neighbouring b). For tiny groups or many outputs.
template <ReduceOp kOp>
__global__ void reduce_direct_kernel(const float* x, ReducePlan p, float* y) {
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < p.out_n;
       o += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t ai = o / p.b, bi = o - ai * p.b;
    const float* base = x + ai * p.r * p.b + bi;
    double acc = reduce_init<kOp>();
    for (std::int64_t j = 0; j < p.r; ++j)
      acc = reduce_combine<kOp>(acc, reduce_load<kOp>(base[j * p.b]));
    y[o] = reduce_finish<kOp>(acc, p.group);
  }
}

// One thread per output of a general plan (several reduced runs): the reference's order.
template <ReduceOp kOp>
__global__ void reduce_general_kernel(const float* x, ReducePlan p, float* y) {
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < p.out_n;
       o += std::int64_t{gridDim.x} * blockDim.x) {
    double acc = reduce_init<kOp>();
    for (std::int64_t g = 0; g < p.group; ++g)
      acc = reduce_combine<kOp>(acc, reduce_load<kOp>(x[reduce_offset(p, o, g)]));
    y[o] = reduce_finish<kOp>(acc, p.group);
  }
}

// Pass 1, b == 1: a block per (row a, chunk k) sums the chunk's contiguous elements, thread t
// taking t, t + 256, ..., then a shared-memory tree in fixed order; one partial per item.
template <ReduceOp kOp>
__global__ void reduce_rows_partial_kernel(const float* x, ReducePlan p, std::int64_t chunks,
                                           std::int64_t len, double* partial) {
  __shared__ double sh[kBlock];
  const int t = threadIdx.x;
  for (std::int64_t item = blockIdx.x; item < p.a * chunks; item += gridDim.x) {
    const std::int64_t ai = item / chunks, k = item - ai * chunks;
    const std::int64_t begin = k * len, end = begin + len < p.r ? begin + len : p.r;
    double acc = reduce_init<kOp>();
    for (std::int64_t j = begin + t; j < end; j += kBlock)
      acc = reduce_combine<kOp>(acc, reduce_load<kOp>(x[ai * p.r + j]));
    sh[t] = acc;
    __syncthreads();
    for (int s = kBlock / 2; s > 0; s >>= 1) {
      if (t < s) sh[t] = reduce_combine<kOp>(sh[t], sh[t + s]);
      __syncthreads();
    }
    if (t == 0) partial[item] = sh[0];
    __syncthreads();
  }
}

// Pass 1, b > 1: a 32x8 block per (a, 32-column tile, chunk k); lane (tx, ty) sums rows
// ty, ty + 8, ... of the chunk for column tx (coalesced across tx), then row 0 folds the 8
// lanes in order. Partial layout: [a, chunks, b].
template <ReduceOp kOp>
__global__ void reduce_cols_partial_kernel(const float* x, ReducePlan p, std::int64_t chunks,
                                           std::int64_t len, double* partial) {
  __shared__ double sh[kColsY][kColsX + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const std::int64_t tiles = (p.b + kColsX - 1) / kColsX;
  for (std::int64_t item = blockIdx.x; item < p.a * tiles * chunks; item += gridDim.x) {
    const std::int64_t k = item % chunks, rest = item / chunks;
    const std::int64_t tile = rest % tiles, ai = rest / tiles;
    const std::int64_t col = tile * kColsX + tx;
    const std::int64_t begin = k * len, end = begin + len < p.r ? begin + len : p.r;
    double acc = reduce_init<kOp>();
    if (col < p.b)
      for (std::int64_t j = begin + ty; j < end; j += kColsY)
        acc = reduce_combine<kOp>(acc, reduce_load<kOp>(x[(ai * p.r + j) * p.b + col]));
    sh[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && col < p.b) {
      double v = sh[0][tx];
      for (int i = 1; i < kColsY; ++i) v = reduce_combine<kOp>(v, sh[i][tx]);
      partial[(ai * chunks + k) * p.b + col] = v;
    }
    __syncthreads();
  }
}

// Pass 2: output (a, b) folds its chunks' partials in chunk order.
template <ReduceOp kOp>
__global__ void reduce_finalize_kernel(const double* partial, ReducePlan p, std::int64_t chunks,
                                       float* y) {
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < p.out_n;
       o += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t ai = o / p.b, bi = o - ai * p.b;
    double acc = reduce_init<kOp>();
    for (std::int64_t k = 0; k < chunks; ++k)
      acc = reduce_combine<kOp>(acc, partial[(ai * chunks + k) * p.b + bi]);
    y[o] = reduce_finish<kOp>(acc, p.group);
  }
}

template <ReduceOp kOp>
void reduce_launch(const float* x, const ReducePlan& p, float* y, double* scratch, cudaStream_t s) {
  if (p.out_n == 0) return;
  if (p.group == 0) {
    reduce_empty_kernel<kOp><<<grid_size(p.out_n, kBlock), kBlock, 0, s>>>(y, p.out_n);
  } else if (!p.three_d) {
    reduce_general_kernel<kOp><<<grid_size(p.out_n, kBlock), kBlock, 0, s>>>(x, p, y);
  } else if (const ReduceChunking ch = reduce_chunking(p); ch.direct) {
    reduce_direct_kernel<kOp><<<grid_size(p.out_n, kBlock), kBlock, 0, s>>>(x, p, y);
  } else {
    if (scratch == nullptr) throw InternalError("reduce_forward_cuda: scratch memory missing");
    if (p.b == 1) {
      reduce_rows_partial_kernel<kOp>
          <<<grid_size(p.a * ch.chunks, 1), kBlock, 0, s>>>(x, p, ch.chunks, ch.len, scratch);
    } else {
      const std::int64_t items = p.a * ceil_div(p.b, kColsX) * ch.chunks;
      reduce_cols_partial_kernel<kOp>
          <<<grid_size(items, 1), dim3(kColsX, kColsY), 0, s>>>(x, p, ch.chunks, ch.len, scratch);
    }
    SF_CUDA_CHECK(cudaGetLastError());
    reduce_finalize_kernel<kOp>
        <<<grid_size(p.out_n, kBlock), kBlock, 0, s>>>(scratch, p, ch.chunks, y);
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

// ---------------------------------------------------------------- launchers
void reduce_forward_cuda(ReduceOp op, const float* x, const ReducePlan& p, float* y,
                         double* scratch, devices::Stream& stream) {
  const cudaStream_t s = cuda_stream(stream);
  switch (op) {
    case ReduceOp::kSum: reduce_launch<ReduceOp::kSum>(x, p, y, scratch, s); break;
    case ReduceOp::kMean: reduce_launch<ReduceOp::kMean>(x, p, y, scratch, s); break;
    case ReduceOp::kMax: reduce_launch<ReduceOp::kMax>(x, p, y, scratch, s); break;
    case ReduceOp::kL2Loss: reduce_launch<ReduceOp::kL2Loss>(x, p, y, scratch, s); break;
  }
}

// ---------------------------------------------------------------- registration
namespace {
template <ReduceOp kOp>
void reduce_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  const std::vector<bool> mask = reduction_mask_of(c, x.shape());
  const ReducePlan p = make_reduce_plan(x.shape(), mask);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32,
                         reduced_shape(x.shape(), mask, c.attr().get_or<bool>("keep_dims", false)));
  Tensor scratch;
  if (const std::int64_t n = reduce_scratch_elems(p); n > 0)
    scratch = gpu_scratch(c, DType::kFloat64, Shape{n});
  reduce_forward_cuda(kOp, x.data<float>(), p, y.data<float>(),
                      scratch.initialized() ? scratch.data<double>() : nullptr, c.get_stream());
}
// TF's L2Loss: every element reduced, a float32 scalar (reference: reduce_cpu.cc).
void l2_loss_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  if (x.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": L2Loss takes float32, got ", dtype_name(x.dtype())));
  const std::vector<bool> all(static_cast<std::size_t>(x.shape().rank()), true);
  const ReducePlan p = make_reduce_plan(x.shape(), all);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32, Shape{});
  Tensor scratch;
  if (const std::int64_t n = reduce_scratch_elems(p); n > 0)
    scratch = gpu_scratch(c, DType::kFloat64, Shape{n});
  reduce_forward_cuda(ReduceOp::kL2Loss, x.data<float>(), p, y.data<float>(),
                      scratch.initialized() ? scratch.data<double>() : nullptr, c.get_stream());
}
}  // namespace

void register_reduce_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"L2Loss", DeviceType::kGPU, DType::kFloat32, "cuda"}, l2_loss_gpu_kernel);
  r.add({"Sum", DeviceType::kGPU, DType::kFloat32, "cuda"}, reduce_gpu_kernel<ReduceOp::kSum>);
  r.add({"Mean", DeviceType::kGPU, DType::kFloat32, "cuda"}, reduce_gpu_kernel<ReduceOp::kMean>);
  r.add({"Max", DeviceType::kGPU, DType::kFloat32, "cuda"}, reduce_gpu_kernel<ReduceOp::kMax>);
}

}  // namespace scopeflow::kernels
