// MatMul on the CPU. See matmul.h.
#include "kernels/matmul/matmul.h"

#include <algorithm>
#include <vector>

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

MatMulDims matmul_dims(const KernelContext& c) {
  const Tensor& a = c.inputs.at(0);
  const Tensor& b = c.inputs.at(1);
  MatMulDims d;
  d.transpose_a = c.attr().get_or<bool>("transpose_a", false);
  d.transpose_b = c.attr().get_or<bool>("transpose_b", false);
  if (a.shape().rank() != 2 || b.shape().rank() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": MatMul needs 2-D inputs, got ",
                                       a.shape().to_string(), " and ", b.shape().to_string()));
  const bool ta = d.transpose_a, tb = d.transpose_b;
  d.m = a.shape().dims()[ta ? 1 : 0];
  d.k = a.shape().dims()[ta ? 0 : 1];
  const auto k2 = b.shape().dims()[tb ? 1 : 0];
  d.n = b.shape().dims()[tb ? 0 : 1];
  if (d.k != k2)
    throw InvalidArgumentError(str_cat(c.node_name, ": Matrix size-incompatible: In[0]: ",
                                       a.shape().to_string(), ", In[1]: ", b.shape().to_string()));
  return d;
}

void register_matmul_cpu_family(KernelRegistry& r, const std::string& label, MatMulFn fn) {
  r.add({"MatMul", devices::DeviceType::kCPU, DType::kFloat32, label}, [fn](KernelContext& c) {
    const MatMulDims d = matmul_dims(c);
    Tensor& out = c.allocate_output(0, DType::kFloat32, Shape{d.m, d.n});
    if (d.k == 0) {
      std::fill(out.data<float>(), out.data<float>() + out.num_elements(), 0.0f);
      return;
    }
    fn(c.inputs[0].data<float>(), c.inputs[1].data<float>(), out.data<float>(), d.m, d.n, d.k,
       d.transpose_a, d.transpose_b);
  });
}

namespace {
// float16 / bfloat16: the float reference on the widened values (double accumulation), each
// result rounded once to T.
template <class T>
void matmul_16bit_ref_kernel(KernelContext& c) {
  const MatMulDims d = matmul_dims(c);
  auto widen = [](const Tensor& t) {
    std::vector<float> v(static_cast<std::size_t>(t.num_elements()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(t.data<T>()[i]);
    return v;
  };
  const std::vector<float> a = widen(c.inputs[0]), b = widen(c.inputs[1]);
  std::vector<float> y(static_cast<std::size_t>(d.m * d.n), 0.0f);
  if (d.k > 0)
    matmul_forward_ref(a.data(), b.data(), y.data(), d.m, d.n, d.k, d.transpose_a, d.transpose_b);
  Tensor& out = c.allocate_output(0, dtype_of<T>, Shape{d.m, d.n});
  for (std::size_t i = 0; i < y.size(); ++i) out.data<T>()[i] = T(y[i]);
}
}  // namespace

void register_matmul_cpu_kernels(KernelRegistry& r) {
  register_matmul_cpu_family(r, "ref", matmul_forward_ref);
  r.add({"MatMul", devices::DeviceType::kCPU, DType::kFloat16, "ref"},
        matmul_16bit_ref_kernel<half>);
  r.add({"MatMul", devices::DeviceType::kCPU, DType::kBFloat16, "ref"},
        matmul_16bit_ref_kernel<bfloat16_t>);
}

}  // namespace scopeflow::kernels
