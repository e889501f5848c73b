// CPU-only builds register no CUDA kernels. CUDA builds: register_kernels_cuda.cc.
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_cuda_kernels(KernelRegistry&) {}

}  // namespace scopeflow::kernels
