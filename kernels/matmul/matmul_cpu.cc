// MatMul on the CPU. See matmul.h.
#include "kernels/matmul/matmul.h"

#include <algorithm>

namespace scopeflow::kernels {

void matmul_forward_ref(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n,
                        std::int64_t k, bool transpose_a, bool transpose_b) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const float av = transpose_a ? a[p * m + i] : a[i * k + p];
        const float bv = transpose_b ? b[j * k + p] : b[p * n + j];
        s += double(av) * bv;
      }
      c[i * n + j] = static_cast<float>(s);
    }
}

void register_matmul_cpu_family(KernelRegistry& r, const std::string& label, MatMulFn fn) {
  r.add({"MatMul", devices::DeviceType::kCPU, DType::kFloat32, label}, [fn](KernelContext& c) {
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
    fn(a.data<float>(), b.data<float>(), out.data<float>(), m, n, k, ta, tb);
  });
}

void register_matmul_cpu_kernels(KernelRegistry& r) {
  register_matmul_cpu_family(r, "ref", matmul_forward_ref);
}

}  // namespace scopeflow::kernels
