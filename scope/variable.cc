// sf::Variable and collections. See variable.h; graph layout after TF's RefVariable.
#include "scope/variable.h"

#include <algorithm>
#include <regex>

#include "devices/base/errors.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"

namespace scopeflow {

struct Variable::Impl {
  Operation var_op;
  Output read;
  Operation assign_op;
  Output initial_value;
  bool trainable = true;
  std::string created_at;
  Constraint constraint;
  // Partitioned variables only: the shards, TF's partition list and the full shape.
  bool partitioned = false;
  std::string name;
  Shape shape;
  DType dtype = DType::kInvalid;
  std::vector<Variable> parts;
  std::vector<std::int64_t> counts;
  int axis = 0;
  Operation group_init;  // partitioned: the shards' initializers (made with the variable)
  std::optional<Variable::SaveSliceInfo> slice;  // a shard (or a shard's slot): its place
};

namespace {
std::string not_for_partitioned(const std::string& name, const char* what) {
  return str_cat("Variable ", name, " is partitioned: it has no single ", what,
                 "; use partitions() for its shards");
}
}  // namespace

std::string to_string(const std::source_location& where) {
  return str_cat(where.file_name(), ":", where.line());
}

Variable::Variable(const InitializerArg& initial_value, const VariableOptions& options,
                   std::source_location where) {
  if (initial_value.empty()) throw ValueError("initial_value must be specified.");
  Spec spec;
  spec.name = options.name;
  if (initial_value.is_value()) {
    spec.value = initial_value;
  } else {
    // An Initializer without a shape cannot make a value.
    throw ValueError("tf.Variable needs an initial value, not an initializer: use get_variable");
  }
  spec.dtype = options.dtype;
  spec.trainable = options.trainable;
  spec.collections = options.collections;
  spec.validate_shape = options.validate_shape;
  spec.created_at = to_string(where);
  spec.constraint = options.constraint;
  *this = create(spec);
}

Variable Variable::create(const Spec& spec) {
  Graph g = get_default_graph();
  const bool trainable = spec.trainable.value_or(true);
  std::vector<std::string> collections =
      spec.collections ? *spec.collections : std::vector<std::string>{GraphKeys::GLOBAL_VARIABLES};
  if (trainable && std::find(collections.begin(), collections.end(),
                             GraphKeys::TRAINABLE_VARIABLES) == collections.end())
    collections.push_back(GraphKeys::TRAINABLE_VARIABLES);

  auto impl = std::make_shared<Impl>();
  impl->trainable = trainable;
  impl->created_at = spec.created_at;
  impl->constraint = spec.constraint;
  {
    control_dependencies init_scope(nullptr);  // TF's init_scope: no outer control deps
    name_scope ns(spec.name, "Variable");
    const std::string true_name = ns.name().substr(0, ns.name().size() - 1);
    Output initial;
    if (spec.init_fn) {
      colocate_with with_var(true_name);
      name_scope init_ns("Initializer");
      scopeflow::device no_device(nullptr);
      initial = spec.init_fn();
    } else {
      initial = spec.value.value_output(spec.dtype);
    }
    // TF: an initial value made inside a tf.cond branch would be dead when the branch is not
    // taken, and the variable never initialized.
    if (initial.node()->cond_context != nullptr)
      throw ValueError(str_cat("Initializer for variable ", ns.name(),
                               " is from inside a control-flow construct, such as a loop or "
                               "conditional. When creating a variable inside a loop or "
                               "conditional, use a lambda as the initializer."));
    if (spec.dtype != DType::kInvalid && spec.dtype != initial.dtype())
      throw ValueError(str_cat("Tensor conversion requested dtype ", dtype_name(spec.dtype),
                               " for Tensor with dtype ", dtype_name(initial.dtype()), ": '",
                               initial.name(), "'"));
    const Shape shape = spec.validate_shape ? initial.shape() : Shape::unknown();
    if (spec.validate_shape && !shape.is_fully_defined())
      throw ValueError(str_cat("initial_value must have a shape specified: ", initial.name()));
    AttrMap attrs;
    attrs.set("shape", shape);
    attrs.set("dtype", initial.dtype());
    impl->var_op = g.create_op("VariableV2", {}, std::move(attrs), ns.name());
    impl->initial_value = initial;
    AttrMap assign_attrs;
    assign_attrs.set("validate_shape", spec.validate_shape);
    impl->assign_op =
        g.create_op("Assign", {impl->var_op.output(0), initial}, std::move(assign_attrs), "Assign");
    {
      scopeflow::device cut(nullptr);
      scopeflow::device on_var(impl->var_op.device());
      colocate_with with_var(true_name);
      impl->read = g.create_op("Identity", {impl->var_op.output(0)}, {}, "read").output(0);
    }
  }
  Variable v;
  v.impl_ = impl;
  for (const auto& key : collections) g.add_to_collection(key, std::any(v));
  return v;
}

void Variable::check() const {
  if (!impl_) throw ValueError("Variable handle is empty");
}
std::string Variable::name() const {
  check();
  if (impl_->partitioned) return impl_->name;
  return str_cat(op().name(), ":0");
}
Operation Variable::op() const {
  check();
  if (impl_->partitioned) throw ValueError(not_for_partitioned(impl_->name, "op"));
  return impl_->var_op;
}
Shape Variable::shape() const {
  check();
  if (impl_->partitioned) return impl_->shape;
  return op().output(0).shape();
}
DType Variable::dtype() const {
  check();
  if (impl_->partitioned) return impl_->dtype;
  return op().output(0).dtype();
}
const std::string& Variable::device() const {
  check();
  if (impl_->partitioned) throw ValueError(not_for_partitioned(impl_->name, "device"));
  return impl_->var_op.device();
}
Graph Variable::graph() const {
  check();
  if (impl_->partitioned) return impl_->parts.front().graph();
  return op().graph();
}
Output Variable::value() const {
  check();
  return impl_->read;
}
Output Variable::ref() const { return op().output(0); }
Operation Variable::initializer() const {
  check();
  if (impl_->partitioned) return impl_->group_init;
  return impl_->assign_op;
}
Output Variable::initial_value() const {
  check();
  if (impl_->partitioned) throw ValueError(not_for_partitioned(impl_->name, "initial value"));
  return impl_->initial_value;
}
Output Variable::initialized_value() const {
  check();
  if (impl_->partitioned) {
    std::vector<Output> values;
    for (const auto& p : impl_->parts) values.push_back(p.initialized_value());
    return values.size() == 1 ? identity(values[0]) : concat(values, impl_->axis);
  }
  control_dependencies deps({impl_->assign_op});
  return identity(ref());
}
Output Variable::read_value() const {
  check();
  if (impl_->partitioned) return impl_->read;
  return identity(ref(), "read");
}

namespace {
// An assignment of `value` to a (possibly partitioned) variable: per shard, on the shard's
// piece of `value` along the partitioned axis.
Output assign_op(const Variable& v, const std::string& type, const Output& value,
                 std::string_view name) {
  const std::string n = name.empty() ? type : std::string(name);
  if (!v.is_partitioned())
    return get_default_graph().create_op(type, {v.ref(), value}, {}, n).output(0);
  const auto parts = v.partitions();
  if (parts.size() == 1) return assign_op(parts[0], type, value, name);
  if (!value.shape().is_compatible_with(v.shape()))
    throw ValueError(str_cat("Cannot ", type, " a value of shape ", value.shape().to_string(),
                             " to partitioned variable ", v.name(), " of shape ",
                             v.shape().to_string()));
  name_scope ns(n);
  std::vector<std::int64_t> sizes;
  for (const auto& p : parts) sizes.push_back(p.shape().dim(v.partition_axis()));
  const auto pieces = split(value, sizes, v.partition_axis());
  std::vector<Output> assigned;
  for (std::size_t i = 0; i < parts.size(); ++i)
    assigned.push_back(assign_op(parts[i], type, pieces[i], ""));
  return concat(assigned, v.partition_axis());
}
}  // namespace

Output Variable::assign(const Output& value, std::string_view name) const {
  return assign_op(*this, "Assign", value, name);
}
Output Variable::assign_add(const Output& value, std::string_view name) const {
  return assign_op(*this, "AssignAdd", value, name);
}
Output Variable::assign_sub(const Output& value, std::string_view name) const {
  return assign_op(*this, "AssignSub", value, name);
}
bool Variable::trainable() const {
  check();
  if (impl_->partitioned) return impl_->parts.front().trainable();
  return impl_->trainable;
}
const Constraint& Variable::constraint() const {
  check();
  if (impl_->partitioned) return impl_->parts.front().constraint();
  return impl_->constraint;
}
bool Variable::is_partitioned() const {
  check();
  return impl_->partitioned;
}
std::vector<Variable> Variable::partitions() const {
  check();
  if (impl_->partitioned) return impl_->parts;
  return {*this};
}
std::vector<std::int64_t> Variable::partition_counts() const {
  check();
  if (impl_->partitioned) return impl_->counts;
  const Shape s = shape();
  return std::vector<std::int64_t>(s.has_rank() ? static_cast<std::size_t>(s.rank()) : 0, 1);
}
int Variable::partition_axis() const {
  check();
  return impl_->partitioned ? impl_->axis : 0;
}

Variable Variable::create_partitioned(const std::string& name, const Shape& shape, DType dtype,
                                      std::vector<Variable> parts,
                                      std::vector<std::int64_t> partition_counts,
                                      const std::string& created_at) {
  if (parts.empty()) throw ValueError(str_cat("Partitioned variable ", name, " has no shards"));
  auto impl = std::make_shared<Impl>();
  impl->partitioned = true;
  impl->name = name;
  impl->shape = shape;
  impl->dtype = dtype;
  impl->created_at = created_at;
  impl->counts = std::move(partition_counts);
  for (std::size_t i = 0; i < impl->counts.size(); ++i)
    if (impl->counts[i] > 1) {
      impl->axis = static_cast<int>(i);
      break;
    }
  impl->parts = std::move(parts);
  // Each shard's place in the whole (TF's SaveSliceInfo): offsets along the partitioned axis.
  std::int64_t offset = 0;
  for (const auto& p : impl->parts) {
    SaveSliceInfo info{name, shape, std::vector<std::int64_t>(shape.dims().size(), 0),
                       p.shape().dims()};
    if (!info.var_offset.empty()) info.var_offset[static_cast<std::size_t>(impl->axis)] = offset;
    if (!info.var_shape.empty()) offset += info.var_shape[static_cast<std::size_t>(impl->axis)];
    p.set_save_slice_info(info);
  }
  {
    control_dependencies init_scope(nullptr);
    name_scope root("");
    // NOTE: TF's PartitionedVariable._concat: an Identity for one shard, else a ConcatV2,
    // both named after the variable (so its value's name is "<name>:0").
    std::vector<Output> values;
    for (const auto& p : impl->parts) values.push_back(p.value());
    impl->read = values.size() == 1 ? identity(values[0], name) : concat(values, impl->axis, name);
    // The shards' initializers as one op, made here (not on the first initializer() call,
    // which could be under a caller's control dependencies, name scope or another graph).
    std::vector<Operation> inits;
    for (const auto& p : impl->parts) inits.push_back(p.initializer());
    impl->group_init = group(inits);
  }
  Variable v;
  v.impl_ = impl;
  return v;
}
const std::optional<Variable::SaveSliceInfo>& Variable::save_slice_info() const {
  check();
  return impl_->slice;
}

void Variable::set_save_slice_info(const SaveSliceInfo& info) const {
  check();
  if (impl_->partitioned)
    throw ValueError(not_for_partitioned(impl_->name, "slice (its shards have one each)"));
  const Shape shape = this->shape();
  const std::size_t rank = info.full_shape.dims().size();
  bool ok = shape.is_fully_defined() && info.full_shape.is_fully_defined() &&
            info.var_offset.size() == rank && info.var_shape.size() == rank &&
            shape.dims() == info.var_shape;
  for (std::size_t i = 0; ok && i < rank; ++i)
    ok = info.var_offset[i] >= 0 &&
         info.var_offset[i] + info.var_shape[i] <= info.full_shape.dims()[i];
  if (!ok)
    throw ValueError(str_cat("Variable ", name(), " (shape ", shape.to_string(),
                             ") cannot be a slice at offset ", Shape(info.var_offset).to_string(),
                             " of ", info.full_name, " ", info.full_shape.to_string()));
  impl_->slice = info;
}

const std::string& Variable::created_at() const {
  check();
  return impl_->created_at;
}

namespace {
template <class T>
std::vector<T> filtered(const std::string& key, const std::string& scope,
                        const std::function<std::string(const T&)>& name_of) {
  std::vector<T> out;
  const auto& items = get_default_graph().collection(key);
  std::optional<std::regex> re;
  if (!scope.empty()) {
    try {
      re.emplace(scope);
    } catch (const std::regex_error& e) {
      throw ValueError(str_cat("get_collection: invalid scope regex '", scope, "': ", e.what()));
    }
  }
  for (const auto& item : items) {
    const T* v = std::any_cast<T>(&item);
    if (v == nullptr) continue;
    if (re && !std::regex_search(name_of(*v), *re, std::regex_constants::match_continuous))
      continue;
    out.push_back(*v);
  }
  return out;
}
}  // namespace

template <>
std::vector<Variable> get_collection<Variable>(const std::string& key, const std::string& scope) {
  return filtered<Variable>(key, scope, [](const Variable& v) { return v.name(); });
}
template <>
std::vector<Output> get_collection<Output>(const std::string& key, const std::string& scope) {
  return filtered<Output>(key, scope, [](const Output& o) { return o.name(); });
}
template <>
std::vector<Operation> get_collection<Operation>(const std::string& key, const std::string& scope) {
  return filtered<Operation>(key, scope, [](const Operation& o) { return o.name(); });
}

std::vector<Variable> global_variables(const std::string& scope) {
  return get_collection<Variable>(GraphKeys::GLOBAL_VARIABLES, scope);
}
std::vector<Variable> trainable_variables(const std::string& scope) {
  return get_collection<Variable>(GraphKeys::TRAINABLE_VARIABLES, scope);
}
std::vector<Variable> local_variables(const std::string& scope) {
  return get_collection<Variable>(GraphKeys::LOCAL_VARIABLES, scope);
}

Operation variables_initializer(const std::vector<Variable>& vars, std::string_view name) {
  std::vector<Operation> ops;
  for (const auto& v : vars) ops.push_back(v.initializer());
  if (ops.empty()) return no_op(name);
  return group(ops, name);
}
Operation global_variables_initializer() { return variables_initializer(global_variables()); }
Operation local_variables_initializer() {
  return variables_initializer(local_variables(), "init_1");
}

Output is_variable_initialized(const Variable& v, std::string_view name) {
  return get_default_graph()
      .create_op("IsVariableInitialized", {v.ref()}, {},
                 name.empty() ? "IsVariableInitialized" : std::string(name))
      .output(0);
}

Output report_uninitialized_variables(std::optional<std::vector<Variable>> vars,
                                      std::string_view name) {
  std::vector<Variable> list;
  if (vars) {
    list = *vars;
  } else {
    list = global_variables();
    for (const auto& v : local_variables()) list.push_back(v);
  }
  name_scope ns(name);
  if (list.empty()) return constant(std::vector<std::string>{}, Shape{0}, "Const");
  std::vector<Output> flags;
  for (const auto& v : list) flags.push_back(is_variable_initialized(v));
  device on_cpu("/cpu:0");
  Output mask = logical_not(stack(flags));
  std::vector<std::string> names;
  for (const auto& v : list) names.push_back(v.op().name());
  Output names_t = constant(names, Shape{static_cast<std::int64_t>(names.size())}, "Const");
  return boolean_mask(names_t, mask);
}

std::vector<Variable> flatten_partitions(const std::vector<Variable>& vars) {
  std::vector<Variable> out;
  for (const auto& v : vars)
    for (const auto& p : v.partitions()) out.push_back(p);
  return out;
}

}  // namespace scopeflow
