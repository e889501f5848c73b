// MatMul on the CPU through OpenBLAS's sgemm (label "openblas"). Reference: matmul_cpu.cc.
#include <cblas.h>

#include "kernels/matmul/matmul.h"

namespace scopeflow::kernels {

void matmul_forward_openblas(const float* a, const float* b, float* c, std::int64_t m,
                             std::int64_t n, std::int64_t k, bool transpose_a, bool transpose_b) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, a, static_cast<int>(transpose_a ? m : k), b,
              static_cast<int>(transpose_b ? k : n), 0.0f, c, static_cast<int>(n));
}

void register_matmul_openblas_kernels(KernelRegistry& r) {
  register_matmul_cpu_family(r, "openblas", matmul_forward_openblas);
}

}  // namespace scopeflow::kernels
