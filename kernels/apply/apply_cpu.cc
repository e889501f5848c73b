// Optimizer updates on the CPU. See apply.h; formulas from TF's training_ops.cc.
#include "kernels/apply/apply.h"

#include <cmath>

namespace scopeflow::kernels {

void apply_gradient_descent_ref(float* var, float alpha, const float* delta, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) var[i] -= alpha * delta[i];
}

void apply_momentum_ref(float* var, float* accum, float lr, const float* grad, float momentum,
                        bool nesterov, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    accum[i] = accum[i] * momentum + grad[i];
    var[i] -= nesterov ? grad[i] * lr + accum[i] * momentum * lr : lr * accum[i];
  }
}

void apply_adam_ref(float* var, float* m, float* v, float beta1_power, float beta2_power, float lr,
                    float beta1, float beta2, float epsilon, const float* grad, std::int64_t n) {
  const float alpha = lr * std::sqrt(1.0f - beta2_power) / (1.0f - beta1_power);
  for (std::int64_t i = 0; i < n; ++i) {
    m[i] += (grad[i] - m[i]) * (1.0f - beta1);
    v[i] += (grad[i] * grad[i] - v[i]) * (1.0f - beta2);
    var[i] -= alpha * m[i] / (std::sqrt(v[i]) + epsilon);
  }
}

namespace {
void check_same(const KernelContext& c, const Tensor& a, const Tensor& b, const char* what) {
  if (!(a.shape() == b.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": ", what, " shape ", b.shape().to_string(),
                                       " does not match var shape ", a.shape().to_string()));
}
float scalar_of(const KernelContext& c, std::size_t i) {
  const Tensor& t = c.inputs.at(i);
  if (t.num_elements() != 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": input ", i, " must be a scalar, got ", t.shape().to_string()));
  return t.scalar<float>();
}
}  // namespace

void register_apply_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"ApplyGradientDescent", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    Tensor var = c.inputs.at(0);
    check_same(c, var, c.inputs.at(2), "delta");
    apply_gradient_descent_ref(var.data<float>(), scalar_of(c, 1), c.inputs[2].data<float>(),
                               var.num_elements());
    c.outputs = {var};
  });
  r.add({"ApplyMomentum", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    Tensor var = c.inputs.at(0), accum = c.inputs.at(1);
    check_same(c, var, accum, "accum");
    check_same(c, var, c.inputs.at(3), "grad");
    apply_momentum_ref(var.data<float>(), accum.data<float>(), scalar_of(c, 2),
                       c.inputs[3].data<float>(), scalar_of(c, 4),
                       c.attr().get_or<bool>("use_nesterov", false), var.num_elements());
    c.outputs = {var};
  });
  r.add({"ApplyAdam", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    Tensor var = c.inputs.at(0), m = c.inputs.at(1), v = c.inputs.at(2);
    check_same(c, var, m, "m");
    check_same(c, var, v, "v");
    check_same(c, var, c.inputs.at(9), "grad");
    apply_adam_ref(var.data<float>(), m.data<float>(), v.data<float>(), scalar_of(c, 3),
                   scalar_of(c, 4), scalar_of(c, 5), scalar_of(c, 6), scalar_of(c, 7),
                   scalar_of(c, 8), c.inputs[9].data<float>(), var.num_elements());
    c.outputs = {var};
  });
}

}  // namespace scopeflow::kernels
