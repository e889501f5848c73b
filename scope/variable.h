// sf::Variable: TF1's RefVariable. The graph holds a VariableV2 op `v`, `v/Assign` (the
// initializer), `v/read` (the value) and the initial value's ops; the Session holds the
// buffer. Variable is a cheap handle: copies refer to the same variable.
//
// A Variable may also be partitioned (TF's PartitionedVariable, what get_variable returns
// under a partitioner, see scope/partitioned_variables.h): it then stands for its shards
// "<name>/part_0", "<name>/part_1", ... (each a plain Variable in the collections), its
// name() is "<name>" without ":0", and its value() is their concatenation along the
// partitioned axis (a ConcatV2 named "<name>", or an Identity for one shard), so matmul(x, w)
// works and gradients reach every shard through ConcatV2's gradient.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "runtime/graph.h"
#include "scope/initializers.h"

namespace scopeflow {

struct GraphKeys {
  inline static const std::string GLOBAL_VARIABLES = "variables";
  inline static const std::string TRAINABLE_VARIABLES = "trainable_variables";
  inline static const std::string LOCAL_VARIABLES = "local_variables";
  inline static const std::string MODEL_VARIABLES = "model_variables";
  // Losses added by variables' regularizers (get_variable's `regularizer`).
  inline static const std::string REGULARIZATION_LOSSES = "regularization_losses";
  // Variables an ExponentialMovingAverage averages (tf.moving_average_variables()).
  inline static const std::string MOVING_AVERAGE_VARIABLES = "moving_average_variables";
  // Ops to run with each training step: the moving-statistics updates of batch normalization
  // layers (tf.GraphKeys.UPDATE_OPS).
  inline static const std::string UPDATE_OPS = "update_ops";
};

// TF's `constraint`: a projection applied to a variable after each optimizer update (the
// updated value in, the projected value out, same shape), e.g. a norm or value clip.
using Constraint = std::function<Output(const Output& value)>;

struct VariableOptions {
  std::string name = "";                                     // default "Variable"
  std::optional<bool> trainable = {};                        // default true
  std::optional<std::vector<std::string>> collections = {};  // default {GLOBAL_VARIABLES}
  DType dtype = DType::kInvalid;                             // default: the value's
  bool validate_shape = true;
  Constraint constraint = nullptr;  // applied by optimizers after each update
};

class Variable {
 public:
  struct Impl;
  Variable() = default;
  // tf.Variable(initial_value, name=...): always a new variable, named through the name
  // scope (v, v_1, ...), never in the get_variable store.
  Variable(const InitializerArg& initial_value, const VariableOptions& options = {},
           std::source_location where = std::source_location::current());

  bool valid() const { return impl_ != nullptr; }
  // "vs/v:0"; for a partitioned variable "vs/v" (TF's PartitionedVariable.name).
  std::string name() const;
  // The VariableV2 op ("vs/v"). ValueError for a partitioned variable (it has none; see
  // partitions()), as are ref(), device(), initial_value().
  Operation op() const;
  Shape shape() const;
  DType dtype() const;
  // The requested device of the variable op.
  const std::string& device() const;
  Graph graph() const;
  // v/read: the value. Partitioned: the shards' concatenation (made with the variable).
  Output value() const;
  operator Output() const { return value(); }  // NOLINT(google-explicit-constructor)
  // The VariableV2 output (a reference in TF terms).
  Output ref() const;
  // Partitioned: a NoOp grouping the shards' initializers (made on first use).
  Operation initializer() const;
  Output initial_value() const;
  // The value after initialization has run (TF: a cond on is_variable_initialized; here
  // an identity with a control dependency on the initializer).
  Output initialized_value() const;
  Output read_value() const;
  // Partitioned: `value` is split along the partitioned axis, each piece assigned to its
  // shard, and the result is the concatenation of the assigned values.
  Output assign(const Output& value, std::string_view name = "") const;
  Output assign_add(const Output& value, std::string_view name = "") const;
  Output assign_sub(const Output& value, std::string_view name = "") const;
  bool trainable() const;

