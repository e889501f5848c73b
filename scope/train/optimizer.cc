// Optimizers. See optimizer.h; structure and names after TF1's optimizer.py.
#include "scope/train/optimizer.h"

#include <algorithm>
#include <cmath>

#include <optional>

#include "devices/base/errors.h"
#include "runtime/gradients.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"
#include "scope/variable_scope.h"

namespace scopeflow {

// With respect to each variable itself (its VariableV2 output), as TF1's compute_gradients
// differentiates by the variable's ref: every read of it counts (v/read, read_value(), ...),
// not only v/read.
std::vector<Output> gradients(const Output& y, const std::vector<Variable>& xs) {
  std::vector<Output> refs;
  for (const auto& v : xs) refs.push_back(v.ref());
  return gradients(std::vector<Output>{y}, refs);
}

namespace train {

Variable get_or_create_global_step() {
  for (const auto& v : get_collection<Variable>("global_step"))
    if (v.graph() == get_default_graph()) return v;
  name_scope root("");
  Variable::Spec spec;
  spec.name = "global_step";
  spec.value = InitializerArg(Tensor::from_scalar(std::int64_t{0}));
  spec.trainable = false;
  spec.collections = std::vector<std::string>{GraphKeys::GLOBAL_VARIABLES, "global_step"};
  spec.created_at = "get_or_create_global_step";
  return Variable::create(spec);
}

GradsAndVars Optimizer::compute_gradients(const Output& loss,
                                          std::optional<std::vector<Variable>> var_list) {
  // A partitioned variable in var_list stands for its shards (the trained variables).
  std::vector<Variable> vars = var_list ? flatten_partitions(*var_list) : trainable_variables();
  if (vars.empty()) throw ValueError("No variables to optimize.");
  auto grads = gradients(loss, vars);
  GradsAndVars out;
  for (std::size_t i = 0; i < vars.size(); ++i) out.emplace_back(grads[i], vars[i]);
  return out;
}

Operation Optimizer::finish(const std::vector<Operation>& updates, std::string_view name) {
  return group(updates, name);
}

Output Optimizer::scalar_tensor(double value, const std::string& name) const {
  return constant(static_cast<float>(value), name);
}

Hyperparameter::Hyperparameter(Output tensor) : tensor_(std::move(tensor)) {
  if (!tensor_.valid()) throw ValueError("An optimizer hyperparameter got an empty tensor");
  if (!is_floating(tensor_.dtype()))
    throw ValueError(str_cat("An optimizer hyperparameter must be a float tensor; ", tensor_.name(),
                             " is ", dtype_name(tensor_.dtype())));
  const Shape& s = tensor_.shape();
  if (s.has_rank() && s.rank() != 0)
    throw ValueError(str_cat("An optimizer hyperparameter must be a scalar; ", tensor_.name(),
                             " has shape ", s.to_string()));
}

Hyperparameter::Hyperparameter(const Variable& variable) : Hyperparameter(variable.value()) {}

double Hyperparameter::value() const {
  if (is_tensor())
    throw ValueError(
        str_cat("The hyperparameter is the tensor ", tensor_.name(), ", not a number"));
  return value_;
}

Output Hyperparameter::to_tensor(const std::string& name) const {
  return is_tensor() ? tensor_ : constant(static_cast<float>(value_), name);
}

Output Optimizer::hyper_tensor(const Hyperparameter& h, const std::string& what) const {
  if (!h.is_tensor()) return scalar_tensor(h.value(), what);
  // NOTE: the updates take float32 hyperparameters; a float64 / 16-bit schedule is cast once
  // here (TF casts per variable to its dtype: the same value for float32 variables).
  if (h.tensor().dtype() == DType::kFloat32) return h.tensor();
  return cast(h.tensor(), DType::kFloat32, str_cat(what, "/Cast"));
}

Variable Optimizer::zeros_slot(const Variable& var, const std::string& slot,
                               const std::string& op_name) {
  return filled_slot(var, slot, op_name, 0.0);
}

Variable Optimizer::filled_slot(const Variable& var, const std::string& slot,
                                const std::string& op_name, double value) {
  auto& by_var = slots_[slot];
  if (auto it = by_var.find(var.op().name()); it != by_var.end()) return it->second;
  Graph g = get_default_graph();
  // NOTE: at the root scopes with no control dependencies, whatever tower scope (possibly
  // reusing) the caller is in: slots are created once, beside their variable.
  name_scope root("");
  scopeflow::device cut(nullptr);
  scopeflow::device on_var(var.device());
  const std::string unique = g.unique_name(var.op().name() + "/" + op_name);
  Variable::Spec spec;
  spec.name = unique + "/";
  const Shape shape = var.shape();
  const DType dtype = var.dtype();
  spec.init_fn = [shape, dtype, value] {
    return value == 0.0   ? zeros(shape, dtype)
           : value == 1.0 ? ones(shape, dtype)
                          : constant(value, dtype, shape);
  };
  spec.dtype = dtype;
  spec.trainable = false;
  spec.created_at = str_cat("slot ", slot, " of ", var.name());
  Variable s = Variable::create(spec);
  // A shard's slot is the same shard of the whole variable's slot (TF's slot_creator):
  // "emb/w/part_0/Adam" is saved as part of "emb/w/Adam".
  if (const auto& info = var.save_slice_info()) {
    Variable::SaveSliceInfo slot_info = *info;
    slot_info.full_name += unique.substr(var.op().name().size());
    s.set_save_slice_info(slot_info);
  }
  by_var[var.op().name()] = s;
  return s;
}

Variable Optimizer::get_slot(const Variable& var, const std::string& name) const {
  auto it = slots_.find(name);
  if (it != slots_.end())
    if (auto jt = it->second.find(var.op().name()); jt != it->second.end()) return jt->second;
  throw ValueError(str_cat(name_, " has no slot '", name, "' for variable ", var.name()));
}

std::vector<std::string> Optimizer::get_slot_names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : slots_) out.push_back(k);
  return out;
}

