// ArgMax on CUDA. Reference: argmax_cpu.cc (argmax_forward_ref); the tie and NaN rules are
// the reference's (argmax.h), so results match it exactly.
#include <limits>

#include "devices/cuda/cuda_check.h"
#include "kernels/argmax/argmax.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

// No candidate yet: loses to any candidate, and becomes index 0 at the end (the reference's
// start value for a row without any value above lowest()).
constexpr long long kNoIndex = std::numeric_limits<long long>::max();

// True when (v, i) beats (best, best_i): a larger value, or the same value at a smaller index.
// A total order on distinct indices, so any reduction order gives the reference's result.
template <class T>
__device__ __forceinline__ bool beats(T v, long long i, T best, long long best_i) {
  return v > best || (v == best && i < best_i);
}

// ---------------------------------------------------------------- kernels
// inner == 1: one block of kBlock threads per row (grid-stride over rows); each thread scans
// its strided part of the row (indices increasing, so a strict > keeps the first), then a warp
// shuffle and a shared-memory fold across warps. kBlock = 32 (a warp per row) for short rows.
// NOTE: only values > lowest are candidates (NaN compares false), as in the reference.
template <class T, class Index, int kBlock>
__global__ void __launch_bounds__(kBlock)
    argmax_rows_kernel(const T* x, Index* out, std::int64_t rows, std::int64_t depth, T lowest) {
  __shared__ T sh_v[32];
  __shared__ long long sh_i[32];
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* p = x + r * depth;
    T best = lowest;
    long long best_i = kNoIndex;
    for (std::int64_t d = threadIdx.x; d < depth; d += kBlock) {
      const T v = p[d];
      if (v > best) {
        best = v;
        best_i = d;
      }
    }
    for (int off = 16; off > 0; off >>= 1) {
      const T v = __shfl_down_sync(0xffffffffu, best, off);
      const long long i = __shfl_down_sync(0xffffffffu, best_i, off);
      if (beats(v, i, best, best_i)) {
        best = v;
        best_i = i;
      }
    }
    if constexpr (kBlock > 32) {
      const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
      if (lane == 0) {
        sh_v[warp] = best;
        sh_i[warp] = best_i;
      }
      __syncthreads();
      if (warp == 0) {
        best = lane < kBlock / 32 ? sh_v[lane] : lowest;
        best_i = lane < kBlock / 32 ? sh_i[lane] : kNoIndex;
        for (int off = 16; off > 0; off >>= 1) {
          const T v = __shfl_down_sync(0xffffffffu, best, off);
          const long long i = __shfl_down_sync(0xffffffffu, best_i, off);
          if (beats(v, i, best, best_i)) {
            best = v;
            best_i = i;
          }
        }
      }
      __syncthreads();  // sh_v / sh_i are reused by the next row
    }
    if (threadIdx.x == 0) out[r] = static_cast<Index>(best_i == kNoIndex ? 0 : best_i);
  }
}

// inner > 1: one thread per output (o, i), looping over the axis; neighbouring threads read
// neighbouring i, so the loads coalesce. Grid-stride over the outer * inner outputs.
template <class T, class Index>
__global__ void argmax_strided_kernel(const T* x, Index* out, std::int64_t outer,
                                      std::int64_t depth, std::int64_t inner, T lowest) {
  const std::int64_t n = outer * inner;
  for (std::int64_t j = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; j < n;
       j += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t o = j / inner, i = j - o * inner;
    const T* p = x + o * depth * inner + i;
    std::int64_t best_i = 0;
    T best = lowest;
    for (std::int64_t d = 0; d < depth; ++d) {
      const T v = p[d * inner];
      if (v > best) {
        best = v;
        best_i = d;
      }
    }
    out[j] = static_cast<Index>(best_i);
  }
}

constexpr std::int64_t kMaxBlocks = 132 * 64;

// InTopKV2: a warp per row counts the classes scoring strictly above the target's.
template <class Index>
__global__ void in_top_k_kernel(const float* predictions, const Index* targets, bool* out,
                                std::int64_t batch, std::int64_t classes, std::int64_t k) {
  const int lane = threadIdx.x % 32;
  const std::int64_t warps = std::int64_t{gridDim.x} * (blockDim.x / 32);
  for (std::int64_t b = blockIdx.x * std::int64_t{blockDim.x / 32} + threadIdx.x / 32; b < batch;
       b += warps) {
    const std::int64_t t = static_cast<std::int64_t>(targets[b]);
    const float* row = predictions + b * classes;
    const bool in_range = t >= 0 && t < classes;
    std::int64_t above = 0;
    bool finite = in_range;
    if (in_range)
      for (std::int64_t i = lane; i < classes; i += 32) {
        finite = finite && isfinite(row[i]);
        above += row[i] > row[t];
      }
    for (int off = 16; off > 0; off >>= 1) above += __shfl_down_sync(0xffffffffu, above, off);
    finite = __all_sync(0xffffffffu, finite);
    if (lane == 0) out[b] = finite && above < k;
  }
}

}  // namespace