  // ---- partitioned variables (TF's PartitionedVariable)
  bool is_partitioned() const;
  // The shards in order ("<name>/part_0", ...); {*this} for a plain variable.
  std::vector<Variable> partitions() const;
  // TF's _get_partitions(): the number of shards per axis ([2, 1, 1]); all 1 for a plain one.
  std::vector<std::int64_t> partition_counts() const;
  // The axis the shards are cut along (0 when there is one shard).
  int partition_axis() const;
  // TF's Variable.SaveSliceInfo (`_save_slice_info`): where a shard sits in the variable it is
  // part of, so that a Saver writes the whole variable under `full_name` ("emb/w") and restores
  // it into any partitioning. Set on each shard of a partitioned variable, and on the
  // optimizer slots of a shard ("emb/w/part_0/Adam": full_name "emb/w/Adam"); empty otherwise.
  struct SaveSliceInfo {
    std::string full_name;
    Shape full_shape;
    std::vector<std::int64_t> var_offset;  // per dimension
    std::vector<std::int64_t> var_shape;   // the shard's shape
  };
  const std::optional<SaveSliceInfo>& save_slice_info() const;
  // Internal: TF's _set_save_slice_info (used for the shards and their optimizer slots).
  void set_save_slice_info(const SaveSliceInfo& info) const;
  // The projection optimizers apply after updating it (null: none).
  const Constraint& constraint() const;
  // FILE:LINE of the C++ call that created it.
  const std::string& created_at() const;

  friend bool operator==(const Variable& a, const Variable& b) { return a.impl_ == b.impl_; }

  // Internal: builds a variable (used by tf.Variable and get_variable).
  struct Spec {
    std::string name;                 // name-scope name ("vs/v" at the root for get_variable)
    std::function<Output()> init_fn;  // builds the initial value under v/Initializer/
    InitializerArg value;             // or a value
    DType dtype = DType::kInvalid;
    std::optional<bool> trainable;
    std::optional<std::vector<std::string>> collections;
    bool validate_shape = true;
    std::string created_at;
    Constraint constraint;
  };
  static Variable create(const Spec& spec);
  // Internal: the partitioned variable over `parts` (used by get_variable). Builds the
  // concatenation under the root name scope, named `name`.
  static Variable create_partitioned(const std::string& name, const Shape& shape, DType dtype,
                                     std::vector<Variable> parts,
                                     std::vector<std::int64_t> partition_counts,
                                     const std::string& created_at);

 private:
  void check() const;
  std::shared_ptr<Impl> impl_;
};

std::string to_string(const std::source_location& where);

// ---------------------------------------------------------------- collections
// TF's tf.add_to_collection: any value (Variables, Outputs, Operations).
template <class T>
void add_to_collection(const std::string& key, const T& value) {
  get_default_graph().add_to_collection(key, std::any(value));
}
// Items of type T in the collection whose name matches `scope` as a regex prefix
// (re.match), all of them when `scope` is empty.
template <class T>
std::vector<T> get_collection(const std::string& key, const std::string& scope = "");
template <>
std::vector<Variable> get_collection<Variable>(const std::string& key, const std::string& scope);
template <>
std::vector<Output> get_collection<Output>(const std::string& key, const std::string& scope);
template <>
std::vector<Operation> get_collection<Operation>(const std::string& key, const std::string& scope);

std::vector<Variable> global_variables(const std::string& scope = "");
// The variables with each partitioned one replaced by its shards, in order.
std::vector<Variable> flatten_partitions(const std::vector<Variable>& vars);
std::vector<Variable> trainable_variables(const std::string& scope = "");
std::vector<Variable> local_variables(const std::string& scope = "");

// NoOp "init" running every variable's initializer.
Operation variables_initializer(const std::vector<Variable>& vars, std::string_view name = "init");
Operation global_variables_initializer();
Operation local_variables_initializer();
// A 1-D string tensor of the op names of uninitialized variables (global + local when
// `vars` is not given).
Output report_uninitialized_variables(std::optional<std::vector<Variable>> vars = {},
                                      std::string_view name = "report_uninitialized_variables");
Output is_variable_initialized(const Variable& v, std::string_view name = "");

}  // namespace scopeflow
