// TF1's tf.train.ExponentialMovingAverage: shadow variables "<var>/ExponentialMovingAverage"
// that apply() moves towards their variables (or tensors, such as a loss) by
//   shadow -= (1 - decay) * (shadow - value),
// decay = min(decay, (1 + num_updates) / (10 + num_updates)) when num_updates is given (TF's
// warm-up), and variables_to_restore() for evaluating with the averages (the Saver's var_dict).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scope/variable.h"

namespace scopeflow::train {

// What apply() averages: a float variable (its shadow starts at the variable's value when that
// is initialized, else at its initial value, as TF's; on the variable's device. NOTE: as in TF,
// a run that re-initializes an initialized variable and its shadow together reads the variable
// while its initializer may be writing it) or a float tensor
// of fully defined shape (its shadow starts at zeros).
class MovingAverageTarget {
 public:
  MovingAverageTarget(const Variable& v) : variable_(v) {}  // NOLINT(google-explicit-constructor)
  MovingAverageTarget(Output t) : tensor_(std::move(t)) {}  // NOLINT(google-explicit-constructor)
  bool is_variable() const { return variable_.valid(); }
  const Variable& variable() const { return variable_; }
  // The averaged value: the variable's (v/read) or the tensor.
  Output value() const { return is_variable() ? variable_.value() : tensor_; }
  // The key the averages are kept under: the variable op's or the tensor's name.
  std::string key() const;

 private:
  Variable variable_;
  Output tensor_;
};

class ExponentialMovingAverage {
 public:
  // decay in [0, 1]; num_updates: a numeric scalar (usually the global step).
  explicit ExponentialMovingAverage(double decay, std::optional<Output> num_updates = {},
                                    std::string name = "ExponentialMovingAverage");

  // Creates the shadows not made yet (under the current variable scope, on each variable's
  // device; at the root of control dependencies) and returns the op that updates all of
  // var_list's (default: the trainable variables) under the name scope `name()`. TypeError for
  // a non-float target, ValueError for a tensor of unknown shape or a partitioned variable
  // (pass its partitions()).
  Operation apply(const std::vector<MovingAverageTarget>& var_list);
  Operation apply();

  // The shadow of a target apply() has seen; ValueError otherwise (TF returns None).
  Variable average(const MovingAverageTarget& target) const;
  // The shadow's name without ":0" ("conv1/w/ExponentialMovingAverage"), or the name one would
  // get when apply() has not seen the target.
  std::string average_name(const MovingAverageTarget& target) const;
  // Checkpoint name -> variable to restore into, for SaverOptions::var_dict: each averaged
  // variable (`moving_avg_variables`, default tf.moving_average_variables() plus the trainable
  // variables) under its average's name, every other global variable under its own.
  std::map<std::string, Variable> variables_to_restore(
      std::optional<std::vector<Variable>> moving_avg_variables = {}) const;

  const std::string& name() const { return name_; }
  double decay() const { return decay_; }

 private:
  bool has_average(const MovingAverageTarget& target, const Graph& g) const;

  double decay_;
  std::optional<Output> num_updates_;
  std::string name_;
  std::map<std::string, Variable> averages_;  // target key -> shadow
};

// TF's tf.moving_average_variables().
std::vector<Variable> moving_average_variables();

}  // namespace scopeflow::train
