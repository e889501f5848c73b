// TF1's learning-rate schedules (tf.train.exponential_decay, ...): graph ops computing a
// float32 learning rate from the global step, to pass to an optimizer (Hyperparameter) and read
// per step. Names, formulas and errors as TensorFlow 2.21's tf.compat.v1.train functions
// (LearningRateSchedule.__call__ under the schedule's name scope, e.g. "ExponentialDecay").
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "scope/train/optimizer.h"

namespace scopeflow::train {

// decay_steps as TF takes it: an integer (a Const of int32, or int64 beyond, cast to the rate's
// dtype, as Python's int) or a float (a float32 Const, used as is: 390.625 * 2.5 stays
// fractional). Must be finite and > 0.
class DecaySteps {
 public:
  template <std::integral I>
  DecaySteps(I steps)  // NOLINT(google-explicit-constructor)
      : value_(static_cast<double>(steps)),
        integral_(std::in_range<std::int64_t>(steps)),
        integer_(integral_ ? static_cast<std::int64_t>(steps) : 0) {}
  DecaySteps(double steps) : value_(steps) {}  // NOLINT(google-explicit-constructor)
  double value() const { return value_; }
  bool integral() const { return integral_; }
  std::int64_t integer() const { return integer_; }

 private:
  double value_;
  bool integral_ = false;
  std::int64_t integer_ = 0;
};

// learning_rate * decay_rate ^ (global_step / decay_steps), the exponent floored when
// `staircase`. global_step: any numeric scalar (cast to the rate's dtype).
Output exponential_decay(const Hyperparameter& learning_rate, const Output& global_step,
                         const DecaySteps& decay_steps, const Hyperparameter& decay_rate,
                         bool staircase = false, std::string_view name = "");

// (learning_rate - end) * (1 - step / decay_steps) ^ power + end, with step capped at
// decay_steps; with `cycle`, decay_steps grows to the next multiple of itself past the step.
Output polynomial_decay(const Hyperparameter& learning_rate, const Output& global_step,
                        const DecaySteps& decay_steps, double end_learning_rate = 0.0001,
                        double power = 1.0, bool cycle = false, std::string_view name = "");

// learning_rate / (1 + decay_rate * global_step / decay_steps) (the ratio floored when
// `staircase`).
Output inverse_time_decay(const Hyperparameter& learning_rate, const Output& global_step,
                          const DecaySteps& decay_steps, double decay_rate, bool staircase = false,
                          std::string_view name = "");

// learning_rate * exp(-decay_rate * global_step / decay_steps): as TF 2.21, exponential_decay
// with the rate exp(-decay_rate) (ops "Neg", "Exp" beside the "ExponentialDecay" scope).
Output natural_exp_decay(const Hyperparameter& learning_rate, const Output& global_step,
                         const DecaySteps& decay_steps, double decay_rate, bool staircase = false,
                         std::string_view name = "");

// learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
// + alpha).
Output cosine_decay(const Hyperparameter& learning_rate, const Output& global_step,
                    const DecaySteps& decay_steps, double alpha = 0.0, std::string_view name = "");

// values[0] while x <= boundaries[0], values[i] while boundaries[i-1] < x <= boundaries[i],
// values.back() after the last boundary. x: a scalar (int32/int64/float32/float64); the
// boundaries take x's dtype (an integer x needs integral boundaries) and must not decrease;
// values.size() == boundaries.size() + 1. NOTE: built from LessEqual and Select ops under
// "PiecewiseConstant" (TF builds a control_flow_ops.case); the same value for every x.
Output piecewise_constant(const Output& x, const std::vector<double>& boundaries,
                          const std::vector<double>& values, std::string_view name = "");

}  // namespace scopeflow::train
