// Optimizer updates on the CPU. See apply.h; formulas from TF's training_ops.cc.
#include "kernels/apply/apply.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/array/concat.h"
#include "kernels/common/parallel_for.h"

namespace scopeflow::kernels {

const ApplySignature* apply_signature(const std::string& op) {
  // var, alpha, delta | var, accum, lr, grad, momentum | var, m, v, beta1_power, beta2_power, lr,
  // beta1, beta2, epsilon, grad
  static const ApplySignature gd{3, {0}, {0, 2}, {1}};
  static const ApplySignature momentum{5, {0, 1}, {0, 1, 3}, {2, 4}};
  static const ApplySignature adam{10, {0, 1, 2}, {0, 1, 2, 9}, {3, 4, 5, 6, 7, 8}};
  if (op == "ApplyGradientDescent") return &gd;
  if (op == "ApplyMomentum") return &momentum;
  if (op == "ApplyAdam") return &adam;
  return nullptr;
}

std::vector<KernelContext> split_group(const KernelContext& c, std::size_t arity) {
  if (arity == 0 || c.inputs.empty() || c.inputs.size() % arity != 0)
    throw InvalidArgumentError(str_cat(c.node_name, ": a grouped update takes ", arity,
                                       " inputs per variable, got ", c.inputs.size()));
  std::vector<KernelContext> members(c.inputs.size() / arity);
  for (std::size_t j = 0; j < members.size(); ++j) {
    KernelContext& m = members[j];
    m.device = c.device;
    m.device_ptr = c.device_ptr;
    m.stream = c.stream;
    m.attrs = c.attrs;
    m.capturing = c.capturing;
    m.node_name = c.node_name;
    m.inputs.assign(c.inputs.begin() + static_cast<std::ptrdiff_t>(j * arity),
                    c.inputs.begin() + static_cast<std::ptrdiff_t>((j + 1) * arity));
  }
  return members;
}

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

void apply_rms_prop_ref(float* var, float* ms, float* mom, float lr, float rho, float momentum,
                        float epsilon, const float* grad, std::int64_t n) {
  const float one_minus_rho = 1.0f - rho;
  for (std::int64_t i = 0; i < n; ++i) {
    ms[i] += (grad[i] * grad[i] - ms[i]) * one_minus_rho;
    mom[i] = mom[i] * momentum + grad[i] * lr / std::sqrt(ms[i] + epsilon);
    var[i] -= mom[i];
  }
}

void apply_centered_rms_prop_ref(float* var, float* mg, float* ms, float* mom, float lr, float rho,
                                 float momentum, float epsilon, const float* grad, std::int64_t n) {
  const float one_minus_rho = 1.0f - rho;
  for (std::int64_t i = 0; i < n; ++i) {
    ms[i] += (grad[i] * grad[i] - ms[i]) * one_minus_rho;
    mg[i] += (grad[i] - mg[i]) * one_minus_rho;
    const float denom = (ms[i] - mg[i] * mg[i]) + epsilon;
    mom[i] = mom[i] * momentum + grad[i] * lr / std::sqrt(denom);
    var[i] -= mom[i];
  }
}

void apply_adagrad_ref(float* var, float* accum, float lr, const float* grad, bool update_slots,
                       std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (update_slots) accum[i] += grad[i] * grad[i];
    var[i] -= grad[i] * lr * (1.0f / std::sqrt(accum[i]));
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
// Shapes and scalars of one update's inputs (TF's signatures), as the kernels check them.
void validate_apply_cpu(const KernelContext& c, std::size_t arity) {
  if (c.inputs.size() != arity)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": expects ", arity, " inputs, got ", c.inputs.size()));
  for (const Tensor& t : c.inputs)
    if (!t.initialized() || t.dtype() != DType::kFloat32 || !t.on_host())
      throw InvalidArgumentError(str_cat(c.node_name, ": inputs must be float32 host tensors"));
  const Tensor& var = c.inputs[0];
  auto same = [&](std::size_t i) { check_same(c, var, c.inputs[i], "input"); };
  auto scalar = [&](std::size_t i) { (void)scalar_of(c, i); };
  if (arity == 3) {  // ApplyGradientDescent: var, alpha, delta
    scalar(1), same(2);
  } else if (arity == 5) {  // ApplyMomentum: var, accum, lr, grad, momentum
    same(1), scalar(2), same(3), scalar(4);
  } else {  // ApplyAdam: var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad
    same(1), same(2), same(9);
    for (std::size_t i = 3; i <= 8; ++i) scalar(i);
  }
}

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
  // ApplyAdagrad (var, accum, lr, grad), attr update_slots (default true).
  r.add({"ApplyAdagrad", DeviceType::kCPU, DType::kFloat32, label}, [parallel](KernelContext& c) {
    Tensor var = c.inputs.at(0), accum = c.inputs.at(1);
    check_same(c, var, accum, "accum");
    check_same(c, var, c.inputs.at(3), "grad");
    float* w = var.data<float>();
    float* a = accum.data<float>();
    const float lr = scalar_of(c, 2);
    const float* g = c.inputs[3].data<float>();
    const bool update_slots = c.attr().get_or<bool>("update_slots", true);
    over_elements(parallel, var.num_elements(), [&](std::int64_t lo, std::int64_t hi) {
      apply_adagrad_ref(w + lo, a + lo, lr, g + lo, update_slots, hi - lo);
    });
    c.outputs = {var};
  });
  // ApplyRMSProp (var, ms, mom, lr, rho, momentum, epsilon, grad) and ApplyCenteredRMSProp
  // (var, mg, ms, mom, lr, rho, momentum, epsilon, grad).
  for (const bool centered : {false, true})
    r.add({centered ? "ApplyCenteredRMSProp" : "ApplyRMSProp", DeviceType::kCPU, DType::kFloat32,
           label},
          [parallel, centered](KernelContext& c) {
            const std::size_t o = centered ? 1 : 0;  // inputs after var shift by one with mg
            Tensor var = c.inputs.at(0);
            for (std::size_t i = 1; i <= 2 + o; ++i) check_same(c, var, c.inputs.at(i), "slot");
            check_same(c, var, c.inputs.at(7 + o), "grad");
            const float lr = scalar_of(c, 3 + o), rho = scalar_of(c, 4 + o),
                        momentum = scalar_of(c, 5 + o), eps = scalar_of(c, 6 + o);
            float* w = var.data<float>();
            float* mg = centered ? c.inputs[1].data<float>() : nullptr;
            float* ms = c.inputs[1 + o].data<float>();
            float* mom = c.inputs[2 + o].data<float>();
            const float* g = c.inputs[7 + o].data<float>();
            over_elements(parallel, var.num_elements(), [&](std::int64_t lo, std::int64_t hi) {
              if (centered)
                apply_centered_rms_prop_ref(w + lo, mg + lo, ms + lo, mom + lo, lr, rho, momentum,
                                            eps, g + lo, hi - lo);
              else
                apply_rms_prop_ref(w + lo, ms + lo, mom + lo, lr, rho, momentum, eps, g + lo,
                                   hi - lo);
            });
            c.outputs = {var};
          });
}
}  // namespace

