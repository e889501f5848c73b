// sf::train optimizers (TF1's tf.train): GradientDescentOptimizer, MomentumOptimizer,
// AdamOptimizer, RMSPropOptimizer, AdagradOptimizer with compute_gradients / apply_gradients /
// minimize, slot variables
// ("v/Momentum", "v/Adam", "v/Adam_1") created at the root variable scope (never inside a
// reusing tower scope) and colocated with their variable, and the global step.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scope/variable.h"

namespace scopeflow {

// (gradient, variable) pairs; an invalid gradient means the loss does not depend on it.
using GradsAndVars = std::vector<std::pair<Output, Variable>>;

// Gradients of y with respect to variables (through their values).
std::vector<Output> gradients(const Output& y, const std::vector<Variable>& xs);

namespace train {

// TF's tf.train.get_or_create_global_step(): int64 scalar "global_step", not trainable.
Variable get_or_create_global_step();

// A hyperparameter as TF1's optimizers take one: a number (a Const made when the update is
// built, TF's convert_to_tensor) or a scalar float tensor the graph computes: a schedule such as
// exponential_decay(..., global_step), a placeholder fed per step, a variable's value. A tensor
// of another float dtype is cast to the variable's (TF's math_ops.cast in _apply_dense); a
// non-scalar or non-float tensor is a ValueError naming it when the update is built.
class Hyperparameter {
 public:
  Hyperparameter(double value) : value_(value) {}  // NOLINT(google-explicit-constructor)
  Hyperparameter(Output tensor);                   // NOLINT(google-explicit-constructor)
  Hyperparameter(const Variable& variable);        // NOLINT(google-explicit-constructor)
  bool is_tensor() const { return tensor_.valid(); }
  // The number; ValueError for a tensor.
  double value() const;
  const Output& tensor() const { return tensor_; }
  // The Const `name` holding the number as float32, or the tensor itself.
  Output to_tensor(const std::string& name) const;

 private:
  double value_ = 0.0;
  Output tensor_;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Gradients of `loss` for `var_list` (default: the trainable variables); a partitioned
  // variable there stands for its shards (one pair per shard).
  GradsAndVars compute_gradients(const Output& loss,
                                 std::optional<std::vector<Variable>> var_list = {});
  // One update op per variable with a gradient, grouped; with `global_step`, the group is
  // followed by global_step += 1 (the returned op). Name: the optimizer's (e.g. "GradientDescent").
  Operation apply_gradients(const GradsAndVars& grads_and_vars,
                            std::optional<Variable> global_step = {}, std::string_view name = "");
  Operation minimize(const Output& loss, std::optional<Variable> global_step = {},
                     std::optional<std::vector<Variable>> var_list = {},
                     std::string_view name = "");
  // The slot `name` ("momentum", "m", "v") of `var`; ValueError if absent.
  Variable get_slot(const Variable& var, const std::string& name) const;
  std::vector<std::string> get_slot_names() const;
  const std::string& name() const { return name_; }

 protected:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}
  virtual void create_slots(const std::vector<Variable>& vars) = 0;
  virtual void prepare() = 0;
  virtual Operation apply_dense(const Output& grad, const Variable& var) = 0;
  virtual Operation finish(const std::vector<Operation>& updates, std::string_view name);
  // A zero-initialized slot of `var`'s shape named "<var op>/<op_name>", keyed by `slot`.
  Variable zeros_slot(const Variable& var, const std::string& slot, const std::string& op_name);
  // The same slot filled with `value` (RMSProp's "rms" starts at ones).
  Variable filled_slot(const Variable& var, const std::string& slot, const std::string& op_name,
                       double value);
  Output scalar_tensor(double value, const std::string& name) const;
  // h as a float32 scalar tensor for `what` ("learning_rate"), cast when it is another float.
  Output hyper_tensor(const Hyperparameter& h, const std::string& what) const;

