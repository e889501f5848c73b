// Softmax / LogSoftmax on the CPU: reference loops and registration. See softmax.h.
#include "kernels/softmax/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace scopeflow::kernels {
namespace {

// The row maximum; NaN when the row holds a NaN (so the row's outputs become NaN).
double row_max(const float* x, std::int64_t depth) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < depth; ++c) {
    if (std::isnan(x[c])) return std::numeric_limits<double>::quiet_NaN();
    m = std::max<double>(m, x[c]);
  }
  return m;
}

template <bool kLog>
void softmax_rows(const float* x, float* y, std::int64_t rows, std::int64_t depth) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * depth;
    float* out = y + r * depth;
    const double m = row_max(in, depth);
    double sum = 0;
    for (std::int64_t c = 0; c < depth; ++c) sum += std::exp(double(in[c]) - m);
    if constexpr (kLog) {
      const double log_sum = std::log(sum);
      for (std::int64_t c = 0; c < depth; ++c)
        out[c] = static_cast<float>(double(in[c]) - m - log_sum);
    } else {
      for (std::int64_t c = 0; c < depth; ++c)
        out[c] = static_cast<float>(std::exp(double(in[c]) - m) / sum);
    }
  }
}

template <bool kLog>
void softmax_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  if (x.shape().rank() < 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": logits must have >= 1 dimension, got ", x.shape().to_string()));
  const std::int64_t depth = x.shape().dims().back();
  Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
  softmax_rows<kLog>(x.data<float>(), y.data<float>(), depth ? x.num_elements() / depth : 0, depth);
}

}  // namespace

void softmax_forward_ref(const float* x, float* y, std::int64_t rows, std::int64_t depth) {
  softmax_rows<false>(x, y, rows, depth);
}
void log_softmax_forward_ref(const float* x, float* y, std::int64_t rows, std::int64_t depth) {
  softmax_rows<true>(x, y, rows, depth);
}

void register_softmax_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Softmax", DeviceType::kCPU, DType::kFloat32, "ref"}, softmax_kernel<false>);
  r.add({"LogSoftmax", DeviceType::kCPU, DType::kFloat32, "ref"}, softmax_kernel<true>);
}

}  // namespace scopeflow::kernels
