// Initializers as graph builders (TF's init_ops v1): each builds the ops that compute an
// initial value of a given shape and dtype under the current name scope, with TF's op
// names (v/Initializer/random_uniform, v/Initializer/zeros, ...) and formulas.
#pragma once

#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "devices/tensor.h"
#include "runtime/graph.h"

namespace scopeflow {

// TF's _PartitionInfo: where a shard of a partitioned variable lies in the full variable.
struct PartitionInfo {
  Shape full_shape;
  std::vector<std::int64_t> var_offset;
};

struct Initializer {
  std::function<Output(const Shape& shape, DType dtype)> fn;
  std::string description;  // "glorot_uniform_initializer()", for messages
  // Optional, for shards of partitioned variables (TF passes partition_info): the
  // variance-scaling family computes its fans from info.full_shape, as TF does. Null: fn is
  // called with the shard's shape.
  std::function<Output(const Shape& shape, DType dtype, const PartitionInfo& info)> partitioned_fn =
      nullptr;
  Output operator()(const Shape& shape, DType dtype) const { return fn(shape, dtype); }
  Output operator()(const Shape& shape, DType dtype, const PartitionInfo* info) const {
    return info && partitioned_fn ? partitioned_fn(shape, dtype, *info) : fn(shape, dtype);
  }
  explicit operator bool() const { return static_cast<bool>(fn); }
};

Initializer constant_initializer(double value = 0.0);
Initializer zeros_initializer();
Initializer ones_initializer();
Initializer random_uniform_initializer(double minval = 0.0, double maxval = 1.0,
                                       std::optional<std::int64_t> seed = {});
Initializer random_normal_initializer(double mean = 0.0, double stddev = 1.0,
                                      std::optional<std::int64_t> seed = {});
Initializer truncated_normal_initializer(double mean = 0.0, double stddev = 1.0,
                                         std::optional<std::int64_t> seed = {});
// mode: "fan_in" | "fan_out" | "fan_avg"; distribution: "truncated_normal" (alias "normal"),
// "untruncated_normal", "uniform". ValueError for other values or scale <= 0.
Initializer variance_scaling_initializer(double scale = 1.0, const std::string& mode = "fan_in",
                                         const std::string& distribution = "truncated_normal",
                                         std::optional<std::int64_t> seed = {});
Initializer glorot_uniform_initializer(std::optional<std::int64_t> seed = {});
Initializer glorot_normal_initializer(std::optional<std::int64_t> seed = {});

// (fan_in, fan_out) of a shape, TF's _compute_fans.
std::pair<double, double> compute_fans(const Shape& shape);

// What `.initializer` accepts: an Initializer, or a value (an Output, a Tensor, a number),
// in which case no shape may be given and the dtype comes from the value.
class InitializerArg {
 public:
  InitializerArg() = default;
  InitializerArg(Initializer init) : init_(std::move(init)) {}  // NOLINT
  InitializerArg(Output value) : value_(std::move(value)) {}    // NOLINT
  InitializerArg(const Tensor& value) : tensor_(value) {}       // NOLINT
  template <class S>
  requires std::is_arithmetic_v<S> InitializerArg(
      S value)  // NOLINT: float/double -> float32, bool -> bool, integers -> int32
      : tensor_(std::is_same_v<S, bool>       ? Tensor::from_scalar(static_cast<bool>(value))
                : std::is_floating_point_v<S> ? Tensor::from_scalar(static_cast<float>(value))
                : sizeof(S) > 4 ? Tensor::from_scalar(static_cast<std::int64_t>(value))
                                : Tensor::from_scalar(static_cast<std::int32_t>(value))),
        number_(std::is_same_v<S, bool> ? std::nullopt
                                        : std::optional<double>(static_cast<double>(value))) {}

  bool empty() const { return !init_ && !value_.valid() && !tensor_.initialized(); }
  bool is_value() const { return value_.valid() || tensor_.initialized(); }
  const Initializer& initializer() const { return init_; }
  // The value as an Output (a Const named "initial_value" is made for tensors and numbers).
  Output value_output() const;
  // The same, a number made in `dtype` when one is requested (TF converts a Python number to
  // the dtype asked for: tf.Variable(0, dtype=tf.int64)); tensors and Outputs keep theirs.
  Output value_output(DType dtype) const;
  DType value_dtype() const;

 private:
  Initializer init_;
  Output value_;
  Tensor tensor_;
  std::optional<double> number_;  // when the value was a number (not a bool)
};

}  // namespace scopeflow
