// TF1's variable scopes: sf::VariableScope (a handle to a scope object), the
// sf::variable_scope guard, reuse (false / true / AUTO_REUSE) with TF's inheritance rules,
// default_name uniquification, auxiliary name scopes, scope-level initializer and dtype,
// chained custom getters, and sf::get_variable / sf::get_local_variable over the graph's
// variable store. Names, flags and errors follow CONFORMANCE.md.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "scope/initializers.h"
#include "scope/scopes.h"
#include "scope/variable.h"

namespace scopeflow {

enum class ReuseMode { kFalse, kTrue, kAuto };

struct AutoReuse {};
inline constexpr AutoReuse AUTO_REUSE{};

// What `.reuse` accepts: true, false (which means "inherit", as in TF), sf::AUTO_REUSE.
// Any other value (an integer) is rejected when the scope is entered, as TF does.
class ReuseArg {
 public:
  ReuseArg() = default;
  ReuseArg(bool reuse) : mode_(reuse ? Mode::kTrue : Mode::kInherit) {}  // NOLINT
  ReuseArg(AutoReuse) : mode_(Mode::kAuto) {}                            // NOLINT
  ReuseArg(ReuseMode m)                                                  // NOLINT
      : mode_(m == ReuseMode::kTrue   ? Mode::kTrue
              : m == ReuseMode::kAuto ? Mode::kAuto
                                      : Mode::kInherit) {}
  template <class I>
  requires(std::integral<I> && !std::same_as<I, bool>) ReuseArg(I)
      : mode_(Mode::kInvalid) {}  // NOLINT
  enum class Mode { kInherit, kTrue, kAuto, kInvalid };
  Mode mode() const { return mode_; }

 private:
  Mode mode_ = Mode::kInherit;
};

struct GetVariableOptions;
class Variable;
using Getter = std::function<Variable(const std::string&, const Shape&, const GetVariableOptions&)>;
using CustomGetter = std::function<Variable(const Getter& next, const std::string& name,
                                            const Shape& shape, const GetVariableOptions& options)>;

// TF's regularizer: a function of a new variable's value giving a loss tensor, added to
// GraphKeys::REGULARIZATION_LOSSES; an empty Output means no loss (sf::no_regularizer).
using Regularizer = std::function<Output(const Output& weights)>;
// TF's tf.no_regularizer: turns off a scope's regularizer for a variable or a sub-scope.
Output no_regularizer(const Output& weights);

// TF's partitioner: the full shape (fully defined, rank >= 1) and dtype of a new variable
// in, the number of shards per axis out (at most one entry > 1). See
// scope/partitioned_variables.h for TF's three (fixed_size_, variable_axis_size_,
// min_max_variable_partitioner). When one applies, get_variable(name, shape) makes the
// shards "<name>/part_0" .. "<name>/part_<n-1>" (TF's _get_partitioned_variable):
//  - the first dim % n shards get one more row than the rest (7 rows in 3: 3, 2, 2);
//  - each shard is a plain Variable in GLOBAL_VARIABLES (and TRAINABLE_VARIABLES), with the
//    initializer called with the shard's shape (and a PartitionInfo, so the variance-scaling
//    family uses the full shape's fans, as TF); a value initializer is split along the axis
//    ("<name>/PartitionedInitializer/split"); the regularizer adds one loss per shard;
//  - NOTE: a seeded random initializer gives every shard the same seed, so shards of equal
//    shape start equal, as in TF (its partitioned_variables.py TODO says so);
//  - the returned Variable is partitioned (Variable::is_partitioned(), partitions(),
//    name() "<scope>/<name>" without ":0", value() the ConcatV2 of the shards).
// A scalar shape (`{}`) ignores the partitioner. Reuse returns the same partitioned Variable
// (with reuse=true it may be asked for without a partitioner); TF's ValueErrors for a
// different partitioning, or a plain variable where a partitioned one exists and back.
using Partitioner = std::function<std::vector<std::int64_t>(const Shape& shape, DType dtype)>;

struct GetVariableOptions {
  DType dtype = DType::kInvalid;  // default: the scope's dtype (float32)
  InitializerArg initializer = {};
  std::optional<bool> trainable = {};
  std::optional<std::vector<std::string>> collections = {};
  bool validate_shape = true;
  // Set by the scope before getters run (what TF passes as kwargs["reuse"]).
  std::optional<ReuseMode> reuse = {};
  // Null: the scope's. Applied to the new variable only (a reused one adds no loss), under
  // the name scope "<variable name>/Regularizer/", colocated with the variable.
  Regularizer regularizer = nullptr;
  // Null: the scope's (see VariableScopeOptions::constraint).
  Constraint constraint = nullptr;
  // Null: the scope's. See Partitioner.
  Partitioner partitioner = nullptr;
};

struct VariableScopeOptions {
  ReuseArg reuse = {};
  InitializerArg initializer = {};
  DType dtype = DType::kInvalid;
  std::string default_name = "";
  bool auxiliary_name_scope = true;
  CustomGetter custom_getter = nullptr;
  // Inherited by sub-scopes and re-entries, as the initializer is.
  Regularizer regularizer = nullptr;
  // This scope's only: NOT inherited by sub-scopes or kept by re-entry (TF's rule).
  Constraint constraint = nullptr;
  // Inherited by sub-scopes and re-entries, as the initializer is. See Partitioner.
  Partitioner partitioner = nullptr;
};

class VariableScope {
 public:
  struct Impl;
  VariableScope() = default;
  explicit VariableScope(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  const std::string& name() const;
  // True for reuse=true and AUTO_REUSE.
  bool reuse() const { return reuse_mode() != ReuseMode::kFalse; }
  ReuseMode reuse_mode() const;
  void reuse_variables();
  const std::string& original_name_scope() const;
  const InitializerArg& initializer() const;
  void set_initializer(const InitializerArg& init);
  DType dtype() const;
  void set_dtype(DType dtype);
  const CustomGetter& custom_getter() const;
  void set_custom_getter(CustomGetter getter);
  const Regularizer& regularizer() const;
  void set_regularizer(Regularizer regularizer);
  const Constraint& constraint() const;
  const Partitioner& partitioner() const;
  void set_partitioner(Partitioner partitioner);

  Variable get_variable(const std::string& name, const std::optional<Shape>& shape,
                        const GetVariableOptions& options = {},
                        std::source_location where = std::source_location::current()) const;
  template <class T = Variable>
  std::vector<T> get_collection(const std::string& key) const {
    return scopeflow::get_collection<T>(key, name().empty() ? "" : name() + "/");
  }
  std::vector<Variable> global_variables() const;
  std::vector<Variable> trainable_variables() const;
  std::vector<Variable> local_variables() const;

  const std::shared_ptr<Impl>& impl() const { return impl_; }
  friend bool operator==(const VariableScope& a, const VariableScope& b) {
    return a.impl_ == b.impl_;
  }

 private:
  void check() const;
  std::shared_ptr<Impl> impl_;
};

// The current variable scope of the default graph: the object itself (the root's, or the one
// the enclosing variable_scope block entered), so a reference taken here keeps naming that
// scope after other blocks are entered, as TF's returned object does.
VariableScope& get_variable_scope();

class [[nodiscard]] variable_scope {
 public:
  // A string scope: "" means use options.default_name, made unique.
  [[nodiscard]] explicit variable_scope(std::string_view name,
                                        const VariableScopeOptions& options = {});
  // Re-opens a scope object (its name is absolute; its settings and reuse are copied).
  [[nodiscard]] explicit variable_scope(const VariableScope& scope,
                                        const VariableScopeOptions& options = {});
  ~variable_scope();
  variable_scope(const variable_scope&) = delete;
  variable_scope& operator=(const variable_scope&) = delete;

