// The cudaStream_t behind a devices::Stream, for CUDA kernels, cuBLAS/cuDNN calls and async
// copies (CUDA builds only; host compilers include it too). Launch helpers: launch.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <string_view>

#include "devices/base/errors.h"
#include "devices/cuda/cuda_device.h"

namespace scopeflow::kernels {

// The CUDA stream of `s`. Throws InvalidArgumentError naming `what` (the node or the call)
// when `s` is not a CUDA stream, e.g. a CPU device's stream handed to a GPU kernel.
inline cudaStream_t cuda_stream(devices::Stream& s, std::string_view what = "CUDA kernel") {
  auto* cs = dynamic_cast<cuda::CudaStream*>(&s);
  if (cs == nullptr) throw InvalidArgumentError(str_cat(what, ": launched on a non-CUDA stream"));
  return cs->get();
}

}  // namespace scopeflow::kernels
