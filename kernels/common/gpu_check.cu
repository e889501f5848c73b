// The small kernels behind GpuCheck (gpu_args.h): a failing element's value, and a range check
// for kernels with nothing else to launch (an empty gather output, empty segment rows).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

__global__ void check_value_kernel(unsigned long long* words, const void* values, bool int64) {
  const unsigned long long e = words[0];
  if (e == ~0ull) return;
  words[1] = int64 ? static_cast<unsigned long long>(static_cast<const long long*>(values)[e])
                   : static_cast<unsigned long long>(
                         static_cast<long long>(static_cast<const int*>(values)[e]));
}

template <class I>
__global__ void range_check_kernel(unsigned long long* words, const I* values, std::int64_t n,
                                   std::int64_t lo, std::int64_t hi) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const auto v = static_cast<std::int64_t>(values[e]);
    if (v < lo || v >= hi) atomicMin(words, static_cast<unsigned long long>(e));
  }
}

}  // namespace

void launch_check_value(unsigned long long* words, const void* values, bool int64, cudaStream_t s) {
  check_value_kernel<<<1, 1, 0, s>>>(words, values, int64);
  SF_CUDA_CHECK(cudaGetLastError());
}

void launch_range_check(unsigned long long* words, const void* values, bool int64, std::int64_t n,
                        std::int64_t lo, std::int64_t hi, cudaStream_t s) {
  if (n <= 0) return;
  if (int64)
    range_check_kernel<<<grid_size(n, kBlock), kBlock, 0, s>>>(
        words, static_cast<const std::int64_t*>(values), n, lo, hi);
  else
    range_check_kernel<<<grid_size(n, kBlock), kBlock, 0, s>>>(
        words, static_cast<const std::int32_t*>(values), n, lo, hi);
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace scopeflow::kernels
