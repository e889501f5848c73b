// Initializers. See initializers.h; formulas from TF's init_ops.py (v1).
#include "scope/initializers.h"

#include <cmath>

#include "devices/base/errors.h"
#include "scope/ops/ops.h"

namespace scopeflow {

std::pair<double, double> compute_fans(const Shape& shape) {
  const auto& d = shape.dims();
  if (d.empty()) return {1.0, 1.0};
  if (d.size() == 1) return {static_cast<double>(d[0]), static_cast<double>(d[0])};
  if (d.size() == 2) return {static_cast<double>(d[0]), static_cast<double>(d[1])};
  double receptive = 1.0;
  for (std::size_t i = 0; i + 2 < d.size(); ++i) receptive *= static_cast<double>(d[i]);
  return {static_cast<double>(d[d.size() - 2]) * receptive,
          static_cast<double>(d[d.size() - 1]) * receptive};
}

Initializer constant_initializer(double value) {
  return {
      [value](const Shape& shape, DType dtype) { return constant(value, dtype, shape, "Const"); },
      str_cat("constant_initializer(", value, ")")};
}

Initializer zeros_initializer() {
  return {[](const Shape& shape, DType dtype) { return zeros(shape, dtype); },
          "zeros_initializer()"};
}

Initializer ones_initializer() {
  return {[](const Shape& shape, DType dtype) { return ones(shape, dtype); }, "ones_initializer()"};
}

Initializer random_uniform_initializer(double minval, double maxval,
                                       std::optional<std::int64_t> seed) {
  return {[=](const Shape& shape, DType dtype) {
            return random_uniform(shape, minval, maxval, dtype, seed);
          },
          str_cat("random_uniform_initializer(", minval, ", ", maxval, ")")};
}

Initializer random_normal_initializer(double mean, double stddev,
                                      std::optional<std::int64_t> seed) {
  return {[=](const Shape& shape, DType dtype) {
            return random_normal(shape, mean, stddev, dtype, seed);
          },
          str_cat("random_normal_initializer(", mean, ", ", stddev, ")")};
}

Initializer truncated_normal_initializer(double mean, double stddev,
                                         std::optional<std::int64_t> seed) {
  return {[=](const Shape& shape, DType dtype) {
            return truncated_normal(shape, mean, stddev, dtype, seed);
          },
          str_cat("truncated_normal_initializer(", mean, ", ", stddev, ")")};
}

Initializer variance_scaling_initializer(double scale, const std::string& mode,
                                         const std::string& distribution,
                                         std::optional<std::int64_t> seed) {
  if (!(scale > 0.0)) throw ValueError("`scale` must be positive float.");
  if (mode != "fan_in" && mode != "fan_out" && mode != "fan_avg")
    throw ValueError(str_cat("Invalid `mode` argument: ", mode));
  const std::string dist = distribution == "normal" ? "truncated_normal" : distribution;
  if (dist != "truncated_normal" && dist != "untruncated_normal" && dist != "uniform")
    throw ValueError(str_cat("Invalid `distribution` argument: ", distribution));
  // The fans come from `fan_shape`: the variable's shape, or a shard's full variable's.
  auto make = [=](const Shape& shape, const Shape& fan_shape, DType dtype) {
    auto [fan_in, fan_out] = compute_fans(fan_shape);
    double s = scale;
    if (mode == "fan_in")
      s /= std::max(1.0, fan_in);
    else if (mode == "fan_out")
      s /= std::max(1.0, fan_out);
    else
      s /= std::max(1.0, (fan_in + fan_out) / 2.0);
    if (dist == "truncated_normal") {
      // NOTE: 0.879... is the stddev of a standard normal truncated to [-2, 2].
      return truncated_normal(shape, 0.0, std::sqrt(s) / .87962566103423978, dtype, seed);
    }
    if (dist == "untruncated_normal") return random_normal(shape, 0.0, std::sqrt(s), dtype, seed);
    const double limit = std::sqrt(3.0 * s);
    return random_uniform(shape, -limit, limit, dtype, seed);
  };
  Initializer init;
  init.fn = [make](const Shape& shape, DType dtype) { return make(shape, shape, dtype); };
  init.partitioned_fn = [make](const Shape& shape, DType dtype, const PartitionInfo& info) {
    return make(shape, info.full_shape, dtype);
  };
  init.description = str_cat("variance_scaling_initializer(", scale, ", ", mode, ", ", dist, ")");
  return init;
}

Initializer glorot_uniform_initializer(std::optional<std::int64_t> seed) {
  Initializer i = variance_scaling_initializer(1.0, "fan_avg", "uniform", seed);
  i.description = "glorot_uniform_initializer()";
  return i;
}

Initializer glorot_normal_initializer(std::optional<std::int64_t> seed) {
  Initializer i = variance_scaling_initializer(1.0, "fan_avg", "truncated_normal", seed);
  i.description = "glorot_normal_initializer()";
  return i;
}

Output InitializerArg::value_output() const {
  if (value_.valid()) return value_;
  if (tensor_.initialized()) return constant(tensor_, "initial_value");
  throw ValueError("InitializerArg: no value");
}

Output InitializerArg::value_output(DType dtype) const {
  if (number_ && dtype != DType::kInvalid && dtype != tensor_.dtype())
    return constant(detail::scalar_tensor(*number_, dtype), "initial_value");
  return value_output();
}

DType InitializerArg::value_dtype() const {
  if (value_.valid()) return value_.dtype();
  if (tensor_.initialized()) return tensor_.dtype();
  return DType::kInvalid;
}

}  // namespace scopeflow
