// The explicit list of CPU kernel families. GPU: register_kernels_cuda.cc.
#include "kernels/array/array.h"
#include "kernels/fill/fill.h"
#include "kernels/init/random.h"
#include "kernels/math/binary.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_cpu_kernels(KernelRegistry& r) {
  register_fill_cpu_kernels(r);
  register_random_cpu_kernels(r);
  register_binary_cpu_kernels(r);
  register_array_cpu_kernels(r);
}

}  // namespace scopeflow::kernels
