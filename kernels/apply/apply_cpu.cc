// Optimizer updates on the CPU. See apply.h; formulas from TF's training_ops.cc.
#include "kernels/apply/apply.h"

#include <cmath>
#include <string>

#include "kernels/common/parallel_for.h"

namespace scopeflow::kernels {

void apply_gradient_descent_ref(float* var, float alpha, const float* delta, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) var[i] -= alpha * delta[i];
}

void apply_momentum_ref(float* var, float* accum, float lr, const float* grad, float momentum,
                        bool nesterov, std::int64_t n) {
  if (nesterov) {
    for (std::int64_t i = 0; i < n; ++i) {
      accum[i] = accum[i] * momentum + grad[i];
      var[i] -= grad[i] * lr + accum[i] * momentum * lr;
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) {
      accum[i] = accum[i] * momentum + grad[i];
      var[i] -= lr * accum[i];
    }
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

namespace {
// The update over [0, n): in one call ("ref") or in parallel_for chunks ("cpu"). Every element
// is updated by the same arithmetic either way, so the two labels agree bit for bit.
template <class F>
void over_elements(bool parallel, std::int64_t n, F fn) {
  if (parallel)
    parallel_for(n, kElementwiseGrain, fn);
  else
    fn(std::int64_t{0}, n);
}

void register_apply_family(KernelRegistry& r, const std::string& label, bool parallel) {
  using devices::DeviceType;
  r.add({"ApplyGradientDescent", DeviceType::kCPU, DType::kFloat32, label},
        [parallel](KernelContext& c) {
          Tensor var = c.inputs.at(0);
          check_same(c, var, c.inputs.at(2), "delta");
          float* w = var.data<float>();
          const float alpha = scalar_of(c, 1);
          const float* delta = c.inputs[2].data<float>();
          over_elements(parallel, var.num_elements(), [&](std::int64_t lo, std::int64_t hi) {
            apply_gradient_descent_ref(w + lo, alpha, delta + lo, hi - lo);
          });
          c.outputs = {var};
        });
  r.add({"ApplyMomentum", DeviceType::kCPU, DType::kFloat32, label}, [parallel](KernelContext& c) {
    Tensor var = c.inputs.at(0), accum = c.inputs.at(1);
    check_same(c, var, accum, "accum");
    check_same(c, var, c.inputs.at(3), "grad");
    float* w = var.data<float>();
    float* a = accum.data<float>();
    const float lr = scalar_of(c, 2), momentum = scalar_of(c, 4);
    const float* g = c.inputs[3].data<float>();
    const bool nesterov = c.attr().get_or<bool>("use_nesterov", false);
    over_elements(parallel, var.num_elements(), [&](std::int64_t lo, std::int64_t hi) {
      apply_momentum_ref(w + lo, a + lo, lr, g + lo, momentum, nesterov, hi - lo);
    });
    c.outputs = {var};
  });
  r.add({"ApplyAdam", DeviceType::kCPU, DType::kFloat32, label}, [parallel](KernelContext& c) {
    Tensor var = c.inputs.at(0), m = c.inputs.at(1), v = c.inputs.at(2);
    check_same(c, var, m, "m");
    check_same(c, var, v, "v");
    check_same(c, var, c.inputs.at(9), "grad");
    float *w = var.data<float>(), *mp = m.data<float>(), *vp = v.data<float>();
    const float b1p = scalar_of(c, 3), b2p = scalar_of(c, 4), lr = scalar_of(c, 5),
                b1 = scalar_of(c, 6), b2 = scalar_of(c, 7), eps = scalar_of(c, 8);
    const float* g = c.inputs[9].data<float>();
    over_elements(parallel, var.num_elements(), [&](std::int64_t lo, std::int64_t hi) {
      apply_adam_ref(w + lo, mp + lo, vp + lo, b1p, b2p, lr, b1, b2, eps, g + lo, hi - lo);
    });
    c.outputs = {var};
  });
}
}  // namespace

// "ref": one loop, the test oracle; "cpu": the same loop over parallel_for chunks.
void register_apply_cpu_kernels(KernelRegistry& r) {
  register_apply_family(r, "ref", false);
  register_apply_family(r, "cpu", true);
}

}  // namespace scopeflow::kernels
