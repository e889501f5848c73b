// Launch helpers shared by the CUDA kernels: grid sizing for grid-stride loops and the
// cudaStream_t behind a devices::Stream.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "devices/base/errors.h"
#include "devices/cuda/cuda_device.h"

namespace scopeflow::kernels {

// Blocks for a grid-stride loop over n elements: enough to fill the GPU several times
// over, never more than the elements need.
inline unsigned grid_size(std::int64_t n, int block, std::int64_t max_blocks = 132 * 32) {
  const std::int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(blocks, max_blocks)));
}

inline cudaStream_t cuda_stream(devices::Stream& s) {
  auto* cs = dynamic_cast<cuda::CudaStream*>(&s);
  if (cs == nullptr) throw InvalidArgumentError("CUDA kernel launched on a non-CUDA stream");
  return cs->get();
}

}  // namespace scopeflow::kernels
