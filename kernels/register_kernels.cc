// The explicit list of CPU kernel families. GPU: register_kernels_cuda.cc.
#include "kernels/fill/fill.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_cpu_kernels(KernelRegistry& r) { register_fill_cpu_kernels(r); }

}  // namespace scopeflow::kernels