Operation Optimizer::apply_gradients(const GradsAndVars& grads_and_vars,
                                     std::optional<Variable> global_step, std::string_view name) {
  std::vector<Variable> with_grads;
  for (const auto& [g, v] : grads_and_vars)
    if (g.valid()) with_grads.push_back(v);
  if (with_grads.empty()) {
    std::string names;
    for (const auto& [g, v] : grads_and_vars) names += (names.empty() ? "" : ", ") + v.name();
    throw ValueError(
        str_cat("No gradients provided for any variable, check your graph for ops that do not "
                "support gradients, between variables [",
                names, "] and loss."));
  }
  {
    control_dependencies init_scope(nullptr);
    create_slots(with_grads);
  }
  std::vector<Operation> updates;
  name_scope scope(name, name_);
  const std::string scope_name = scope.name().substr(0, scope.name().size() - 1);
  prepare();
  for (const auto& [grad, var] : grads_and_vars) {
    if (!grad.valid()) continue;
    if (grad.dtype() != var.dtype() || !grad.shape().is_compatible_with(var.shape()))
      throw ValueError(str_cat("Gradient for ", var.name(), " has dtype ", dtype_name(grad.dtype()),
                               " and shape ", grad.shape().to_string(), "; the variable is ",
                               dtype_name(var.dtype()), " ", var.shape().to_string()));
    name_scope update("update_" + var.op().name());
    scopeflow::device cut(nullptr);
    scopeflow::device on_var(var.device());
    Operation applied = apply_dense(grad, var);
    if (var.constraint()) {
      // TF: var.assign(var.constraint(var)) after the update. NOTE: read_value(), a read made
      // after the update, not var.value() (v/read): an update may give the variable a new
      // buffer (copy on write while readers hold the old one), so v/read can be stale here.
      control_dependencies after_update({applied});
      const Output projected = var.constraint()(var.read_value());
      if (!projected.valid())
        throw ValueError(str_cat("The constraint of ", var.name(), " returned no tensor"));
      applied = var.assign(projected).op();
    }
    updates.push_back(applied);
  }
  if (!global_step) return finish(updates, scope_name + "/");
  Operation done = finish(updates, "update");
  control_dependencies after({done});
  scopeflow::device cut(nullptr);
  scopeflow::device on_step(global_step->device());
  // TF: assign_add(global_step, 1), the 1 of the step's dtype (the cifar10 tutorial's global
  // step is a float32 get_variable).
  return global_step
      ->assign_add(constant(detail::scalar_tensor(1.0, global_step->dtype())), scope_name + "/")
      .op();
}

Operation Optimizer::minimize(const Output& loss, std::optional<Variable> global_step,
                              std::optional<std::vector<Variable>> var_list,
                              std::string_view name) {
  return apply_gradients(compute_gradients(loss, std::move(var_list)), std::move(global_step),
                         name);
}

