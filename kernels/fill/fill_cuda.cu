// Fill on CUDA. Reference: fill_cpu.cc (fill_forward_ref).
#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/fill/fill.h"
#include "kernels/init/random.h"

namespace scopeflow::kernels {

// ---------------------------------------------------------------- kernels
// One thread writes every (gridDim*blockDim)-th element; stores are coalesced per warp.
template <class T>
__global__ void fill_forward_kernel(T* out, std::int64_t n, T value) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    out[i] = value;
}

// ---------------------------------------------------------------- launchers
template <class T>
static void fill_launch(T* out, std::int64_t n, T value, devices::Stream& stream) {
  if (n == 0) return;
  constexpr int kBlock = 256;
  fill_forward_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(out, n, value);
  SF_CUDA_CHECK(cudaGetLastError());
}

void fill_forward_cuda(float* out, std::int64_t n, float value, devices::Stream& stream) {
  fill_launch(out, n, value, stream);
}
void fill_forward_cuda(std::int32_t* out, std::int64_t n, std::int32_t value,
                       devices::Stream& stream) {
  fill_launch(out, n, value, stream);
}
void fill_forward_cuda(std::int64_t* out, std::int64_t n, std::int64_t value,
                       devices::Stream& stream) {
  fill_launch(out, n, value, stream);
}
void fill_forward_cuda(double* out, std::int64_t n, double value, devices::Stream& stream) {
  fill_launch(out, n, value, stream);
}
void fill_forward_cuda(bool* out, std::int64_t n, bool value, devices::Stream& stream) {
  fill_launch(out, n, value, stream);
}

// ---------------------------------------------------------------- registration
template <class T>
static void fill_cuda_kernel(KernelContext& c) {
  if (c.inputs.size() != 2 || c.outputs.size() > 1)
    throw InvalidArgumentError("Fill: expects inputs {dims, value} and one output");
  const T value = c.inputs[1].scalar<T>();
  const Shape shape = shape_from_tensor(c.inputs[0], "Fill");
  // NOTE: the kernel's GPU made current for the launch (see random_cuda.cu), and a
  // preallocated output reused only when it is GPU memory of the right dtype and shape
  // (gpu_output); it used to be filled whatever its shape or device.
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, dtype_of<T>, shape);
  fill_forward_cuda(y.data<T>(), y.num_elements(), value, c.get_stream());
}

void register_fill_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Fill", DeviceType::kGPU, DType::kFloat32, "cuda"}, fill_cuda_kernel<float>);
  r.add({"Fill", DeviceType::kGPU, DType::kInt32, "cuda"}, fill_cuda_kernel<std::int32_t>);
  r.add({"Fill", DeviceType::kGPU, DType::kInt64, "cuda"}, fill_cuda_kernel<std::int64_t>);
  r.add({"Fill", DeviceType::kGPU, DType::kFloat64, "cuda"}, fill_cuda_kernel<double>);
  r.add({"Fill", DeviceType::kGPU, DType::kBool, "cuda"}, fill_cuda_kernel<bool>);
}

}  // namespace scopeflow::kernels
