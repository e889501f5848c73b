// ExponentialMovingAverage. See moving_averages.h; structure and names after TF 2.21's
// training/moving_averages.py (apply, assign_moving_average, variables_to_restore).
#include "scope/train/moving_averages.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "devices/base/errors.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"
#include "scope/variable_scope.h"

namespace scopeflow::train {
namespace {

// TF: the variable's name without ":0", or the tensor's op name (a second output keeps its
// index, as TF's slot_creator does not: "split:1" -> "split_1" is ScopeFlow's own choice to keep
// the averages of two outputs of one op apart).
std::string target_name(const MovingAverageTarget& t) {
  if (t.is_variable()) return t.variable().op().name();
  const Output& o = t.value();
  return o.index() == 0 ? o.op().name() : str_cat(o.op().name(), "_", o.index());
}

}  // namespace

std::string MovingAverageTarget::key() const {
  return is_variable() ? variable_.op().name() : tensor_.name();
}

ExponentialMovingAverage::ExponentialMovingAverage(double decay, std::optional<Output> num_updates,
                                                   std::string name)
    : decay_(decay), num_updates_(std::move(num_updates)), name_(std::move(name)) {
  if (!(decay >= 0.0 && decay <= 1.0))
    throw ValueError(str_cat("ExponentialMovingAverage: decay must be in [0, 1], got ", decay));
  if (name_.empty()) throw ValueError("ExponentialMovingAverage: name must not be empty");
  if (num_updates_) {
    if (!num_updates_->valid())
      throw ValueError("ExponentialMovingAverage: num_updates is an empty tensor");
    const DType d = num_updates_->dtype();
    if (d != DType::kInt32 && d != DType::kInt64 && d != DType::kFloat32 && d != DType::kFloat64)
      throw ValueError(str_cat("ExponentialMovingAverage: num_updates ", num_updates_->name(),
                               " must be numeric, not ", dtype_name(d)));
    const Shape& s = num_updates_->shape();
    if (s.has_rank() && s.rank() != 0)
      throw ValueError(str_cat("ExponentialMovingAverage: num_updates ", num_updates_->name(),
                               " must be a scalar, got shape ", s.to_string()));
  }
}

Operation ExponentialMovingAverage::apply() {
  std::vector<MovingAverageTarget> all;
  for (const auto& v : trainable_variables()) all.emplace_back(v);
  return apply(all);
}

Operation ExponentialMovingAverage::apply(const std::vector<MovingAverageTarget>& var_list) {
  Graph g = get_default_graph();
  // Checked before anything is created, so a bad entry leaves the graph as it was.
  for (const auto& t : var_list) {
    if (t.is_variable() && t.variable().is_partitioned())
      throw ValueError(str_cat("ExponentialMovingAverage.apply: ", t.variable().name(),
                               " is partitioned; average its partitions()"));
    const Output v = t.value();
    if (!v.valid()) throw ValueError("ExponentialMovingAverage.apply: an empty tensor");
    const DType d = v.dtype();
    if (d != DType::kFloat16 && d != DType::kBFloat16 && d != DType::kFloat32 &&
        d != DType::kFloat64)
      throw TypeError(str_cat("The variables must be half, float, or double: ",
                              t.is_variable() ? t.variable().name() : v.name()));
    if (!t.is_variable() && !v.shape().is_fully_defined())
      throw ValueError(str_cat("ExponentialMovingAverage.apply: ", v.name(), " has shape ",
                               v.shape().to_string(), "; its average needs a fully defined one"));
  }
  // TF: a shadow not made yet in a scope with reuse=True is "does not exist" (AUTO_REUSE
  // creates it).
  const bool reuse_only = get_variable_scope().reuse_mode() == ReuseMode::kTrue;
  for (const auto& t : var_list) {
    if (has_average(t, g)) continue;
    // TF: under ops.init_scope() (no control dependencies), in the current variable scope,
    // colocated with a variable (a tensor's shadow takes the current device).
    control_dependencies none(nullptr);
    const std::string& vs = get_variable_scope().name();
    std::string unique;
    {
      name_scope root("");
      unique = g.unique_name(str_cat(vs.empty() ? "" : vs + "/", target_name(t), "/", name_),
                             /*mark_as_used=*/!reuse_only);
    }
    if (reuse_only)
      throw ValueError(str_cat("Variable ", unique,
                               "/ does not exist, or was not created with get_variable(). Did you "
                               "mean to set reuse=sf::AUTO_REUSE in variable_scope?"));
    Variable::Spec spec;
    spec.name = unique + "/";
    spec.trainable = false;
    spec.created_at = str_cat(name_, " of ", t.key());
    Variable shadow;
    if (t.is_variable()) {
      const Variable& var = t.variable();
      spec.dtype = var.dtype();
      scopeflow::device cut(nullptr);
      scopeflow::device on_var(var.device());
      // TF: cond(is_variable_initialized(var), var.read_value, lambda: var.initial_value): the
      // shadow of a variable already trained or restored starts from its value.
      const Output start =
          g.create_op("_InitializedValueOr", {var.ref(), var.initial_value()}, {},
                      "InitializedValueOr")  // in the caller's name scope, as TF's "cond"
              .output(0);
      spec.value = InitializerArg(start);
      shadow = Variable::create(spec);
      // A shard's shadow is the same shard of the whole variable's (TF's slot_creator), so a
      // checkpoint holds "w/ExponentialMovingAverage" whole.
      if (const auto& info = var.save_slice_info()) {
        Variable::SaveSliceInfo slot_info = *info;
        const std::string prefix = var.op().name() + "/";
        slot_info.full_name +=
            "/" + (unique.rfind(prefix, 0) == 0 ? unique.substr(prefix.size()) : name_);
        shadow.set_save_slice_info(slot_info);
      }
      add_to_collection(GraphKeys::MOVING_AVERAGE_VARIABLES, var);
    } else {
      const Shape shape = t.value().shape();
      const DType dtype = t.value().dtype();
      spec.init_fn = [shape, dtype] { return zeros(shape, dtype); };
      spec.dtype = dtype;
      shadow = Variable::create(spec);
    }
    averages_.insert_or_assign(t.key(), shadow);
  }

  name_scope scope(name_);
  Output decay = constant(static_cast<float>(decay_), "decay");
  if (num_updates_) {
    Output n = cast(*num_updates_, DType::kFloat32, "num_updates");
    Output num = 1.0 + n;  // one statement each: TF's order of names (add, add_1)
    Output den = 10.0 + n;
    decay = minimum(decay, num / den);
  }
  std::vector<Operation> updates;
  for (const auto& t : var_list) {
    const Variable& avg = averages_.at(t.key());
    // TF's assign_moving_average: avg -= (avg - value) * (1 - decay), the AssignSub named by
    // its scope "AssignMovingAvg" (with the shadow, so on the shadow's device).
    name_scope assign_scope("", "AssignMovingAvg");
    Output one_minus = 1.0 - decay;
    if (one_minus.dtype() != avg.dtype()) one_minus = cast(one_minus, avg.dtype());
    Output diff = avg.value() - t.value();
    Output delta = diff * one_minus;
    scopeflow::device cut(nullptr);
    scopeflow::device on_avg(avg.device());
    updates.push_back(avg.assign_sub(delta, assign_scope.name()).op());
  }
  return group(updates, scope.name());
}

bool ExponentialMovingAverage::has_average(const MovingAverageTarget& target,
                                           const Graph& g) const {
  auto it = averages_.find(target.key());
  if (it == averages_.end()) return false;
  // Keyed by name: a shadow of another (or a reset) graph is not this target's.
  try {
    return it->second.graph() == g;
  } catch (const ValueError&) {
    return false;
  }
}

Variable ExponentialMovingAverage::average(const MovingAverageTarget& target) const {
  auto it = averages_.find(target.key());
  if (it == averages_.end() || !has_average(target, target.value().op().graph()))
    throw ValueError(str_cat(name_, " has no average of ", target.key(), "; apply() it first"));
  return it->second;
}

std::string ExponentialMovingAverage::average_name(const MovingAverageTarget& target) const {
  Graph g = target.value().op().graph();
  if (has_average(target, g)) return averages_.at(target.key()).op().name();
  // TF: graph.unique_name(..., mark_as_used=False), under the current name scope.
  return g.unique_name(str_cat(target_name(target), "/", name_), false);
}

std::map<std::string, Variable> ExponentialMovingAverage::variables_to_restore(
    std::optional<std::vector<Variable>> moving_avg_variables) const {
  std::vector<Variable> averaged;
  if (moving_avg_variables) {
    averaged = *moving_avg_variables;
  } else {
    averaged = moving_average_variables();
    for (const auto& v : trainable_variables())
      if (std::find(averaged.begin(), averaged.end(), v) == averaged.end()) averaged.push_back(v);
  }
  std::map<std::string, Variable> out;
  std::set<std::string> averaged_names;
  for (const auto& v : averaged) {
    out[average_name(v)] = v;
    averaged_names.insert(v.name());
  }
  // Variables without averages are restored as well, under their own names.
  for (const auto& v : global_variables())
    if (!averaged_names.contains(v.name()) && !out.contains(v.op().name())) out[v.op().name()] = v;
  return out;
}

std::vector<Variable> moving_average_variables() {
  return get_collection<Variable>(GraphKeys::MOVING_AVERAGE_VARIABLES);
}

}  // namespace scopeflow::train
