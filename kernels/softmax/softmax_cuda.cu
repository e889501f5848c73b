// Softmax / LogSoftmax on CUDA. Reference: softmax_cpu.cc (softmax_forward_ref), which sums
// in double; here the sums are float32 (within 1e-5 relative of the reference).
#include <math_constants.h>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/softmax/softmax.h"

namespace scopeflow::kernels {
namespace {

// NaN-propagating max: a NaN on either side wins (the reference's row_max returns NaN).
__device__ __forceinline__ float nan_max(float a, float b) { return (isnan(a) || a > b) ? a : b; }

// Fold over a warp, then over the block's warps through `sh` (32 floats); every thread gets
// the result. A fixed order, so the result is deterministic.
template <int kBlock, bool kMax>
__device__ float block_reduce(float v, float* sh) {
  for (int off = 16; off > 0; off >>= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = kMax ? nan_max(v, o) : v + o;
  }
  if constexpr (kBlock > 32) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < kBlock / 32 ? sh[lane] : (kMax ? -CUDART_INF_F : 0.0f);
    for (int off = 16; off > 0; off >>= 1) {
      const float o = __shfl_xor_sync(0xffffffffu, v, off);
      v = kMax ? nan_max(v, o) : v + o;
    }
    __syncthreads();  // sh is reused by the next reduction
  }
  // NOTE: lanes can differ in the sign of a zero max (nan_max(0, -0) != nan_max(-0, 0)); lane
  // 0's value is used by all, so that every output of the row uses one max and one sum.
  return __shfl_sync(0xffffffffu, v, 0);
}

// ---------------------------------------------------------------- kernels
// One block of kBlock threads per row (grid-stride over rows), the threads striding over the
// row, so rows of any length fit; kBlock = 32 (a warp per row) for short rows. Three passes
// over the row: max, sum of exp(x - max), outputs. NOTE: NaN/inf as the reference: a NaN in
// the row gives max NaN and every output NaN; +inf gives inf - inf = NaN; a row of -inf too.
template <int kBlock, bool kLog>
__global__ void __launch_bounds__(kBlock)
    softmax_rows_kernel(const float* x, float* y, std::int64_t rows, std::int64_t depth) {
  __shared__ float sh[32];
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* in = x + r * depth;
    float* out = y + r * depth;
    float m = -CUDART_INF_F;
    for (std::int64_t c = threadIdx.x; c < depth; c += kBlock) m = nan_max(m, in[c]);
    m = block_reduce<kBlock, true>(m, sh);
    // Compensated (Kahan) float sums: a thread adds up to depth / kBlock terms, and plain
    // float accumulation over a million-value row would drift past 1e-5 of the reference.
    // NOTE: relies on no FMA contraction / reassociation (kernels build with --fmad=false).
    float sum = 0.0f, comp = 0.0f;
    for (std::int64_t c = threadIdx.x; c < depth; c += kBlock) {
      const float term = expf(in[c] - m) - comp;
      const float next = sum + term;
      comp = (next - sum) - term;
      sum = next;
    }
    sum = block_reduce<kBlock, false>(sum, sh);
    if constexpr (kLog) {
      const float log_sum = logf(sum);
      for (std::int64_t c = threadIdx.x; c < depth; c += kBlock) out[c] = (in[c] - m) - log_sum;
    } else {
      for (std::int64_t c = threadIdx.x; c < depth; c += kBlock) out[c] = expf(in[c] - m) / sum;
    }
  }
}

// Rows of at most this many values go a warp per row; longer ones a 256-thread block per row.
constexpr std::int64_t kWarpRowMax = 256;
// Enough blocks to fill an H100 many times over; more rows are strided.
constexpr std::int64_t kMaxBlocks = 132 * 64;

template <bool kLog>
void softmax_launch(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                    devices::Stream& stream) {
  if (rows == 0 || depth == 0) return;
  const unsigned grid = static_cast<unsigned>(std::min(rows, kMaxBlocks));
  const cudaStream_t s = cuda_stream(stream);
  if (depth <= kWarpRowMax)
    softmax_rows_kernel<32, kLog><<<grid, 32, 0, s>>>(x, y, rows, depth);
  else
    softmax_rows_kernel<256, kLog><<<grid, 256, 0, s>>>(x, y, rows, depth);
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

// ---------------------------------------------------------------- launchers
void softmax_forward_cuda(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                          devices::Stream& stream) {
  softmax_launch<false>(x, y, rows, depth, stream);
}
void log_softmax_forward_cuda(const float* x, float* y, std::int64_t rows, std::int64_t depth,
                              devices::Stream& stream) {
  softmax_launch<true>(x, y, rows, depth, stream);
}

// ---------------------------------------------------------------- registration
namespace {

template <bool kLog>
void softmax_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  if (x.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": logits must be float32, got ", dtype_name(x.dtype())));
  if (x.shape().rank() < 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": logits must have >= 1 dimension, got ", x.shape().to_string()));
  const std::int64_t depth = x.shape().dims().back();
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32, x.shape());
  const std::int64_t rows = depth ? x.num_elements() / depth : 0;
  if constexpr (kLog)
    log_softmax_forward_cuda(x.data<float>(), y.data<float>(), rows, depth, c.get_stream());
  else
    softmax_forward_cuda(x.data<float>(), y.data<float>(), rows, depth, c.get_stream());
}

}  // namespace

void register_softmax_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Softmax", DeviceType::kGPU, DType::kFloat32, "cuda"}, softmax_gpu_kernel<false>);
  r.add({"LogSoftmax", DeviceType::kGPU, DType::kFloat32, "cuda"}, softmax_gpu_kernel<true>);
}

}  // namespace scopeflow::kernels