// ---------------------------------------------------------------- GradientDescent
GradientDescentOptimizer::GradientDescentOptimizer(Hyperparameter learning_rate, std::string name)
    : Optimizer(std::move(name)), lr_(std::move(learning_rate)) {}

void GradientDescentOptimizer::prepare() { lr_t_ = hyper_tensor(lr_, "learning_rate"); }

Operation GradientDescentOptimizer::apply_dense(const Output& grad, const Variable& var) {
  return get_default_graph().create_op("ApplyGradientDescent", {var.ref(), lr_t_, grad}, {},
                                       "ApplyGradientDescent");
}

namespace {
// The rows `grad` touches when it is the gradient of a gather (axis 0) that reads `var` itself,
// through Identity ops only (TF's IndexedSlices reaching the optimizer); else none.
// The op `x` is, looking through Identity ops (a variable's `read`).
Operation through_identities(Output x) {
  while (x.op().type() == "Identity") x = x.op().inputs().at(0);
  return x.op();
}

// The rows (int64, 1-D) a gradient touches when it is what gathers (along axis 0) of `table`
// give it: one gather's gradient, or several summed by AddN (TF aggregates their IndexedSlices
// by concatenation, still sparse). Any dense part: none.
std::optional<Output> lookup_rows(const Output& grad, const Operation& table) {
  auto one_lookup = [&](const Output& g) -> std::optional<Output> {
    const AttrMap& attrs = g.op().attrs();
    if (!attrs.has(kGradientRowsAttr) || !attrs.has(kGradientGatherAttr)) return std::nullopt;
    const Graph graph = g.graph();
    auto gather = graph.find_operation(attrs.get<std::string>(kGradientGatherAttr));
    auto rows = graph.find_operation(attrs.get<std::string>(kGradientRowsAttr));
    if (!gather || !rows || gather->type() != "GatherV2" ||
        through_identities(gather->inputs().at(0)) != table)
      return std::nullopt;
    const Output r = rows->output(0);
    return r.dtype() == DType::kInt64 ? r : cast(r, DType::kInt64);
  };
  if (grad.op().type() != "AddN") return one_lookup(grad);
  std::vector<Output> rows;
  for (const Output& in : grad.op().inputs()) {
    auto r = one_lookup(in);
    if (!r) return std::nullopt;
    rows.push_back(*r);
  }
  return concat(rows, 0, "gradient_rows");
}

// The rows `grad` touches when it is TF's IndexedSlices reaching the optimizer: the gradient of
// gathers (axis 0) that read `var` itself, or, for a shard of a partitioned variable, its piece
// (ConcatV2's gradient: a SplitV along axis 0) of the gradient of gathers that read the shards'
// concatenation, the rows less the shard's offset (other shards' rows then fall outside
// [0, rows), which the update skips). Else none: the update is dense.
std::optional<Output> sparse_gradient_rows(const Output& grad, const Variable& var) {
  if (var.is_partitioned()) return std::nullopt;
  if (auto rows = lookup_rows(grad, var.ref().op())) return rows;
  const Operation split = grad.op();
  if (split.type() != "SplitV") return std::nullopt;
  const auto split_in = split.inputs();
  const Operation axis = split_in.at(2).op();
  if (axis.type() != "Const") return std::nullopt;
  const Tensor& axis_value = axis.attrs().get<Tensor>("value");
  if (axis_value.num_elements() != 1 ||
      (axis_value.dtype() == DType::kInt32   ? axis_value.to_vector<std::int32_t>().at(0) != 0
       : axis_value.dtype() == DType::kInt64 ? axis_value.to_vector<std::int64_t>().at(0) != 0
                                             : true))
    return std::nullopt;
  // The concatenation the lookups read: the SplitV's input must be their gradient.
  const Output first =
      split_in.at(0).op().type() == "AddN" ? split_in.at(0).op().inputs().at(0) : split_in.at(0);
  if (!first.op().attrs().has(kGradientGatherAttr)) return std::nullopt;
  auto gather =
      grad.graph().find_operation(first.op().attrs().get<std::string>(kGradientGatherAttr));
  if (!gather) return std::nullopt;
  const Operation concat_op = through_identities(gather->inputs().at(0));
  if (concat_op.type() != "ConcatV2") return std::nullopt;
  const auto pieces = concat_op.inputs();  // the shards' values, then the axis
  if (static_cast<int>(pieces.size()) - 1 != split.num_outputs()) return std::nullopt;
  const int k = grad.index();
  if (through_identities(pieces.at(static_cast<std::size_t>(k))) != var.ref().op())
    return std::nullopt;
  std::int64_t offset = 0;
  for (int i = 0; i < k; ++i) {
    const Shape s = pieces.at(static_cast<std::size_t>(i)).shape();
    if (s.rank() < 1 || s.dims()[0] < 0) return std::nullopt;
    offset += s.dims()[0];
  }
  auto rows = lookup_rows(split_in.at(0), concat_op);
  if (!rows) return std::nullopt;
  return offset == 0 ? *rows : subtract(*rows, constant(offset), "shard_rows");
}
}  // namespace

