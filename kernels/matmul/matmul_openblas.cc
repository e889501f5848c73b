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
  r.add({"MatMul", devices::DeviceType::kCPU, DType::kFloat32, "openblas"}, [](KernelContext& c) {
    const Tensor& a = c.inputs.at(0);
    const Tensor& b = c.inputs.at(1);
    const bool ta = c.attr().get_or<bool>("transpose_a", false);
    const bool tb = c.attr().get_or<bool>("transpose_b", false);
    if (a.shape().rank() != 2 || b.shape().rank() != 2)
      throw InvalidArgumentError(str_cat(c.node_name, ": MatMul needs 2-D inputs, got ",
                                         a.shape().to_string(), " and ", b.shape().to_string()));
    const auto m = a.shape().dims()[ta ? 1 : 0], k = a.shape().dims()[ta ? 0 : 1];
    const auto k2 = b.shape().dims()[tb ? 1 : 0], n = b.shape().dims()[tb ? 0 : 1];
    if (k != k2)
      throw InvalidArgumentError(
          str_cat(c.node_name, ": Matrix size-incompatible: In[0]: ", a.shape().to_string(),
                  ", In[1]: ", b.shape().to_string()));
    Tensor& out = c.allocate_output(0, DType::kFloat32, Shape{m, n});
    if (k == 0) {
      std::fill(out.data<float>(), out.data<float>() + out.num_elements(), 0.0f);
      return;
    }
    matmul_forward_openblas(a.data<float>(), b.data<float>(), out.data<float>(), m, n, k, ta, tb);
  });
}

}  // namespace scopeflow::kernels
