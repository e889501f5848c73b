// See intra_op_threads.h.
#include "kernels/common/intra_op_threads.h"

#include <dlfcn.h>

namespace scopeflow::kernels {
namespace {
// OpenMP's entry points, looked up in the process: libdnnl loads libgomp (ScopeFlow itself is
// not built with -fopenmp and does not link it, so builds without oneDNN need no OpenMP).
// NOTE: the OpenMP "nthreads" setting is per calling thread, so a guard affects only the
// parallel regions this thread starts.
struct Omp {
  void (*set_num_threads)(int) = nullptr;
  int (*get_max_threads)() = nullptr;
  Omp() {
    set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    get_max_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    if (set_num_threads == nullptr || get_max_threads == nullptr)
      set_num_threads = nullptr, get_max_threads = nullptr;
  }
};
const Omp& omp() {
  static const Omp o;
  return o;
}
}  // namespace

IntraOpThreadLimit::IntraOpThreadLimit(int threads) {
  const Omp& o = omp();
  if (o.set_num_threads == nullptr) return;
  previous_ = o.get_max_threads();
  o.set_num_threads(threads < 1 ? 1 : threads);
}

IntraOpThreadLimit::~IntraOpThreadLimit() {
  if (previous_ > 0) omp().set_num_threads(previous_);
}

int IntraOpThreadLimit::current() {
  const Omp& o = omp();
  return o.get_max_threads != nullptr ? o.get_max_threads() : 0;
}

}  // namespace scopeflow::kernels