// ---------------------------------------------------------------- Momentum
MomentumOptimizer::MomentumOptimizer(Hyperparameter learning_rate, Hyperparameter momentum,
                                     std::string name, bool use_nesterov)
    : Optimizer(std::move(name)),
      lr_(std::move(learning_rate)),
      momentum_(std::move(momentum)),
      nesterov_(use_nesterov) {}

void MomentumOptimizer::create_slots(const std::vector<Variable>& vars) {
  for (const auto& v : vars) zeros_slot(v, "momentum", name_);
}

void MomentumOptimizer::prepare() {
  lr_t_ = hyper_tensor(lr_, "learning_rate");
  momentum_t_ = hyper_tensor(momentum_, "momentum");
}

Operation MomentumOptimizer::apply_dense(const Output& grad, const Variable& var) {
  AttrMap a;
  a.set("use_nesterov", nesterov_);
  Variable accum = get_slot(var, "momentum");
  // A gather's gradient (TF's IndexedSlices, e.g. from embedding_lookup): TF's sparse update
  // moves only the rows the lookup touched, where the dense update would also move every other
  // row by its momentum.
  if (auto rows = sparse_gradient_rows(grad, var))
    return get_default_graph().create_op("_SparseApplyMomentumRows",
                                         {var.ref(), accum.ref(), lr_t_, grad, *rows, momentum_t_},
                                         std::move(a), "SparseApplyMomentum");
  return get_default_graph().create_op("ApplyMomentum",
                                       {var.ref(), accum.ref(), lr_t_, grad, momentum_t_},
                                       std::move(a), "ApplyMomentum");
}

// ---------------------------------------------------------------- Adam
AdamOptimizer::AdamOptimizer(Hyperparameter learning_rate, Hyperparameter beta1,
                             Hyperparameter beta2, Hyperparameter epsilon, std::string name)
    : Optimizer(std::move(name)),
      lr_(std::move(learning_rate)),
      beta1_(std::move(beta1)),
      beta2_(std::move(beta2)),
      epsilon_(std::move(epsilon)) {}

void AdamOptimizer::create_slots(const std::vector<Variable>& vars) {
  if (!beta1_power_.valid()) {
    // TF: non-slot variables colocated with the first variable by name (min(var_list,
    // key=name)), at the root scopes.
    const Variable& first =
        *std::min_element(vars.begin(), vars.end(),
                          [](const Variable& a, const Variable& b) { return a.name() < b.name(); });
    name_scope root("");
    scopeflow::device cut(nullptr);
    scopeflow::device on_first(first.device());
    // TF: initial_value=self._beta1, a number (float32) or the tensor itself (its dtype: a
    // float64 beta keeps float64 powers, cast to the update's float32 when applied).
    auto initial = [](const Hyperparameter& h) {
      return h.is_tensor() ? InitializerArg(h.tensor())
                           : InitializerArg(static_cast<float>(h.value()));
    };
    beta1_power_ = Variable(initial(beta1_), {.name = "beta1_power", .trainable = false});
    beta2_power_ = Variable(initial(beta2_), {.name = "beta2_power", .trainable = false});
  }
  for (const auto& v : vars) {
    zeros_slot(v, "m", name_);
    zeros_slot(v, "v", name_ + "_1");
  }
}

void AdamOptimizer::prepare() {
  lr_t_ = hyper_tensor(lr_, "learning_rate");
  beta1_t_ = hyper_tensor(beta1_, "beta1");
  beta2_t_ = hyper_tensor(beta2_, "beta2");
  epsilon_t_ = hyper_tensor(epsilon_, "epsilon");
}

Operation AdamOptimizer::apply_dense(const Output& grad, const Variable& var) {
  return get_default_graph().create_op(
      "ApplyAdam",
      {var.ref(), get_slot(var, "m").ref(), get_slot(var, "v").ref(),
       cast(beta1_power_.value(), DType::kFloat32), cast(beta2_power_.value(), DType::kFloat32),
       lr_t_, beta1_t_, beta2_t_, epsilon_t_, grad},
      {}, "ApplyAdam");
}

