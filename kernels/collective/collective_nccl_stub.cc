// Builds without NCCL (or without CUDA): no NCCL all-reduce; the executor uses ScopeFlow's own
// kernel instead. The NCCL build uses collective_nccl.cc.
#include "devices/base/errors.h"
#include "kernels/collective/collective.h"

namespace scopeflow::kernels {

bool nccl_available() { return false; }

std::vector<Tensor> all_reduce_nccl(const AllReduceRequest& r) {
  throw UnavailableError(str_cat("all-reduce ", r.name, ": this build has no NCCL"));
}

}  // namespace scopeflow::kernels
