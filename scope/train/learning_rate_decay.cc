// Learning-rate schedules. See learning_rate_decay.h; each follows TF 2.21's
// learning_rate_schedule.py __call__ (ops, order and names), which tf.compat.v1.train's
// functions call with the global step.
#include "scope/train/learning_rate_decay.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "devices/base/errors.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"

namespace scopeflow::train {
namespace {

// TF's math_ops.cast(<Python number>, dtype): a Const "Cast/x" (float32 for a float, int32 or
// int64 for an integer) and, when dtype differs, the Cast op named by the scope.
Output cast_number(const Tensor& number, DType dtype) {
  name_scope scope("", "Cast");
  Output x = constant(number, "x");
  if (x.dtype() == dtype) return x;
  AttrMap attrs;
  attrs.set("SrcT", x.dtype());
  attrs.set("DstT", dtype);
  attrs.set("Truncate", false);
  return get_default_graph().create_op("Cast", {x}, std::move(attrs), scope.name()).output(0);
}

Tensor integer_number(std::int64_t v) {
  if (v >= std::numeric_limits<std::int32_t>::min() &&
      v <= std::numeric_limits<std::int32_t>::max())
    return Tensor::from_scalar(static_cast<std::int32_t>(v));
  return Tensor::from_scalar(v);
}

Tensor float_number(double v) { return Tensor::from_scalar(static_cast<float>(v)); }

// A number or a tensor hyperparameter as `dtype` (TF: math_ops.cast(value, dtype)).
Output cast_hyper(const Hyperparameter& h, DType dtype) {
  return h.is_tensor() ? cast(h.tensor(), dtype) : cast_number(float_number(h.value()), dtype);
}

void check_step(const Output& global_step, const char* schedule) {
  if (!global_step.valid())
    throw ValueError(str_cat("global_step is required for ", schedule, "."));
  const DType d = global_step.dtype();
  if (d == DType::kBool || d == DType::kString)
    throw ValueError(str_cat(schedule, ": global_step ", global_step.name(),
                             " must be a number, not ", dtype_name(d)));
  const Shape& s = global_step.shape();
  if (s.has_rank() && s.rank() != 0)
    throw ValueError(str_cat(schedule, ": global_step ", global_step.name(),
                             " must be a scalar, got shape ", s.to_string()));
}

void check_decay_steps(const DecaySteps& decay_steps, const char* schedule) {
  if (!(std::isfinite(decay_steps.value()) && decay_steps.value() > 0))
    throw ValueError(
        str_cat(schedule, ": decay_steps must be finite and positive, got ", decay_steps.value()));
}

// TF's math_ops.cast(decay_steps, dtype) of a Python int or float.
Output steps_as(const DecaySteps& steps, DType dtype) {
  return cast_number(
      steps.integral() ? integer_number(steps.integer()) : float_number(steps.value()), dtype);
}

void check_finite(double v, const char* what, const char* schedule) {
  if (!std::isfinite(v))
    throw ValueError(str_cat(schedule, ": ", what, " must be finite, got ", v));
}

// convert_to_tensor(learning_rate, name="initial_learning_rate").
Output initial_rate(const Hyperparameter& lr, const char* schedule) {
  if (!lr.is_tensor()) check_finite(lr.value(), "learning_rate", schedule);
  return lr.to_tensor("initial_learning_rate");
}

}  // namespace

Output exponential_decay(const Hyperparameter& learning_rate, const Output& global_step,
                         const DecaySteps& decay_steps, const Hyperparameter& decay_rate,
                         bool staircase, std::string_view name) {
  check_step(global_step, "exponential_decay");
  check_decay_steps(decay_steps, "exponential_decay");
  if (!decay_rate.is_tensor()) check_finite(decay_rate.value(), "decay_rate", "exponential_decay");
  name_scope scope(name, "ExponentialDecay");
  Output lr = initial_rate(learning_rate, "exponential_decay");
  const DType dtype = lr.dtype();
  Output steps = steps_as(decay_steps, dtype);
  Output rate = cast_hyper(decay_rate, dtype);
  Output step = cast(global_step, dtype);
  Output p = divide(step, steps);
  if (staircase) p = floor(p);
  return multiply(lr, pow(rate, p), scope.name());
}

Output polynomial_decay(const Hyperparameter& learning_rate, const Output& global_step,
                        const DecaySteps& decay_steps, double end_learning_rate, double power,
                        bool cycle, std::string_view name) {
  check_step(global_step, "polynomial_decay");
  check_decay_steps(decay_steps, "polynomial_decay");
  check_finite(end_learning_rate, "end_learning_rate", "polynomial_decay");
  check_finite(power, "power", "polynomial_decay");
  name_scope scope(name, "PolynomialDecay");
  Output lr = initial_rate(learning_rate, "polynomial_decay");
  const DType dtype = lr.dtype();
  Output end = cast_number(float_number(end_learning_rate), dtype);
  Output pw = cast_number(float_number(power), dtype);
  Output step = cast(global_step, dtype);
  Output steps = steps_as(decay_steps, dtype);
  if (cycle) {
    // A zero step would give a zero multiplier (steps 0): TF takes 1 there.
    // TF: where(equal(step, 0), 1.0, ceil(step / decay_steps)), the numbers as step's dtype.
    Output zero_step = binary_operator("Equal", "Equal", step, 0.0);
    Output above = ceil(binary_operator("RealDiv", "truediv", step, decay_steps.value()));
    Output one = constant(1.0, dtype, Shape{}, "SelectV2/t");
    steps = multiply(steps, where(zero_step, one, above, "SelectV2"), "Mul");
  } else {
    step = minimum(step, steps);
  }
  Output p = divide(step, steps);
  Output range = lr - end;  // one statement each: TF's order of names (sub, sub_1)
  Output remaining = 1.0 - p;
  Output scaled = multiply(range, pow(remaining, pw), "Mul");
  return get_default_graph().create_op("AddV2", {scaled, end}, {}, scope.name()).output(0);
}

Output inverse_time_decay(const Hyperparameter& learning_rate, const Output& global_step,
                          const DecaySteps& decay_steps, double decay_rate, bool staircase,
                          std::string_view name) {
  check_step(global_step, "inverse_time_decay");
  check_decay_steps(decay_steps, "inverse_time_decay");
  check_finite(decay_rate, "decay_rate", "inverse_time_decay");
  name_scope scope(name, "InverseTimeDecay");
  Output lr = initial_rate(learning_rate, "inverse_time_decay");
  const DType dtype = lr.dtype();
  Output steps = steps_as(decay_steps, dtype);
  Output rate = cast_number(float_number(decay_rate), dtype);
  Output step = cast(global_step, dtype);
  Output p = divide(step, steps);
  if (staircase) p = floor(p);
  Output one = cast(constant(1, "Const"), dtype);
  Output denom =
      get_default_graph().create_op("AddV2", {one, multiply(rate, p, "Mul")}, {}, "Add").output(0);
  return divide(lr, denom, scope.name());
}

Output natural_exp_decay(const Hyperparameter& learning_rate, const Output& global_step,
                         const DecaySteps& decay_steps, double decay_rate, bool staircase,
                         std::string_view name) {
  check_finite(decay_rate, "decay_rate", "natural_exp_decay");
  check_step(global_step, "natural_exp_decay");
  check_decay_steps(decay_steps, "natural_exp_decay");
  // TF 2.21: natural_exp_rate = math_ops.exp(math_ops.negative(decay_rate)), then
  // ExponentialDecay with it.
  Output negated;
  {
    name_scope neg("", "Neg");
    Output x = constant(static_cast<float>(decay_rate), "x");
    negated = get_default_graph().create_op("Neg", {x}, {}, neg.name()).output(0);
  }
  Output rate = exp(negated);
  return exponential_decay(learning_rate, global_step, decay_steps, rate, staircase, name);
}

Output cosine_decay(const Hyperparameter& learning_rate, const Output& global_step,
                    const DecaySteps& decay_steps, double alpha, std::string_view name) {
  check_step(global_step, "cosine_decay");
  check_decay_steps(decay_steps, "cosine_decay");
  check_finite(alpha, "alpha", "cosine_decay");
  name_scope scope(name, "CosineDecay");
  Output lr = initial_rate(learning_rate, "cosine_decay");
  const DType dtype = lr.dtype();
  Output steps = steps_as(decay_steps, dtype);
  Output step = minimum(cast(global_step, dtype), steps);
  Output fraction = divide(step, steps);
  Output pi = constant(std::numbers::pi, dtype, Shape{}, "Const");
  Output cosine = 0.5 * (1.0 + cos(pi * fraction));
  Output decayed = (1.0 - alpha) * cosine + alpha;
  return multiply(lr, decayed, "Mul");
}

Output piecewise_constant(const Output& x, const std::vector<double>& boundaries,
                          const std::vector<double>& values, std::string_view name) {
  if (!x.valid()) throw ValueError("piecewise_constant: x is required");
  if (boundaries.size() + 1 != values.size())
    throw ValueError("The length of boundaries should be 1 less than the length of values");
  const DType d = x.dtype();
  if (d != DType::kInt32 && d != DType::kInt64 && d != DType::kFloat32 && d != DType::kFloat64)
    throw ValueError(str_cat("piecewise_constant: x ", x.name(),
                             " must be int32, int64, float32 or float64, not ", dtype_name(d)));
  if (x.shape().has_rank() && x.shape().rank() != 0)
    throw ValueError(str_cat("piecewise_constant: x ", x.name(), " must be a scalar, got shape ",
                             x.shape().to_string()));
  for (std::size_t i = 0; i < boundaries.size(); ++i) {
    const double b = boundaries[i];
    if (!std::isfinite(b)) throw ValueError(str_cat("piecewise_constant: boundary ", i, " is ", b));
    const bool fits = d == DType::kInt32 ? b >= -2147483648.0 && b <= 2147483647.0
                                         : b >= -9223372036854775808.0 && b < 9223372036854775808.0;
    if (!is_floating(d) && (b != std::floor(b) || !fits))
      throw ValueError(
          str_cat("Boundaries (", b, ") must have the same dtype as x (", dtype_name(d), ")."));
    if (i > 0 && b < boundaries[i - 1])
      throw ValueError(str_cat("piecewise_constant: boundaries must not decrease; boundary ", i,
                               " (", b, ") is below boundary ", i - 1, " (", boundaries[i - 1],
                               ")"));
  }
  for (double v : values)
    if (!std::isfinite(v))
      throw ValueError(str_cat("piecewise_constant: value ", v, " is not finite"));
  name_scope scope(name, "PiecewiseConstant");
  // From the first piece up: r = x > b_k ? v_{k+1} : r. An x no predicate takes (NaN) gives
  // values[0], as TF's case falls back to its first branch.
  Output r = constant(static_cast<float>(values.front()), "Const");
  for (std::size_t k = 0; k < boundaries.size(); ++k) {
    Output b = constant(boundaries[k], d, Shape{}, "Const");
    Output above = greater(x, b, "Greater");
    Output v = constant(static_cast<float>(values[k + 1]), "Const");
    r = k + 1 == boundaries.size() ? where(above, v, r, scope.name())
                                   : where(above, v, r, "Select");
  }
  return boundaries.empty() ? identity(r, scope.name()) : r;
}

}  // namespace scopeflow::train
