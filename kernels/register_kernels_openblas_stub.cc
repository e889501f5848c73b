// Builds without OpenBLAS register no "openblas" kernels. With it: register_kernels_openblas.cc.
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_openblas_kernels(KernelRegistry&) {}
bool built_with_openblas() { return false; }

}  // namespace scopeflow::kernels