namespace {
// _SparseApplyMomentumRows (apply.h): ApplyMomentum on each valid row `indices` names, once.
void sparse_apply_momentum_rows_cpu(KernelContext& c) {
  Tensor var = c.inputs.at(0), accum = c.inputs.at(1);
  check_same(c, var, accum, "accum");
  check_same(c, var, c.inputs.at(3), "grad");
  if (var.shape().rank() == 0)
    throw InvalidArgumentError(str_cat(c.node_name, ": var must have rows (rank >= 1)"));
  const float lr = scalar_of(c, 2), momentum = scalar_of(c, 5);
  const bool nesterov = c.attr().get_or<bool>("use_nesterov", false);
  const std::int64_t rows = var.shape().dims()[0];
  const std::int64_t width = rows > 0 ? var.num_elements() / rows : 0;
  float* w = var.data<float>();
  float* a = accum.data<float>();
  const float* g = c.inputs[3].data<float>();
  // NOTE: the distinct rows named, sorted (rows are independent, so the order changes no bit):
  // O(ids log ids) a step, where a flag per row of the table cost O(rows).
  std::vector<std::int64_t> ids = int_vector_input(c, 4);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (const std::int64_t r : ids)
    if (r >= 0 && r < rows)
      apply_momentum_ref(w + r * width, a + r * width, lr, g + r * width, momentum, nesterov,
                         width);
  c.outputs = {var};
}
}  // namespace

// "ref": one loop, the test oracle; "cpu": the same loop over parallel_for chunks; "group":
// several updates at once (apply.h), each as "cpu" computes it, after all are validated.
void register_apply_cpu_kernels(KernelRegistry& r) {
  register_apply_family(r, "ref", false);
  register_apply_family(r, "cpu", true);
  r.add({"_SparseApplyMomentumRows", devices::DeviceType::kCPU, DType::kFloat32, "ref"},
        sparse_apply_momentum_rows_cpu);
  for (const char* op : {"ApplyGradientDescent", "ApplyMomentum", "ApplyAdam"}) {
    const KernelFn single = r.find(op, devices::DeviceType::kCPU, DType::kFloat32, "cpu");
    r.add({op, devices::DeviceType::kCPU, DType::kFloat32, "group"},
          [single, arity = apply_signature(op)->arity](KernelContext& c) {
            std::vector<KernelContext> members = split_group(c, arity);
            // Validation first (shapes, scalars), so that a bad member updates nothing: the
            // session then runs the members one by one for the error naming the bad one.
            for (const auto& m : members) validate_apply_cpu(m, arity);
            c.outputs.clear();
            for (auto& m : members) {
              single(m);
              c.outputs.push_back(m.outputs.at(0));
              for (auto& check : m.deferred_checks) c.deferred_checks.push_back(std::move(check));
            }
          });
  }
}

}  // namespace scopeflow::kernels