template <class Index>
void in_top_k_cuda(const float* predictions, const Index* targets, bool* out, std::int64_t batch,
                   std::int64_t classes, std::int64_t k, devices::Stream& stream) {
  if (batch == 0) return;
  constexpr int kBlock = 256;  // 8 rows per block
  const unsigned grid = static_cast<unsigned>(std::min<std::int64_t>((batch + 7) / 8, kMaxBlocks));
  in_top_k_kernel<Index>
      <<<grid, kBlock, 0, cuda_stream(stream)>>>(predictions, targets, out, batch, classes, k);
  SF_CUDA_CHECK(cudaGetLastError());
}
template void in_top_k_cuda<std::int32_t>(const float*, const std::int32_t*, bool*, std::int64_t,
                                          std::int64_t, std::int64_t, devices::Stream&);
template void in_top_k_cuda<std::int64_t>(const float*, const std::int64_t*, bool*, std::int64_t,
                                          std::int64_t, std::int64_t, devices::Stream&);

// ---------------------------------------------------------------- launchers
template <class T, class Index>
void argmax_forward_cuda(const T* x, Index* out, std::int64_t outer, std::int64_t depth,
                         std::int64_t inner, devices::Stream& stream) {
  const std::int64_t n = outer * inner;
  if (n == 0 || depth == 0) return;
  const T lowest = std::numeric_limits<T>::lowest();
  const cudaStream_t s = cuda_stream(stream);
  if (inner == 1) {
    const unsigned grid = static_cast<unsigned>(std::min(n, kMaxBlocks));
    if (depth <= 1024)
      argmax_rows_kernel<T, Index, 32><<<grid, 32, 0, s>>>(x, out, n, depth, lowest);
    else
      argmax_rows_kernel<T, Index, 256><<<grid, 256, 0, s>>>(x, out, n, depth, lowest);
  } else {
    constexpr int kBlock = 256;
    argmax_strided_kernel<T, Index>
        <<<grid_size(n, kBlock), kBlock, 0, s>>>(x, out, outer, depth, inner, lowest);
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

#define SF_ARGMAX_CUDA_INSTANTIATE(T)                                                       \
  template void argmax_forward_cuda<T, std::int32_t>(                                       \
      const T*, std::int32_t*, std::int64_t, std::int64_t, std::int64_t, devices::Stream&); \
  template void argmax_forward_cuda<T, std::int64_t>(                                       \
      const T*, std::int64_t*, std::int64_t, std::int64_t, std::int64_t, devices::Stream&);
SF_ARGMAX_CUDA_INSTANTIATE(float)
SF_ARGMAX_CUDA_INSTANTIATE(double)
SF_ARGMAX_CUDA_INSTANTIATE(std::int32_t)
SF_ARGMAX_CUDA_INSTANTIATE(std::int64_t)
#undef SF_ARGMAX_CUDA_INSTANTIATE

// ---------------------------------------------------------------- registration
namespace {

template <class Index>
void argmax_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  if (c.inputs.size() < 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects inputs {input, dimension}"));
  // NOTE: `dimension` is a HostMemory input (the session keeps it on the host); a caller that
  // passes it on the GPU costs a one-element copy.
  const ArgMaxPlan p = argmax_plan(x, c.inputs[1], c.node_name);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, dtype_of<Index>, Shape(p.out_dims));
  Index* out = y.data<Index>();
  devices::Stream& s = c.get_stream();
  switch (x.dtype()) {
    case DType::kFloat32:
      return argmax_forward_cuda(x.data<float>(), out, p.outer, p.depth, p.inner, s);
    case DType::kFloat64:
      return argmax_forward_cuda(x.data<double>(), out, p.outer, p.depth, p.inner, s);
    case DType::kInt32:
      return argmax_forward_cuda(x.data<std::int32_t>(), out, p.outer, p.depth, p.inner, s);
    case DType::kInt64:
      return argmax_forward_cuda(x.data<std::int64_t>(), out, p.outer, p.depth, p.inner, s);
    default:
      throw InvalidArgumentError(
          str_cat(c.node_name, ": ArgMax does not support ", dtype_name(x.dtype())));
  }
}

void in_top_k_gpu_kernel(KernelContext& c) {
  const Tensor& pred = gpu_input(c, 0);
  const Tensor& targets = gpu_input(c, 1);
  // NOTE: k is a HostMemory input (read on the host, as TF's GPU kernel does).
  const std::int64_t k = in_top_k_check(pred, targets, c.inputs.at(2), c.node_name);
  const std::int64_t batch = pred.shape().dims()[0], classes = pred.shape().dims()[1];
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, DType::kBool, Shape{batch});
  if (targets.dtype() == DType::kInt32)
    in_top_k_cuda(pred.data<float>(), targets.data<std::int32_t>(), out.data<bool>(), batch,
                  classes, k, c.get_stream());
  else
    in_top_k_cuda(pred.data<float>(), targets.data<std::int64_t>(), out.data<bool>(), batch,
                  classes, k, c.get_stream());
}

}  // namespace

void register_argmax_cuda_kernels(KernelRegistry& r) {
  r.add({"InTopKV2", devices::DeviceType::kGPU, DType::kBool, "cuda"}, in_top_k_gpu_kernel);
  using devices::DeviceType;
  r.add({"ArgMax", DeviceType::kGPU, DType::kInt64, "cuda"}, argmax_gpu_kernel<std::int64_t>);
  r.add({"ArgMax", DeviceType::kGPU, DType::kInt32, "cuda"}, argmax_gpu_kernel<std::int32_t>);
}

}  // namespace scopeflow::kernels