Operation AdamOptimizer::finish(const std::vector<Operation>& updates, std::string_view name) {
  // beta powers advance after every variable's update, colocated with beta1_power.
  std::vector<Operation> all = updates;
  {
    control_dependencies deps(updates);
    scopeflow::device cut(nullptr);
    scopeflow::device on(beta1_power_.device());
    // In the powers' own dtype (TF: beta1_power * self._beta1_t, both of the tensor's dtype).
    auto beta_in = [](const Hyperparameter& h, const Output& as_float, const Variable& power) {
      return h.is_tensor() && h.tensor().dtype() == power.dtype() ? h.tensor() : as_float;
    };
    all.push_back(
        beta1_power_
            .assign(beta1_power_.value() * beta_in(beta1_, beta1_t_, beta1_power_), "Assign")
            .op());
    all.push_back(
        beta2_power_
            .assign(beta2_power_.value() * beta_in(beta2_, beta2_t_, beta2_power_), "Assign_1")
            .op());
  }
  return group(all, name);
}

// ---------------------------------------------------------------- RMSProp
RMSPropOptimizer::RMSPropOptimizer(Hyperparameter learning_rate, Hyperparameter decay,
                                   Hyperparameter momentum, Hyperparameter epsilon, bool centered,
                                   std::string name)
    : Optimizer(std::move(name)),
      lr_(std::move(learning_rate)),
      decay_(std::move(decay)),
      momentum_(std::move(momentum)),
      epsilon_(std::move(epsilon)),
      centered_(centered) {}

void RMSPropOptimizer::create_slots(const std::vector<Variable>& vars) {
  // TF's order: rms (ones), mg (centered), momentum.
  for (const auto& v : vars) {
    filled_slot(v, "rms", name_, 1.0);
    if (centered_) zeros_slot(v, "mg", name_);
    zeros_slot(v, "momentum", name_);
  }
}

void RMSPropOptimizer::prepare() {
  lr_t_ = hyper_tensor(lr_, "learning_rate");
  decay_t_ = hyper_tensor(decay_, "decay");
  momentum_t_ = hyper_tensor(momentum_, "momentum");
  epsilon_t_ = hyper_tensor(epsilon_, "epsilon");
}

Operation RMSPropOptimizer::apply_dense(const Output& grad, const Variable& var) {
  const Variable rms = get_slot(var, "rms"), mom = get_slot(var, "momentum");
  if (centered_)
    return get_default_graph().create_op(
        "ApplyCenteredRMSProp",
        {var.ref(), get_slot(var, "mg").ref(), rms.ref(), mom.ref(), lr_t_, decay_t_, momentum_t_,
         epsilon_t_, grad},
        {}, "ApplyCenteredRMSProp");
  return get_default_graph().create_op(
      "ApplyRMSProp",
      {var.ref(), rms.ref(), mom.ref(), lr_t_, decay_t_, momentum_t_, epsilon_t_, grad}, {},
      "ApplyRMSProp");
}

// ---------------------------------------------------------------- Adagrad
AdagradOptimizer::AdagradOptimizer(Hyperparameter learning_rate, double initial_accumulator_value,
                                   std::string name)
    : Optimizer(std::move(name)),
      lr_(std::move(learning_rate)),
      initial_accumulator_value_(initial_accumulator_value) {
  if (!(initial_accumulator_value > 0) || !std::isfinite(initial_accumulator_value)) {
    // Python's repr of a float, as TF's message shows it ("0.0", "-1.5").
    std::string v = str_cat(initial_accumulator_value);
    if (v.find_first_of(".eEn") == std::string::npos) v += ".0";
    throw ValueError(str_cat("initial_accumulator_value must be positive: ", v));
  }
}

void AdagradOptimizer::create_slots(const std::vector<Variable>& vars) {
  for (const auto& v : vars) filled_slot(v, "accumulator", name_, initial_accumulator_value_);
}

void AdagradOptimizer::prepare() { lr_t_ = hyper_tensor(lr_, "learning_rate"); }

Operation AdagradOptimizer::apply_dense(const Output& grad, const Variable& var) {
  return get_default_graph().create_op("ApplyAdagrad",
                                       {var.ref(), get_slot(var, "accumulator").ref(), lr_t_, grad},
                                       {}, "ApplyAdagrad");
}

}  // namespace train
}  // namespace scopeflow
