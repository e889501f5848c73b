// Launch helpers shared by the CUDA kernels: grid sizing for grid-stride loops, and (from
// cuda_stream.h) the cudaStream_t behind a devices::Stream.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "devices/base/errors.h"
#include "kernels/common/cuda_stream.h"

namespace scopeflow::kernels {

// Blocks for a grid-stride loop over n elements: enough to fill the GPU several times
// over, never more than the elements need.
inline unsigned grid_size(std::int64_t n, int block, std::int64_t max_blocks = 132 * 32) {
  const std::int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(blocks, max_blocks)));
}

}  // namespace scopeflow::kernels