  std::string name_;
  std::map<std::string, std::map<std::string, Variable>> slots_;  // slot -> var op name -> slot var
};

class GradientDescentOptimizer : public Optimizer {
 public:
  explicit GradientDescentOptimizer(Hyperparameter learning_rate,
                                    std::string name = "GradientDescent");

 protected:
  void create_slots(const std::vector<Variable>&) override {}
  void prepare() override;
  Operation apply_dense(const Output& grad, const Variable& var) override;

 private:
  Hyperparameter lr_;
  Output lr_t_;
};

class MomentumOptimizer : public Optimizer {
 public:
  MomentumOptimizer(Hyperparameter learning_rate, Hyperparameter momentum,
                    std::string name = "Momentum", bool use_nesterov = false);

 protected:
  void create_slots(const std::vector<Variable>& vars) override;
  void prepare() override;
  Operation apply_dense(const Output& grad, const Variable& var) override;

 private:
  Hyperparameter lr_, momentum_;
  bool nesterov_;
  Output lr_t_, momentum_t_;
};

class AdamOptimizer : public Optimizer {
 public:
  explicit AdamOptimizer(Hyperparameter learning_rate = 0.001, Hyperparameter beta1 = 0.9,
                         Hyperparameter beta2 = 0.999, Hyperparameter epsilon = 1e-8,
                         std::string name = "Adam");

 protected:
  void create_slots(const std::vector<Variable>& vars) override;
  void prepare() override;
  Operation apply_dense(const Output& grad, const Variable& var) override;
  Operation finish(const std::vector<Operation>& updates, std::string_view name) override;

 private:
  Hyperparameter lr_, beta1_, beta2_, epsilon_;
  Output lr_t_, beta1_t_, beta2_t_, epsilon_t_;
  Variable beta1_power_, beta2_power_;
};

// TF1's tf.train.AdagradOptimizer(learning_rate, initial_accumulator_value = 0.1): slot
// "accumulator" ("<var>/Adagrad", filled with the initial value), ApplyAdagrad. ValueError for an
// initial value that is not a finite positive number. NOTE: a gather's gradient is applied densely
// (TF's SparseApplyAdagrad touches only the looked-up rows; a zero gradient row changes nothing
// in Adagrad, so the values agree).
class AdagradOptimizer : public Optimizer {
 public:
  explicit AdagradOptimizer(Hyperparameter learning_rate, double initial_accumulator_value = 0.1,
                            std::string name = "Adagrad");

 protected:
  void create_slots(const std::vector<Variable>& vars) override;
  void prepare() override;
  Operation apply_dense(const Output& grad, const Variable& var) override;

 private:
  Hyperparameter lr_;
  double initial_accumulator_value_;
  Output lr_t_;
};

// TF1's tf.train.RMSPropOptimizer(learning_rate, decay, momentum, epsilon, centered): slots
// "rms" (ones), "mg" (centered only) and "momentum" (zeros) named "<var>/RMSProp", "_1", ...;
// ApplyRMSProp / ApplyCenteredRMSProp. NOTE: a gather's gradient is applied densely, where TF's
// SparseApplyRMSProp updates only the rows looked up: here every row's ms decays and its
// momentum keeps moving it, so an embedding trained with RMSProp differs from TF's.
class RMSPropOptimizer : public Optimizer {
 public:
  explicit RMSPropOptimizer(Hyperparameter learning_rate, Hyperparameter decay = 0.9,
                            Hyperparameter momentum = 0.0, Hyperparameter epsilon = 1e-10,
                            bool centered = false, std::string name = "RMSProp");

 protected:
  void create_slots(const std::vector<Variable>& vars) override;
  void prepare() override;
  Operation apply_dense(const Output& grad, const Variable& var) override;

 private:
  Hyperparameter lr_, decay_, momentum_, epsilon_;
  bool centered_;
  Output lr_t_, decay_t_, momentum_t_, epsilon_t_;
};

}  // namespace train
}  // namespace scopeflow
