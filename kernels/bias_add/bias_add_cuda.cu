// BiasAdd, BiasAddGrad and the fused bias-add + relu on CUDA. Reference: bias_add_cpu.cc.
// BiasAddGrad is the column reduction of reduce_cuda.cu (deterministic, double accumulation).
#include "devices/cuda/cuda_check.h"
#include "kernels/bias_add/bias_add.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/reduce/reduce.h"
#include "kernels/relu/relu.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

template <bool kRelu>
__device__ __forceinline__ float bias_add_of(float x, float b) {
  const float y = x + b;
  return kRelu ? relu(y) : y;
}

// ---------------------------------------------------------------- kernels
// Element i per thread, grid-stride; channel = i % channels (32-bit index math when the
// tensor allows it: 64-bit division is several times slower).
template <bool kRelu, class I>
__global__ void bias_add_kernel(const float* x, const float* b, float* y, I n, I channels) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x)
    y[i] = bias_add_of<kRelu>(x[i], b[i % channels]);
}

// channels % 4 == 0 and 16-byte aligned pointers: a float4 of x never straddles two rows,
// so its 4 biases are one float4 of b.
template <bool kRelu, class I>
__global__ void bias_add_vec4_kernel(const float* x, const float* b, float* y, I n4, I channels) {
  const auto* x4 = reinterpret_cast<const float4*>(x);
  const auto* b4 = reinterpret_cast<const float4*>(b);
  auto* y4 = reinterpret_cast<float4*>(y);
  const I c4 = channels / 4;
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const float4 v = x4[i], w = b4[i % c4];
    y4[i] = make_float4(bias_add_of<kRelu>(v.x, w.x), bias_add_of<kRelu>(v.y, w.y),
                        bias_add_of<kRelu>(v.z, w.z), bias_add_of<kRelu>(v.w, w.w));
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <bool kRelu>
void bias_add_launch(const float* x, const float* b, float* y, std::int64_t rows,
                     std::int64_t channels, devices::Stream& stream) {
  const std::int64_t n = rows * channels;
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(stream);
  // 32-bit indices when an index plus a grid-stride step (grids stay far below 2^24 threads)
  // cannot overflow.
  const bool i32 = n <= (std::int64_t{1} << 31) - 1 - (std::int64_t{1} << 24);
  if (channels % 4 == 0 && aligned16(x) && aligned16(b) && aligned16(y)) {
    const std::int64_t n4 = n / 4;
    if (i32)
      bias_add_vec4_kernel<kRelu, std::int32_t><<<grid_size(n4, kBlock), kBlock, 0, s>>>(
          x, b, y, static_cast<std::int32_t>(n4), static_cast<std::int32_t>(channels));
    else
      bias_add_vec4_kernel<kRelu, std::int64_t>
          <<<grid_size(n4, kBlock), kBlock, 0, s>>>(x, b, y, n4, channels);
  } else {
    if (i32)
      bias_add_kernel<kRelu, std::int32_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
          x, b, y, static_cast<std::int32_t>(n), static_cast<std::int32_t>(channels));
    else
      bias_add_kernel<kRelu, std::int64_t>
          <<<grid_size(n, kBlock), kBlock, 0, s>>>(x, b, y, n, channels);
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

ReducePlan bias_grad_plan(std::int64_t rows, std::int64_t channels) {
  return make_reduce_plan(Shape{rows, channels}, {true, false});
}

}  // namespace

// ---------------------------------------------------------------- launchers
void bias_add_forward_cuda(const float* x, const float* b, float* y, std::int64_t rows,
                           std::int64_t channels, devices::Stream& stream) {
  bias_add_launch<false>(x, b, y, rows, channels, stream);
}

void bias_add_relu_cuda(const float* x, const float* b, float* y, std::int64_t rows,
                        std::int64_t channels, devices::Stream& stream) {
  bias_add_launch<true>(x, b, y, rows, channels, stream);
}

std::int64_t bias_add_backward_cuda_scratch_elems(std::int64_t rows, std::int64_t channels) {
  return reduce_scratch_elems(bias_grad_plan(rows, channels));
}

void bias_add_backward_cuda(const float* dy, float* db, std::int64_t rows, std::int64_t channels,
                            double* scratch, devices::Stream& stream) {
  reduce_forward_cuda(ReduceOp::kSum, dy, bias_grad_plan(rows, channels), db, scratch, stream);
}

// ---------------------------------------------------------------- registration
namespace {
template <bool kRelu>
void bias_add_gpu_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  const Tensor& b = gpu_input(c, 1);
  const std::int64_t ch = b.num_elements();
  if (b.shape().rank() != 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": Biases must be 1D: ", b.shape().to_string()));
  if (x.shape().rank() < 1 || x.shape().dims().back() != ch)
    throw InvalidArgumentError(str_cat(
        c.node_name, ": Must provide as many biases as the last dimension of the input tensor: ",
        b.shape().to_string(), " vs. ", x.shape().to_string()));
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, DType::kFloat32, x.shape());
  bias_add_launch<kRelu>(x.data<float>(), b.data<float>(), y.data<float>(),
                         ch ? x.num_elements() / ch : 0, ch, c.get_stream());
}

void bias_add_grad_gpu_kernel(KernelContext& c) {
  const Tensor& dy = gpu_input(c, 0);
  if (dy.shape().rank() < 1)
    throw InvalidArgumentError(str_cat(c.node_name, ": BiasAddGrad needs at least 1-D input, got ",
                                       dy.shape().to_string()));
  const std::int64_t ch = dy.shape().dims().back();
  const std::int64_t rows = ch ? dy.num_elements() / ch : 0;
  GpuLaunchScope scope(c);
  Tensor& db = gpu_output(c, 0, DType::kFloat32, Shape{ch});
  Tensor scratch;
  if (const std::int64_t n = bias_add_backward_cuda_scratch_elems(rows, ch); n > 0)
    scratch = gpu_scratch(c, DType::kFloat64, Shape{n});
  bias_add_backward_cuda(dy.data<float>(), db.data<float>(), rows, ch,
                         scratch.initialized() ? scratch.data<double>() : nullptr, c.get_stream());
}
}  // namespace

void register_bias_add_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"BiasAdd", DeviceType::kGPU, DType::kFloat32, "cuda"}, bias_add_gpu_kernel<false>);
  r.add({"_FusedBiasAddRelu", DeviceType::kGPU, DType::kFloat32, "cuda"},
        bias_add_gpu_kernel<true>);
  r.add({"BiasAddGrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, bias_add_grad_gpu_kernel);
}

}  // namespace scopeflow::kernels