  // The entered scope object.
  VariableScope& get() { return entered_; }
  VariableScope* operator->() { return &entered_; }
  // The name scope this block opened ("vs/", "vs_1/"; "" when none).
  const std::string& name_scope_name() const { return name_scope_name_; }

 private:
  void enter_pure(const std::optional<VariableScope>& scope, const std::string& name,
                  const VariableScopeOptions& options, const std::string& old_name_scope);
  Graph graph_;
  std::unique_ptr<name_scope> name_scope_;
  std::string name_scope_name_;
  VariableScope old_;
  VariableScope* previous_ = nullptr;  // the current scope object before this block
  VariableScope entered_;
  bool by_object_ = false;
  std::string new_name_;
  std::map<std::string, int> old_subscopes_;
};

// tf.get_variable(name, shape, ...): `{}` as shape is the scalar shape [].
Variable get_variable(std::string_view name, const Shape& shape,
                      const GetVariableOptions& options = {},
                      std::source_location where = std::source_location::current());
// tf.get_variable(name, initializer=value, ...): no shape (the value gives it). A
// constrained template so that `get_variable("v", {})` picks the shape overload.
template <class O = GetVariableOptions>
requires std::same_as<O, GetVariableOptions> Variable
get_variable(std::string_view name, const O& options = {},
             std::source_location where = std::source_location::current()) {
  return get_variable_scope().get_variable(std::string(name), std::nullopt, options, where);
}

Variable get_local_variable(std::string_view name, const Shape& shape,
                            const GetVariableOptions& options = {},
                            std::source_location where = std::source_location::current());
template <class O = GetVariableOptions>
requires std::same_as<O, GetVariableOptions> Variable
get_local_variable(std::string_view name, const O& options = {},
                   std::source_location where = std::source_location::current()) {
  GetVariableOptions o = options;
  if (!o.collections) o.collections = std::vector<std::string>{};
  o.collections->push_back(GraphKeys::LOCAL_VARIABLES);
  o.trainable = false;
  return get_variable_scope().get_variable(std::string(name), std::nullopt, o, where);
}

}  // namespace scopeflow
