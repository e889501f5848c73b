// Variable scopes and the variable store, after TF 1.15's variable_scope.py. See
// variable_scope.h; the rules are in CONFORMANCE.md section 1.
#include "scope/variable_scope.h"

#include <algorithm>
#include <map>

#include "devices/base/errors.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"

namespace scopeflow {

struct VariableScope::Impl {
  std::string name;
  std::string original_name_scope;
  ReuseMode reuse = ReuseMode::kFalse;
  InitializerArg initializer;
  DType dtype = DType::kFloat32;
  CustomGetter custom_getter;
  Regularizer regularizer;
  Constraint constraint;
  Partitioner partitioner;
};

Output no_regularizer(const Output&) { return Output(); }

namespace {

// Per graph: the current variable scope and the default_name counters
// (TF's _VariableScopeStore), and the get_variable store (TF's _VariableStore).
struct ScopeStore {
  VariableScope root{std::make_shared<VariableScope::Impl>()};
  // The current scope object: the root's, or an open variable_scope block's `entered_` (the
  // store lives on the heap and blocks are neither copied nor moved, so the address holds).
  VariableScope* current = &root;
  std::map<std::string, int> counts;

  void open_variable_scope(const std::string& name) { ++counts[name]; }
  void close_variable_subscopes(const std::string& name) {
    for (auto& [k, v] : counts)
      if (name.empty() || k.rfind(name + "/", 0) == 0) v = 0;
  }
  int count(const std::string& name) const {
    auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
  }
};

struct VarStore {
  std::map<std::string, Variable> vars;
  std::map<std::string, Variable> partitioned_vars;
};

ScopeStore& scope_store(Graph g) {
  auto& slot = g.extension("__varscope");
  if (!slot) slot = std::make_shared<ScopeStore>();
  return *static_cast<ScopeStore*>(slot.get());
}

VarStore& var_store(Graph g) {
  auto& slot = g.extension("__variable_store");
  if (!slot) slot = std::make_shared<VarStore>();
  return *static_cast<VarStore*>(slot.get());
}

std::string unique_variable_scope(ScopeStore& store, const std::string& prefix) {
  const std::string& cur = store.current->name();
  const std::string name = cur.empty() ? prefix : cur + "/" + prefix;
  if (store.count(name) == 0) return prefix;
  int idx = 1;
  while (store.count(str_cat(name, "_", idx)) > 0) ++idx;
  return str_cat(prefix, "_", idx);
}

CustomGetter wrap_custom_getter(CustomGetter inner, CustomGetter outer) {
  if (!outer) return inner;
  return [inner, outer](const Getter& getter, const std::string& name, const Shape& shape,
                        const GetVariableOptions& options) {
    Getter bound = [outer, getter](const std::string& n, const Shape& s,
                                   const GetVariableOptions& o) { return outer(getter, n, s, o); };
    return inner(bound, name, shape, options);
  };
}

void check_reuse_arg(const ReuseArg& r) {
  if (r.mode() == ReuseArg::Mode::kInvalid)
    throw ValueError("The reuse parameter must be True or False or None.");
}

ReuseMode combine_reuse(const ReuseArg& arg, ReuseMode inherited) {
  switch (arg.mode()) {
    case ReuseArg::Mode::kTrue: return ReuseMode::kTrue;
    case ReuseArg::Mode::kAuto: return ReuseMode::kAuto;
    default: return inherited;
  }
}

std::string already_exists(const std::string& name, const Variable& v) {
  return str_cat("Variable ", name,
                 " already exists, disallowed. Did you mean to set reuse=true or "
                 "reuse=sf::AUTO_REUSE in variable_scope? Originally defined at: ",
                 v.created_at());
}

// The loss of a new variable's regularizer, built under "<name>/Regularizer/" and colocated
// with the variable (TF's _get_single_variable), into REGULARIZATION_LOSSES unless empty.
void add_regularization_loss(const std::string& name, const Variable& v,
                             const Regularizer& regularizer) {
  Output loss;
  {
    colocate_with with_var(v.op().name());
    name_scope ns(name + "/Regularizer/");
    loss = regularizer(v.value());
  }
  if (loss.valid()) add_to_collection(GraphKeys::REGULARIZATION_LOSSES, loss);
}

// TF's _get_single_variable (`partition_info`: set for a shard of a partitioned variable).
Variable get_single(Graph g, const std::string& name, const Shape& shape,
                    const GetVariableOptions& opts, const std::string& where,
                    const std::optional<PartitionInfo>& partition_info = std::nullopt) {
  VarStore& store = var_store(g);
  const bool from_value = opts.initializer.is_value();
  const bool shape_given = shape.has_rank();
  if (shape_given && from_value)
    throw ValueError("If initializer is a constant, do not specify shape.");
  const ReuseMode reuse = opts.reuse.value_or(ReuseMode::kFalse);
  const DType dtype = opts.dtype == DType::kInvalid ? DType::kFloat32 : opts.dtype;

  if (auto it = store.vars.find(name); it != store.vars.end()) {
    const Variable& found = it->second;
    if (reuse == ReuseMode::kFalse) throw ValueError(already_exists(name, found));
    if (!shape.is_compatible_with(found.shape()))
      throw ValueError(str_cat("Trying to share variable ", name, ", but specified shape ",
                               shape.to_string(), " and found shape ", found.shape().to_string(),
                               "."));
    if (dtype != found.dtype())
      throw ValueError(str_cat("Trying to share variable ", name, ", but specified dtype ",
                               dtype_name(dtype), " and found dtype ", dtype_name(found.dtype()),
                               "."));
    return found;
  }
  if (reuse == ReuseMode::kTrue)
    throw ValueError(str_cat("Variable ", name,
                             " does not exist, or was not created with get_variable(). Did you "
                             "mean to set reuse=sf::AUTO_REUSE in variable_scope?"));

  Variable::Spec spec;
  spec.name = name;
  spec.trainable = opts.trainable;
  spec.collections = opts.collections;
  spec.validate_shape = opts.validate_shape;
  spec.created_at = where;
  spec.constraint = opts.constraint;
  if (from_value) {
    spec.value = opts.initializer;
  } else {
    Initializer init = opts.initializer.initializer();
    if (!init) {
      if (is_floating(dtype)) {
        init = glorot_uniform_initializer();
      } else if (is_integer(dtype) || dtype == DType::kBool || dtype == DType::kString) {
        init = zeros_initializer();
      } else {
        throw ValueError(str_cat("An initializer for variable ", name, " of ", dtype_name(dtype),
                                 " is required"));
      }
    }
    if (!shape.is_fully_defined())
      throw ValueError(str_cat("Shape of a new variable (", name,
                               ") must be fully defined, but instead was ", shape.to_string(),
                               "."));
    spec.init_fn = [init, shape, dtype, partition_info] {
      Output v = init(shape, dtype, partition_info ? &*partition_info : nullptr);
      if (v.dtype() != dtype)
        throw ValueError(str_cat("Initializer ", init.description, " made a ",
                                 dtype_name(v.dtype()), " value for a ", dtype_name(dtype),
                                 " variable"));
      return v;
    };
    spec.dtype = dtype;
  }
  Variable v = Variable::create(spec);
  store.vars[name] = v;
  if (opts.regularizer) add_regularization_loss(name, v, opts.regularizer);
  return v;
}

std::string list_string(const std::vector<std::int64_t>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += str_cat(i ? ", " : "", v[i]);
  return out + "]";
}

// TF's _call_partitioner: the partitioner's list for `shape`, validated. The messages are
// TF's, with the variable's name added.
std::vector<std::int64_t> call_partitioner(const Partitioner& partitioner, const Shape& shape,
                                           DType dtype, const std::string& name) {
  const std::string var = str_cat(" (variable ", name, ")");
  if (!shape.is_fully_defined())
    throw ValueError(
        str_cat("Shape of a new partitioned variable must be fully defined, but "
                "instead was ",
                shape.to_string(), ".", var));
  if (shape.rank() < 1)
    throw ValueError(str_cat(
        "A partitioned Variable must have rank at least 1, shape: ", shape.to_string(), var));
  std::vector<std::int64_t> slicing;
  try {
    slicing = partitioner(shape, dtype);
  } catch (const ValueError& e) {
    throw ValueError(str_cat(e.what(), var));
  }
  if (slicing.size() != static_cast<std::size_t>(shape.rank()))
    throw ValueError(
        str_cat("Partitioner returned a partition list that does not match the "
                "Variable's rank: ",
                list_string(slicing), " vs. ", shape.to_string(), var));
  if (std::any_of(slicing.begin(), slicing.end(), [](std::int64_t p) { return p < 1; }))
    throw ValueError(
        str_cat("Partitioner returned zero partitions for some axes: ", list_string(slicing), var));
  if (std::count_if(slicing.begin(), slicing.end(), [](std::int64_t p) { return p > 1; }) > 1)
    throw ValueError(str_cat("Can only slice a variable along one dimension: shape: ",
                             shape.to_string(), ", partitioning: ", list_string(slicing), var));
  return slicing;
}

// TF's _VariableStore._get_partitioned_variable (`partitioner` null only for reuse=true of
// an existing partitioned variable).
Variable get_partitioned(Graph g, const std::string& name, const Shape& shape,
                         const GetVariableOptions& opts, const std::string& where) {
  VarStore& store = var_store(g);
  if (store.vars.count(name))
    throw ValueError(
        str_cat("A partitioner was provided, but an unpartitioned version of the "
                "variable was found: ",
                name,
                ".  Perhaps a variable of the same name was already created "
                "without partitioning?"));
  const bool from_value = opts.initializer.is_value();
  Shape full = shape;
  Output value;
  DType dtype = opts.dtype == DType::kInvalid ? DType::kFloat32 : opts.dtype;
  if (from_value) {
    value = opts.initializer.value_output();
    if (!full.has_rank()) {
      full = value.shape();
    } else if (!full.is_compatible_with(value.shape())) {
      throw ValueError(str_cat("Shapes ", full.to_string(), " and ", value.shape().to_string(),
                               " are not compatible (variable ", name, ")"));
    } else if (value.shape().is_fully_defined()) {
      full = value.shape();
    }
    dtype = value.dtype();
  }
  const ReuseMode reuse = opts.reuse.value_or(ReuseMode::kFalse);
  std::optional<std::vector<std::int64_t>> partitions;
  if (reuse == ReuseMode::kFalse || opts.partitioner) {
    if (!opts.partitioner) throw ValueError("No partitioner was specified");
    partitions = call_partitioner(opts.partitioner, full, dtype, name);
  }

  if (auto it = store.partitioned_vars.find(name); it != store.partitioned_vars.end()) {
    const Variable& existing = it->second;
    if (reuse == ReuseMode::kFalse)
      throw ValueError(str_cat("Partitioned variable with name ", name,
                               " already exists. Did you mean to set reuse=true or "
                               "reuse=sf::AUTO_REUSE in variable_scope?"));
    if (!full.is_compatible_with(existing.shape()))
      throw ValueError(str_cat("Trying to reuse partitioned variable ", name,
                               ", but specified shape ", full.to_string(), " and found shape ",
                               existing.shape().to_string(), "."));
    if (dtype != existing.dtype())
      throw ValueError(str_cat("Trying to reuse partitioned variable ", name,
                               ", but specified dtype ", dtype_name(dtype), " and found dtype ",
                               dtype_name(existing.dtype()), "."));
    if (partitions && *partitions != existing.partition_counts())
      throw ValueError(str_cat("Trying to reuse partitioned variable ", name,
                               ", but specified partitions ", list_string(*partitions),
                               " and found partitions ", list_string(existing.partition_counts()),
                               "."));
    return existing;
  }
  if (reuse == ReuseMode::kTrue)
    throw ValueError(str_cat("PartitionedVariable ", name,
                             " does not exist, or was not created with get_variable(). Did you "
                             "mean to set reuse=false or reuse=sf::AUTO_REUSE in "
                             "variable_scope?"));

  // TF's _get_slice_dim_and_num_slices: the one axis with more than one shard (0 if none).
  int slice_dim = 0;
  std::int64_t num_slices = 1;
  for (std::size_t i = 0; i < partitions->size(); ++i)
    if ((*partitions)[i] > 1) {
      slice_dim = static_cast<int>(i);
      num_slices = (*partitions)[i];
      break;
    }
  const auto part = [&](std::int64_t i) { return str_cat(name, "/part_", i); };
  if (store.vars.count(part(0))) {
    if (!store.vars.count(part(num_slices - 1)))
      throw ValueError(
          str_cat("Partitioner returned a different partitioning than what was "
                  "already found.  Partitioner returned ",
                  num_slices, " shards, and shard ", part(0), " was found, but ",
                  part(num_slices - 1), " was not."));
    if (store.vars.count(part(num_slices)))
      throw ValueError(
          str_cat("Partitioner returned a different partitioning than what was "
                  "already found.  Partitioner returned ",
                  num_slices, " shards, and shard ", part(0),
                  " was found, but so was the extra shard ", part(num_slices), "."));
  }

  // TF's _iter_slices: the first dim % n shards get one more row.
  const std::vector<std::int64_t>& dims = full.dims();
  const std::int64_t total = dims[static_cast<std::size_t>(slice_dim)];
  std::vector<std::int64_t> sizes;
  for (std::int64_t i = 0; i < num_slices; ++i)
    sizes.push_back(total / num_slices + (i < total % num_slices ? 1 : 0));
  std::vector<Output> pieces;
  if (from_value) {
    name_scope ns(name + "/PartitionedInitializer/");
    if (num_slices == 1)
      pieces.push_back(value);
    else
      pieces = split(value, sizes, slice_dim);
  }
  std::vector<Variable> shards;
  std::vector<std::int64_t> offset(dims.size(), 0);
  for (std::int64_t i = 0; i < num_slices; ++i) {
    std::vector<std::int64_t> shard_dims = dims;
    shard_dims[static_cast<std::size_t>(slice_dim)] = sizes[static_cast<std::size_t>(i)];
    GetVariableOptions o = opts;
    o.dtype = dtype;
    Shape shard_shape = Shape(shard_dims);
    if (from_value) {
      o.initializer = pieces[static_cast<std::size_t>(i)];
      shard_shape = Shape::unknown();
    }
    shards.push_back(get_single(g, part(i), shard_shape, o, where, PartitionInfo{full, offset}));
    offset[static_cast<std::size_t>(slice_dim)] += sizes[static_cast<std::size_t>(i)];
  }
  Variable v =
      Variable::create_partitioned(name, full, dtype, std::move(shards), *partitions, where);
  store.partitioned_vars[name] = v;
  return v;
}

// TF's _true_getter: partitioned when a partitioner applies (any shape but a given scalar
// one), or for reuse=true of an existing partitioned variable; else a single variable.
Variable true_get(Graph g, const std::string& name, const Shape& shape,
                  const GetVariableOptions& opts, const std::string& where) {
  const bool is_scalar = shape.has_rank() && shape.rank() == 0;
  if (opts.partitioner && !is_scalar) return get_partitioned(g, name, shape, opts, where);
  VarStore& store = var_store(g);
  if (opts.reuse == ReuseMode::kTrue && !opts.partitioner && store.partitioned_vars.count(name))
    return get_partitioned(g, name, shape, opts, where);
  if (store.vars.count(name + "/part_0"))
    throw ValueError(
        str_cat("No partitioner was provided, but a partitioned version of the "
                "variable was found: ",
                name,
                "/part_0. Perhaps a variable of the same name was already created "
                "with partitioning?"));
  return get_single(g, name, shape, opts, where);
}

}  // namespace

// ---------------------------------------------------------------- VariableScope
void VariableScope::check() const {
  if (!impl_) throw ValueError("VariableScope handle is empty");
}
const std::string& VariableScope::name() const {
  check();
  return impl_->name;
}
ReuseMode VariableScope::reuse_mode() const {
  check();
  return impl_->reuse;
}
void VariableScope::reuse_variables() {
  check();
  impl_->reuse = ReuseMode::kTrue;
}
const std::string& VariableScope::original_name_scope() const {
  check();
  return impl_->original_name_scope;
}
const InitializerArg& VariableScope::initializer() const {
  check();
  return impl_->initializer;
}
void VariableScope::set_initializer(const InitializerArg& init) {
  check();
  impl_->initializer = init;
}
DType VariableScope::dtype() const {
  check();
  return impl_->dtype;
}
void VariableScope::set_dtype(DType dtype) {
  check();
  impl_->dtype = dtype;
}
const CustomGetter& VariableScope::custom_getter() const {
  check();
  return impl_->custom_getter;
}
void VariableScope::set_custom_getter(CustomGetter getter) {
  check();
  impl_->custom_getter = std::move(getter);
}
const Regularizer& VariableScope::regularizer() const {
  check();
  return impl_->regularizer;
}
void VariableScope::set_regularizer(Regularizer regularizer) {
  check();
  impl_->regularizer = std::move(regularizer);
}
const Constraint& VariableScope::constraint() const {
  check();
  return impl_->constraint;
}
const Partitioner& VariableScope::partitioner() const {
  check();
  return impl_->partitioner;
}
void VariableScope::set_partitioner(Partitioner partitioner) {
  check();
  impl_->partitioner = std::move(partitioner);
}

Variable VariableScope::get_variable(const std::string& name, const std::optional<Shape>& shape,
                                     const GetVariableOptions& options,
                                     std::source_location where) const {
  check();
  Graph g = get_default_graph();
  const std::string full_name = impl_->name.empty() ? name : impl_->name + "/" + name;
  name_scope root("");  // variable names depend on the variable scope only
  if (options.dtype != DType::kInvalid && options.initializer.is_value() &&
      options.initializer.value_dtype() != options.dtype)
    throw ValueError(str_cat("Initializer type '", dtype_name(options.initializer.value_dtype()),
                             "' and explicit dtype '", dtype_name(options.dtype),
                             "' don't match."));
  GetVariableOptions opts = options;
  if (opts.initializer.empty()) opts.initializer = impl_->initializer;
  if (opts.dtype == DType::kInvalid) opts.dtype = impl_->dtype;
  if (!opts.reuse) opts.reuse = impl_->reuse;
  if (!opts.regularizer) opts.regularizer = impl_->regularizer;
  if (!opts.constraint) opts.constraint = impl_->constraint;
  if (!opts.partitioner) opts.partitioner = impl_->partitioner;
  const std::string at = to_string(where);
  Getter true_getter = [g, at](const std::string& n, const Shape& s, const GetVariableOptions& o) {
    return true_get(g, n, s, o, at);
  };
  const Shape s = shape ? *shape : Shape::unknown();
  if (impl_->custom_getter) return impl_->custom_getter(true_getter, full_name, s, opts);
  return true_getter(full_name, s, opts);
}

std::vector<Variable> VariableScope::global_variables() const {
  return get_collection<Variable>(GraphKeys::GLOBAL_VARIABLES);
}
std::vector<Variable> VariableScope::trainable_variables() const {
  return get_collection<Variable>(GraphKeys::TRAINABLE_VARIABLES);
}
std::vector<Variable> VariableScope::local_variables() const {
  return get_collection<Variable>(GraphKeys::LOCAL_VARIABLES);
}

VariableScope& get_variable_scope() { return *scope_store(get_default_graph()).current; }

// ---------------------------------------------------------------- variable_scope
namespace {
// The name scope to re-enter when auxiliary_name_scope is false: the current one.
std::unique_ptr<name_scope> reenter_current_name_scope() {
  const std::string cur = get_name_scope();
  return std::make_unique<name_scope>(cur.empty() ? std::string() : cur + "/");
}
}  // namespace

variable_scope::variable_scope(std::string_view name, const VariableScopeOptions& options)
    : graph_(get_default_graph()) {
  check_reuse_arg(options.reuse);
  if (name.empty()) {
    if (options.default_name.empty())
      throw ValueError("If default_name is empty then name_or_scope is required");
    if (options.reuse.mode() == ReuseArg::Mode::kTrue ||
        options.reuse.mode() == ReuseArg::Mode::kAuto)
      throw ValueError("reuse=true cannot be used without a name_or_scope");
    name_scope_ = options.auxiliary_name_scope ? std::make_unique<name_scope>(options.default_name)
                                               : reenter_current_name_scope();
    name_scope_name_ = name_scope_->name();
    const std::string unique = unique_variable_scope(scope_store(graph_), options.default_name);
    enter_pure(std::nullopt, unique, options, name_scope_name_);
    return;
  }
  name_scope_ = options.auxiliary_name_scope ? std::make_unique<name_scope>(name)
                                             : reenter_current_name_scope();
  name_scope_name_ = name_scope_->name();
  enter_pure(std::nullopt, std::string(name), options, name_scope_name_);
}

variable_scope::variable_scope(const VariableScope& scope, const VariableScopeOptions& options)
    : graph_(get_default_graph()) {
  check_reuse_arg(options.reuse);
  if (!scope.impl()) throw ValueError("variable_scope: the VariableScope handle is empty");
  if (options.auxiliary_name_scope) {
    const std::string& full = scope.name();
    const std::string last =
        full.substr(full.rfind('/') == std::string::npos ? 0 : full.rfind('/') + 1);
    if (!last.empty()) name_scope_ = std::make_unique<name_scope>(last);
  } else {
    name_scope_ = reenter_current_name_scope();
  }
  if (name_scope_) name_scope_name_ = name_scope_->name();
  enter_pure(scope, scope.name(), options, scope.original_name_scope());
}

void variable_scope::enter_pure(const std::optional<VariableScope>& scope, const std::string& name,
                                const VariableScopeOptions& options,
                                const std::string& old_name_scope) {
  ScopeStore& store = scope_store(graph_);
  previous_ = store.current;
  old_ = *store.current;
  auto impl = std::make_shared<VariableScope::Impl>();
  const VariableScope::Impl& base = scope ? *scope->impl() : *old_.impl();
  if (scope) {
    by_object_ = true;
    new_name_ = base.name;
    impl->name = base.name;
    impl->original_name_scope = base.original_name_scope;
    impl->reuse = combine_reuse(options.reuse, base.reuse);
  } else {
    new_name_ = old_.name().empty() ? name : old_.name() + "/" + name;
    impl->name = new_name_;
    impl->original_name_scope = old_name_scope;
    impl->reuse = combine_reuse(options.reuse, old_.reuse_mode());
  }
  impl->initializer = options.initializer.empty() ? base.initializer : options.initializer;
  impl->dtype = options.dtype == DType::kInvalid ? base.dtype : options.dtype;
  impl->regularizer = options.regularizer ? options.regularizer : base.regularizer;
  impl->partitioner = options.partitioner ? options.partitioner : base.partitioner;
  impl->constraint = options.constraint;  // NOTE: not inherited, not kept by re-entry (TF)
  impl->custom_getter = options.custom_getter
                            ? wrap_custom_getter(options.custom_getter, base.custom_getter)
                            : base.custom_getter;
  store.open_variable_scope(new_name_);
  if (by_object_) old_subscopes_ = store.counts;
  entered_ = VariableScope(impl);
  store.current = &entered_;
}

variable_scope::~variable_scope() {
  ScopeStore& store = scope_store(graph_);
  if (by_object_)
    store.counts = old_subscopes_;
  else
    store.close_variable_subscopes(new_name_);
  store.current = previous_;
  name_scope_.reset();
}

Variable get_variable(std::string_view name, const Shape& shape, const GetVariableOptions& options,
                      std::source_location where) {
  return get_variable_scope().get_variable(std::string(name), shape, options, where);
}

Variable get_local_variable(std::string_view name, const Shape& shape,
                            const GetVariableOptions& options, std::source_location where) {
  GetVariableOptions o = options;
  if (!o.collections) o.collections = std::vector<std::string>{};
  o.collections->push_back(GraphKeys::LOCAL_VARIABLES);
  o.trainable = false;
  return get_variable_scope().get_variable(std::string(name), shape, o, where);
}

}  // namespace scopeflow
