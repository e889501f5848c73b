// BiasAdd / BiasAddGrad on the CPU. See bias_add.h.
#include "kernels/bias_add/bias_add.h"

#include <vector>

#include "kernels/relu/relu.h"

namespace scopeflow::kernels {

void bias_add_forward_ref(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) y[r * channels + c] = x[r * channels + c] + b[c];
}

void bias_add_backward_ref(const float* dy, float* db, std::int64_t rows, std::int64_t channels) {
  // Accumulate in double so the result does not depend on summation order (test oracle).
  std::vector<double> acc(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c)
      acc[static_cast<std::size_t>(c)] += dy[r * channels + c];
  for (std::int64_t c = 0; c < channels; ++c)
    db[c] = static_cast<float>(acc[static_cast<std::size_t>(c)]);
}

void bias_add_relu_forward_ref(const float* x, const float* b, float* y, std::int64_t rows,
                               std::int64_t channels) {
  bias_add_forward_ref(x, b, y, rows, channels);
  relu_forward_ref(y, y, rows * channels);
}

void register_bias_add_cpu_kernels(KernelRegistry& r) {
  r.add({"_FusedBiasAddRelu", devices::DeviceType::kCPU, DType::kFloat32, "ref"},
        [](KernelContext& c) {
          const Tensor& x = c.inputs.at(0);
          const Tensor& b = c.inputs.at(1);
          const std::int64_t ch = b.num_elements();
          if (x.shape().rank() < 1 || x.shape().dims().back() != ch)
            throw InvalidArgumentError(
                str_cat(c.node_name,
                        ": Must provide as many biases as the last dimension of the input tensor: ",
                        b.shape().to_string(), " vs. ", x.shape().to_string()));
          Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
          bias_add_relu_forward_ref(x.data<float>(), b.data<float>(), y.data<float>(),
                                    ch ? x.num_elements() / ch : 0, ch);
        });
  r.add({"BiasAdd", devices::DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const Tensor& b = c.inputs.at(1);
    const std::int64_t ch = b.num_elements();
    if (x.shape().rank() < 1 || x.shape().dims().back() != ch)
      throw InvalidArgumentError(str_cat(
          c.node_name, ": Must provide as many biases as the last dimension of the input tensor: ",
          b.shape().to_string(), " vs. ", x.shape().to_string()));
    Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
    bias_add_forward_ref(x.data<float>(), b.data<float>(), y.data<float>(),
                         ch ? x.num_elements() / ch : 0, ch);
  });
  r.add({"BiasAddGrad", devices::DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    const Tensor& dy = c.inputs.at(0);
    const std::int64_t ch = dy.shape().dims().back();
    Tensor& db = c.allocate_output(0, DType::kFloat32, Shape{ch});
    bias_add_backward_ref(dy.data<float>(), db.data<float>(), ch ? dy.num_elements() / ch : 0, ch);
  });
}

}  // namespace scopeflow::kernels
