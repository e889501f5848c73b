// CPU-only builds: the fused CUDA all-reduce is unavailable (there are no GPU devices to
// reduce over). The CUDA build uses collective_cuda.cu.
#include "devices/base/errors.h"
#include "kernels/collective/collective.h"

namespace scopeflow::kernels {

void all_reduce_fused_cuda(AllReduceOp, DType, const std::vector<const void*>&,
                           const std::vector<void*>&, std::int64_t, devices::Stream&) {
  throw UnavailableError("all_reduce_fused_cuda: CPU-only build");
}

std::vector<Tensor> all_reduce_fused_gpu(const AllReduceRequest& r) {
  throw UnavailableError(str_cat("all-reduce ", r.name, ": CPU-only build"));
}

}  // namespace scopeflow::kernels
