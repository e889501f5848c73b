// SparseSoftmaxCrossEntropyWithLogits on the CPU. See softmax_xent.h.
#include "kernels/softmax_xent/softmax_xent.h"

#include <cmath>
#include <vector>

namespace scopeflow::kernels {

std::string xent_no_class_error(const std::string& what, const Shape& logits) {
  return str_cat(what, ": Must have at least one class, but got logits shape ", logits.to_string());
}

std::string xent_label_error(const std::string& what, std::int64_t label, std::int64_t classes) {
  return str_cat(what, ": Received a label value of ", label,
                 " which is outside the valid range of [0, ", classes, ").  Label values: ", label);
}

namespace {
// A row's maximum (*m) and log(sum(exp(row - m))), in double.
double row_log_sum_exp(const float* row, std::int64_t classes, double* m) {
  *m = row[0];
  for (std::int64_t c = 1; c < classes; ++c) *m = std::max<double>(*m, row[c]);
  double sum = 0;
  for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(double(row[c]) - *m);
  return std::log(sum);
}
}  // namespace

void check_dense_xent_shapes(const Tensor& logits, const Tensor& labels, const std::string& node) {
  if (logits.shape().rank() != 2 || !(labels.shape() == logits.shape()) ||
      labels.dtype() != DType::kFloat32)
    throw InvalidArgumentError(str_cat(
        node, ": logits and labels must be same size: logits_size=", logits.shape().to_string(),
        " labels_size=", labels.shape().to_string()));
  if (logits.shape().dims()[0] > 0 && logits.shape().dims()[1] == 0)
    throw InvalidArgumentError(xent_no_class_error(node, logits.shape()));
}

void sparse_xent_forward_ref(const float* logits, const std::int64_t* labels, float* loss,
                             float* backprop, std::int64_t batch, std::int64_t classes,
                             const std::string& what) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t label = labels[b];
    if (label < 0 || label >= classes)
      throw InvalidArgumentError(xent_label_error(what, label, classes));
    const float* row = logits + b * classes;
    double m;
    const double log_sum = row_log_sum_exp(row, classes, &m);
    loss[b] = static_cast<float>(log_sum - (double(row[label]) - m));
    for (std::int64_t c = 0; c < classes; ++c)
      backprop[b * classes + c] =
          static_cast<float>(std::exp(double(row[c]) - m - log_sum) - (c == label ? 1.0 : 0.0));
  }
}

void dense_xent_forward_ref(const float* logits, const float* labels, float* loss, float* backprop,
                            std::int64_t batch, std::int64_t classes) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* row = logits + b * classes;
    const float* lab = labels + b * classes;
    double m;
    const double log_sum = row_log_sum_exp(row, classes, &m);
    double l = 0;
    for (std::int64_t c = 0; c < classes; ++c)
      l += double(lab[c]) * (log_sum - (double(row[c]) - m));
    loss[b] = static_cast<float>(l);
    for (std::int64_t c = 0; c < classes; ++c)
      backprop[b * classes + c] =
          static_cast<float>(std::exp(double(row[c]) - m - log_sum) - double(lab[c]));
  }
}

void register_softmax_xent_cpu_kernels(KernelRegistry& r) {
  r.add({"SoftmaxCrossEntropyWithLogits", devices::DeviceType::kCPU, DType::kFloat32, "ref"},
        [](KernelContext& c) {
          const Tensor& logits = c.inputs.at(0);
          const Tensor& labels = c.inputs.at(1);
          check_dense_xent_shapes(logits, labels, c.node_name);
          const auto batch = logits.shape().dims()[0], classes = logits.shape().dims()[1];
          c.outputs.resize(2);  // allocate_output must not resize under the references below
          Tensor& loss = c.allocate_output(0, DType::kFloat32, Shape{batch});
          Tensor& back = c.allocate_output(1, DType::kFloat32, logits.shape());
          dense_xent_forward_ref(logits.data<float>(), labels.data<float>(), loss.data<float>(),
                                 back.data<float>(), batch, classes);
        });
  r.add({"SparseSoftmaxCrossEntropyWithLogits", devices::DeviceType::kCPU, DType::kFloat32, "ref"},
        [](KernelContext& c) {
          const Tensor& logits = c.inputs.at(0);
          const Tensor& labels = c.inputs.at(1);
          if (logits.shape().rank() != 2 || labels.shape().rank() != 1 ||
              labels.shape().dims()[0] != logits.shape().dims()[0])
            throw InvalidArgumentError(
                str_cat(c.node_name, ": logits must be [batch, classes] and labels [batch], got ",
                        logits.shape().to_string(), " and ", labels.shape().to_string()));
          if (logits.shape().dims()[0] > 0 && logits.shape().dims()[1] == 0)
            throw InvalidArgumentError(xent_no_class_error(c.node_name, logits.shape()));
          std::vector<std::int64_t> l;
          if (labels.dtype() == DType::kInt32) {
            for (auto v : labels.to_vector<std::int32_t>()) l.push_back(v);
          } else {
            l = labels.to_vector<std::int64_t>();
          }
          const auto batch = logits.shape().dims()[0], classes = logits.shape().dims()[1];
          c.outputs.resize(2);  // allocate_output must not resize under the references below
          Tensor& loss = c.allocate_output(0, DType::kFloat32, Shape{batch});
          Tensor& back = c.allocate_output(1, DType::kFloat32, logits.shape());
          sparse_xent_forward_ref(logits.data<float>(), l.data(), loss.data<float>(),
                                  back.data<float>(), batch, classes, c.node_name);
        });
}

}  // namespace scopeflow::kernels
