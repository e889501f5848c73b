// BiasAdd / BiasAddGrad on the CPU: reference and multi-threaded loops. See bias_add.h.
#include "kernels/bias_add/bias_add.h"

#include <algorithm>
#include <vector>

#include "kernels/common/parallel_for.h"
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

void bias_add_forward_cpu(const float* x, const float* b, float* y, std::int64_t rows,
                          std::int64_t channels) {
  if (channels == 0) return;
  parallel_for(rows, std::max<std::int64_t>(1, kElementwiseGrain / channels),
               [&](std::int64_t lo, std::int64_t hi) {
                 bias_add_forward_ref(x + lo * channels, b, y + lo * channels, hi - lo, channels);
               });
}

void bias_add_backward_cpu(const float* dy, float* db, std::int64_t rows, std::int64_t channels) {
  if (channels == 0) return;
  // Blocks of rows fixed by the sizes alone (not the thread count), so the result is the same
  // whatever the pool size; each block's partial sums are written by one thread only.
  const std::int64_t block = std::max<std::int64_t>(1, kElementwiseGrain / channels);
  const std::int64_t blocks = (rows + block - 1) / block;
  std::vector<double> partial(static_cast<std::size_t>(blocks * channels), 0.0);
  parallel_for(blocks, 1, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t k = lo; k < hi; ++k) {
      double* acc = partial.data() + k * channels;
      for (std::int64_t r = k * block; r < std::min(rows, (k + 1) * block); ++r)
        for (std::int64_t c = 0; c < channels; ++c) acc[c] += dy[r * channels + c];
    }
  });
  for (std::int64_t c = 0; c < channels; ++c) {
    double s = 0;
    for (std::int64_t k = 0; k < blocks; ++k)
      s += partial[static_cast<std::size_t>(k * channels + c)];
    db[c] = static_cast<float>(s);
  }
}

namespace {
using ForwardFn = void (*)(const float*, const float*, float*, std::int64_t, std::int64_t);
using BackwardFn = void (*)(const float*, float*, std::int64_t, std::int64_t);

void register_bias_add_family(KernelRegistry& r, const std::string& label, ForwardFn forward,
                              BackwardFn backward) {
  r.add({"BiasAdd", devices::DeviceType::kCPU, DType::kFloat32, label}, [forward](
                                                                            KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const Tensor& b = c.inputs.at(1);
    const std::int64_t ch = b.num_elements();
    if (b.shape().rank() != 1)
      throw InvalidArgumentError(
          str_cat(c.node_name, ": Biases must be 1D: ", b.shape().to_string()));
    if (x.shape().rank() < 1 || x.shape().dims().back() != ch)
      throw InvalidArgumentError(str_cat(
          c.node_name, ": Must provide as many biases as the last dimension of the input tensor: ",
          b.shape().to_string(), " vs. ", x.shape().to_string()));
    Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
    forward(x.data<float>(), b.data<float>(), y.data<float>(), ch ? x.num_elements() / ch : 0, ch);
  });
  r.add({"BiasAddGrad", devices::DeviceType::kCPU, DType::kFloat32, label}, [backward](
                                                                                KernelContext& c) {
    const Tensor& dy = c.inputs.at(0);
    if (dy.shape().rank() < 1)
      throw InvalidArgumentError(str_cat(
          c.node_name, ": BiasAddGrad needs at least 1-D input, got ", dy.shape().to_string()));
    const std::int64_t ch = dy.shape().dims().back();
    Tensor& db = c.allocate_output(0, DType::kFloat32, Shape{ch});
    backward(dy.data<float>(), db.data<float>(), ch ? dy.num_elements() / ch : 0, ch);
  });
}
}  // namespace

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
          if (b.shape().rank() != 1)
            throw InvalidArgumentError(
                str_cat(c.node_name, ": Biases must be 1D: ", b.shape().to_string()));
          if (x.shape().rank() < 1 || x.shape().dims().back() != ch)
            throw InvalidArgumentError(
                str_cat(c.node_name,
                        ": Must provide as many biases as the last dimension of the input tensor: ",
                        b.shape().to_string(), " vs. ", x.shape().to_string()));
          Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
          bias_add_relu_forward_ref(x.data<float>(), b.data<float>(), y.data<float>(),
                                    ch ? x.num_elements() / ch : 0, ch);
        });
  register_bias_add_family(r, "ref", bias_add_forward_ref, bias_add_backward_ref);
  register_bias_add_family(r, "cpu", bias_add_forward_cpu, bias_add_backward_cpu);
}

}  // namespace scopeflow::kernels
