// Random initializer kernels on CUDA. Reference: random_cpu.cc (random_forward_ref); the
// per-element math is philox.h, shared, so the bits match the CPU's.
#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/init/random.h"
#include "kernels/init/random_units.h"

namespace scopeflow::kernels {

// ---------------------------------------------------------------- kernels
// Uniform and normal: thread t computes Philox unit j = t, t + stride, ...; a unit is one
// block of 4 uniforms (or one Box-Muller pair of normals) covering element counters
// base + kPer*j .. base + kPer*j + kPer-1, where base = offset rounded down to kPer. It writes
// the elements of the unit that fall inside [0, n). Every element is the same pure function
// of (key, offset + i) as on the CPU, so any launch shape gives the same bits.
// `offset_device`, when not null, replaces `offset` (CUDA-graph replay: the session writes the
// node's counter there before each launch); the grid-stride loops cover whatever grid the
// launch was sized for.
__device__ inline std::uint64_t start_offset(std::uint64_t offset,
                                             const std::uint64_t* offset_device) {
  return offset_device != nullptr ? *offset_device : offset;
}

__global__ void random_uniform_kernel(philox::Key key, std::uint64_t offset_arg,
                                      const std::uint64_t* offset_device, float* out,
                                      std::int64_t n) {
  const std::uint64_t offset = start_offset(offset_arg, offset_device);
  const std::int64_t units = uniform_units(offset, n);
  for (std::int64_t j = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; j < units;
       j += std::int64_t{gridDim.x} * blockDim.x)
    uniform_unit(key, offset, out, n, j);
}

__global__ void random_normal_kernel(philox::Key key, std::uint64_t offset_arg,
                                     const std::uint64_t* offset_device, float* out,
                                     std::int64_t n) {
  const std::uint64_t offset = start_offset(offset_arg, offset_device);
  const std::int64_t units = normal_units(offset, n);
  for (std::int64_t j = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; j < units;
       j += std::int64_t{gridDim.x} * blockDim.x)
    normal_unit(key, offset, out, n, j);
}

// One element per thread: each redraws independently until it lands within 2 sigma.
__global__ void random_truncated_normal_kernel(philox::Key key, std::uint64_t offset_arg,
                                               const std::uint64_t* offset_device, float* out,
                                               std::int64_t n) {
  const std::uint64_t offset = start_offset(offset_arg, offset_device);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    out[i] = philox::truncated_normal_at(key, offset + static_cast<std::uint64_t>(i));
}

// ---------------------------------------------------------------- launchers
void random_forward_cuda(const RandomArgs& a, devices::Stream& stream) {
  if (a.n == 0) return;
  constexpr int kBlock = 256;
  cudaStream_t s = cuda_stream(stream);
  // NOTE: with offset_device the grid is sized from a.offset (the counter when the launch was
  // captured); units differ by at most one across offsets, and the grid-stride loops cover it.
  switch (a.dist) {
    case RandomDist::kUniform:
      random_uniform_kernel<<<grid_size(uniform_units(a.offset, a.n), kBlock), kBlock, 0, s>>>(
          a.key, a.offset, a.offset_device, a.out, a.n);
      break;
    case RandomDist::kNormal:
      random_normal_kernel<<<grid_size(normal_units(a.offset, a.n), kBlock), kBlock, 0, s>>>(
          a.key, a.offset, a.offset_device, a.out, a.n);
      break;
    case RandomDist::kTruncatedNormal:
      random_truncated_normal_kernel<<<grid_size(a.n, kBlock), kBlock, 0, s>>>(
          a.key, a.offset, a.offset_device, a.out, a.n);
      break;
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- registration
template <RandomDist kDist>
static void random_cuda_kernel(KernelContext& c) {
  if (c.inputs.size() != 1)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects one shape input"));
  const Shape shape = shape_from_tensor(c.inputs[0], c.node_name);
  // NOTE: the kernel's GPU made current (a launch into another card's stream fails: executor
  // threads' current device is whatever they last used), and the output checked to be GPU
  // memory (gpu_output throws without a GPU device_ptr instead of handing out host memory).
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, DType::kFloat32, shape);
  random_forward_cuda({kDist, random_key(c), c.rng_offset, out.data<float>(), out.num_elements(),
                       c.rng_offset_device},
                      c.get_stream());
}

void register_random_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"RandomUniform", DeviceType::kGPU, DType::kFloat32, "cuda"},
        random_cuda_kernel<RandomDist::kUniform>);
  r.add({"RandomStandardNormal", DeviceType::kGPU, DType::kFloat32, "cuda"},
        random_cuda_kernel<RandomDist::kNormal>);
  r.add({"TruncatedNormal", DeviceType::kGPU, DType::kFloat32, "cuda"},
        random_cuda_kernel<RandomDist::kTruncatedNormal>);
}

}  // namespace scopeflow::kernels
