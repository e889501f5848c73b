// The explicit list of CUDA kernel families (CUDA builds). CPU-only: register_kernels_cuda_stub.cc.
#include "kernels/array/array.h"
#include "kernels/conv2d/conv2d_cuda.h"
#include "kernels/fill/fill.h"
#include "kernels/init/random.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_cuda_kernels(KernelRegistry& r) {
  register_fill_cuda_kernels(r);
  register_random_cuda_kernels(r);
  register_array_gpu_kernels(r);
  register_conv2d_cuda_kernels(r);
  register_conv2d_cudnn_kernels(r);
}

}  // namespace scopeflow::kernels
