// Builds without oneDNN register no "onednn" kernels. With it: register_kernels_onednn.cc.
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_onednn_kernels(KernelRegistry&) {}
bool built_with_onednn() { return false; }

}  // namespace scopeflow::kernels
