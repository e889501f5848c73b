// The explicit list of OpenBLAS-backed CPU kernel families (builds with OpenBLAS).
// Without OpenBLAS: register_kernels_openblas_stub.cc.
#include "kernels/conv2d/conv2d.h"
#include "kernels/kernel.h"
#include "kernels/matmul/matmul.h"

namespace scopeflow::kernels {

void register_openblas_kernels(KernelRegistry& r) {
  register_matmul_openblas_kernels(r);
  register_conv2d_openblas_kernels(r);
}
bool built_with_openblas() { return true; }

}  // namespace scopeflow::kernels
