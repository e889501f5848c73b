// Random initializer kernels on CUDA. Reference: random_cpu.cc (random_forward_ref); the
// per-element math is philox.h, shared, so the bits match the CPU's.
#include "devices/cuda/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/init/random.h"

namespace scopeflow::kernels {

// ---------------------------------------------------------------- kernels
// Grid-stride: thread t computes elements t, t + stride, ...; each element is a pure
// function of (key, offset + i), so any launch shape gives the same output.
template <RandomDist kDist>
__global__ void random_forward_kernel(philox::Key key, std::uint64_t offset, float* out,
                                      std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::uint64_t c = offset + static_cast<std::uint64_t>(i);
    if constexpr (kDist == RandomDist::kUniform) out[i] = philox::uniform_at(key, c);
    if constexpr (kDist == RandomDist::kNormal) out[i] = philox::normal_at(key, c);
    if constexpr (kDist == RandomDist::kTruncatedNormal) out[i] = philox::truncated_normal_at(key, c);
  }
}

// ---------------------------------------------------------------- launchers
void random_forward_cuda(const RandomArgs& a, devices::Stream& stream) {
  if (a.n == 0) return;
  constexpr int kBlock = 256;
  const unsigned grid = grid_size(a.n, kBlock);
  cudaStream_t s = cuda_stream(stream);
  switch (a.dist) {
    case RandomDist::kUniform:
      random_forward_kernel<RandomDist::kUniform><<<grid, kBlock, 0, s>>>(a.key, a.offset, a.out, a.n);
      break;
    case RandomDist::kNormal:
      random_forward_kernel<RandomDist::kNormal><<<grid, kBlock, 0, s>>>(a.key, a.offset, a.out, a.n);
      break;
    case RandomDist::kTruncatedNormal:
      random_forward_kernel<RandomDist::kTruncatedNormal>
          <<<grid, kBlock, 0, s>>>(a.key, a.offset, a.out, a.n);
      break;
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- registration
template <RandomDist kDist>
static void random_cuda_kernel(KernelContext& c) {
  if (c.inputs.size() != 1)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects one shape input"));
  Tensor& out = c.allocate_output(0, DType::kFloat32, shape_from_tensor(c.inputs[0], c.node_name));
  random_forward_cuda({kDist, random_key(c), c.rng_offset, out.data<float>(), out.num_elements()},
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
