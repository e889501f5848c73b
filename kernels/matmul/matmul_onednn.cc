// MatMul on the CPU through oneDNN's sgemm (label "onednn"). Reference: matmul_cpu.cc.
// oneDNN runs on the same OpenMP threads as the "onednn" conv2d kernels, so a training step's
// heavy CPU kernels share one thread team instead of OpenBLAS's pool spinning beside it.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>

#include "devices/base/errors.h"
#include "kernels/matmul/matmul.h"

namespace scopeflow::kernels {

void matmul_forward_onednn(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n,
                           std::int64_t k, bool transpose_a, bool transpose_b) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: C = 0 (sgemm with beta 0 would too; no library call needed)
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  const dnnl_status_t st =
      dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, 1.0f, a,
                 transpose_a ? m : k, b, transpose_b ? k : n, 0.0f, c, n);
  if (st != dnnl_success)
    throw InternalError(str_cat("MatMul (onednn): dnnl_sgemm failed with status ",
                                static_cast<int>(st), " for [", m, ", ", k, "] x [", k, ", ", n,
                                "]"));
}

void register_matmul_onednn_kernels(KernelRegistry& r) {
  register_matmul_cpu_family(r, "onednn", matmul_forward_onednn);
}

}  // namespace scopeflow::kernels
