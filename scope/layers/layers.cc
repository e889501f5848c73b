// tf.layers as functions. See layers.h.
#include "scope/layers/layers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <tuple>

#include "devices/base/errors.h"
#include "scope/ops/control_flow.h"
#include "scope/ops/embedding.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"
#include "scope/variable.h"

namespace scopeflow::layers {
namespace {

// TF's _set_scope: a named layer (or an unnamed one asked to reuse) opens the variable scope of
// its name; an unnamed one a unique scope named after its class. Either opens the name scope
// its ops go to.
VariableScopeOptions scope_options(const std::string& name, const std::string& base,
                                   const ReuseArg& reuse, bool reusing) {
  VariableScopeOptions o;
  o.reuse = reuse;
  if (name.empty() && !reusing) o.default_name = base;
  return o;
}

std::string scope_name(const std::string& name, const std::string& base, bool reusing) {
  if (!name.empty()) return name;
  return reusing ? base : "";
}

// The layer's own reuse argument (TF's self._reuse: true or AUTO_REUSE), not the scope's.
bool reuse_requested(const ReuseArg& reuse) {
  return reuse.mode() == ReuseArg::Mode::kTrue || reuse.mode() == ReuseArg::Mode::kAuto;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string padding_of(const std::string& padding, const char* layer) {
  const std::string p = upper(padding);
  if (p != "VALID" && p != "SAME")
    throw ValueError(
        str_cat(layer, ": padding must be \"valid\" or \"same\", got \"", padding, "\""));
  return p;
}

// TF's Layer.add_weight: get_variable in the layer's scope (a null constraint: the scope's).
Variable add_weight(const std::string& name, const Shape& shape, DType dtype,
                    const InitializerArg& init, const Regularizer& regularizer, bool trainable,
                    const Constraint& constraint = nullptr) {
  GetVariableOptions o;
  o.dtype = dtype;
  o.initializer = init;
  o.trainable = trainable;
  o.regularizer = regularizer;
  o.constraint = constraint;
  return get_variable(name, shape, o);
}

// The user's initializer, or the layer's default when none was given.
InitializerArg or_default(const InitializerArg& init, InitializerArg fallback) {
  return init.empty() ? std::move(fallback) : init;
}

// The layer's kernel and bias (none without use_bias), made in its variable scope before its
// ops, as TF's build() before call().
struct Weights {
  Variable kernel, bias;
};
template <class Options>
Weights make_weights(const Options& o, const Shape& kernel_shape, std::int64_t units, DType dt) {
  Weights w;
  w.kernel = add_weight("kernel", kernel_shape, dt, o.kernel_initializer, o.kernel_regularizer,
                        o.trainable);
  if (o.use_bias)
    w.bias =
        add_weight("bias", Shape{units}, dt, or_default(o.bias_initializer, zeros_initializer()),
                   o.bias_regularizer, o.trainable);
  return w;
}

// The bias added and the activation applied.
Output finish(Output out, const Weights& w, const Activation& activation) {
  if (w.bias.valid()) out = nn::bias_add(out, w.bias.value());
  if (!activation) return out;
  Output activated = activation(out);
  if (!activated.valid()) throw ValueError("the layer's activation returned an empty Output");
  return activated;
}

// TF's conv_utils.normalize_tuple: every entry > 0, checked before any variable is made.
void check_positive(const std::array<std::int64_t, 2>& v, const char* what) {
  if (v[0] <= 0 || v[1] <= 0)
    throw ValueError(str_cat("The '", what, "' argument must be a tuple of 2 integers. Received: (",
                             v[0], ", ", v[1],
                             ") including values that do not satisfy the "
                             "requirement '> 0'."));
}

}  // namespace

Output dense(const Output& inputs, std::int64_t units, const DenseOptions& options) {
  if (!inputs.valid()) throw ValueError("dense: inputs is an empty Output");
  // TF 2.21's messages (tf_keras' Dense: units 0 is allowed, min_ndim 2, a defined last axis).
  if (units < 0)
    throw ValueError(str_cat(
        "Received an invalid value for `units`, expected a positive integer. Received: units=",
        units));
  const Shape s = inputs.shape();
  if (s.has_rank() && s.rank() < 2)
    throw ValueError(
        str_cat("Input 0 of layer \"dense\" is incompatible with the layer: expected "
                "min_ndim=2, found ndim=",
                s.rank(), ". Full shape received: ", s.to_string()));
  if (!s.has_rank() || s.dims().back() < 0)
    throw ValueError(
        str_cat("The last dimension of the inputs to a Dense layer should be defined. "
                "Found None. Full input shape received: ",
                s.to_string()));
  const int rank = s.rank();
  const bool reusing = reuse_requested(options.reuse);
  variable_scope vs(scope_name(options.name, "dense", reusing),
                    scope_options(options.name, "dense", options.reuse, reusing));
  const Weights w = make_weights(options, Shape{s.dims().back(), units}, units, inputs.dtype());
  // TF: a matrix product for rank 2, tensordot over the last axis above (every leading axis
  // kept: [batch, time, features] -> [batch, time, units]).
  Output out = rank == 2 ? matmul(inputs, w.kernel.value())
                         : tensordot(inputs, w.kernel.value(), std::vector<std::int64_t>{rank - 1},
                                     std::vector<std::int64_t>{0});
  return finish(out, w, options.activation);
}

Output conv2d(const Output& inputs, std::int64_t filters, std::array<std::int64_t, 2> kernel_size,
              const Conv2DOptions& options) {
  if (!inputs.valid()) throw ValueError("conv2d: inputs is an empty Output");
  const Shape s = inputs.shape();
  if (!s.has_rank() || s.rank() != 4 || s.dims()[3] < 0)
    throw ValueError(
        str_cat("Input 0 of layer \"conv2d\" is incompatible with the layer: "
                "expected ndim=4 with a defined channel dimension, found shape ",
                s.to_string()));
  if (filters <= 0 || kernel_size[0] <= 0 || kernel_size[1] <= 0)
    throw ValueError(str_cat("conv2d: filters and kernel_size must be positive, got ", filters,
                             " and [", kernel_size[0], ", ", kernel_size[1], "]"));
  const std::string padding = padding_of(options.padding, "conv2d");
  check_positive(options.strides, "strides");
  check_positive(options.dilation_rate, "dilation_rate");
  const bool strided = options.strides[0] > 1 || options.strides[1] > 1;
  const bool dilated = options.dilation_rate[0] > 1 || options.dilation_rate[1] > 1;
  if (strided && dilated)
    throw ValueError(
        str_cat("'strides > 1' not supported in conjunction with 'dilation_rate > "
                "1'. Received: strides=(",
                options.strides[0], ", ", options.strides[1], ") and dilation_rate=(",
                options.dilation_rate[0], ", ", options.dilation_rate[1], ")"));
  const bool reusing = reuse_requested(options.reuse);
  variable_scope vs(scope_name(options.name, "conv2d", reusing),
                    scope_options(options.name, "conv2d", options.reuse, reusing));
  const Weights w =
      make_weights(options, Shape{kernel_size[0], kernel_size[1], s.dims()[3], filters}, filters,
                   inputs.dtype());
  const std::vector<std::int64_t> strides{1, options.strides[0], options.strides[1], 1};
  Output out =
      options.dilation_rate == std::array<std::int64_t, 2>{1, 1}
          ? nn::conv2d(inputs, w.kernel.value(), strides, padding, "Conv2D")
          : nn::conv2d(inputs, w.kernel.value(), strides, padding,
                       {1, options.dilation_rate[0], options.dilation_rate[1], 1}, "Conv2D");
  return finish(out, w, options.activation);
}

namespace {
Output pooling(const Output& inputs, std::array<std::int64_t, 2> pool_size,
               std::array<std::int64_t, 2> strides, const std::string& padding,
               const std::string& name, const char* base, bool max) {
  if (!inputs.valid()) throw ValueError(str_cat(base, ": inputs is an empty Output"));
  check_positive(pool_size, "pool_size");
  check_positive(strides, "strides");
  const std::string p = padding_of(padding, base);
  const name_scope scope(name, base);
  const std::vector<std::int64_t> ksize{1, pool_size[0], pool_size[1], 1};
  const std::vector<std::int64_t> st{1, strides[0], strides[1], 1};
  return max ? nn::max_pool(inputs, ksize, st, p, "MaxPool")
             : nn::avg_pool(inputs, ksize, st, p, "AvgPool");
}
}  // namespace

Output max_pooling2d(const Output& inputs, std::array<std::int64_t, 2> pool_size,
                     std::array<std::int64_t, 2> strides, const std::string& padding,
                     const std::string& name) {
  return pooling(inputs, pool_size, strides, padding, name, "max_pooling2d", true);
}

Output average_pooling2d(const Output& inputs, std::array<std::int64_t, 2> pool_size,
                         std::array<std::int64_t, 2> strides, const std::string& padding,
                         const std::string& name) {
  return pooling(inputs, pool_size, strides, padding, name, "average_pooling2d", false);
}

Output flatten(const Output& inputs, const std::string& name) {
  if (!inputs.valid()) throw ValueError("flatten: inputs is an empty Output");
  const Shape s = inputs.shape();
  if (s.has_rank() && s.rank() < 1)
    throw ValueError(str_cat("flatten: the inputs need a rank of 1 or more, got ", s.to_string()));
  const name_scope scope(name, "flatten");
  if (s.has_rank() && s.rank() == 1) return expand_dims(inputs, 1, "ExpandDims");
  // TF's Flatten: a Const [-1, product] when the other dimensions are known, [batch, -1] when
  // the batch is, else [shape(x)[0], -1] at run time.
  bool known = s.has_rank();
  std::int64_t rest = 1;
  for (std::size_t d = 1; known && d < s.dims().size(); ++d) {
    known = s.dims()[d] >= 0;
    rest *= s.dims()[d];
  }
  const auto int32_max = static_cast<std::int64_t>(std::numeric_limits<std::int32_t>::max());
  if (known && rest <= int32_max)
    return reshape(
        inputs,
        constant(std::vector<std::int32_t>{-1, static_cast<std::int32_t>(rest)}, Shape{2}, "Const"),
        "Reshape");
  if (s.has_rank() && s.dims()[0] >= 0 && s.dims()[0] <= int32_max)
    return reshape(inputs,
                   constant(std::vector<std::int32_t>{static_cast<std::int32_t>(s.dims()[0]), -1},
                            Shape{2}, "Const"),
                   "Reshape");
  const Output batch = gather(shape(inputs), constant(0), 0, "GatherV2");
  return reshape(inputs, stack({batch, constant(-1)}, "stack"), "Reshape");
}

Output dropout(const Output& inputs, double rate, const std::variant<bool, Output>& training,
               std::optional<std::int64_t> seed, const std::string& name) {
  if (!inputs.valid()) throw ValueError("dropout: inputs is an empty Output");
  if (!(rate >= 0.0 && rate <= 1.0))
    throw ValueError(str_cat("dropout: rate must be in [0, 1], got ", rate));
  const bool* fixed = std::get_if<bool>(&training);
  if (rate == 1.0 && !(fixed != nullptr && !*fixed))  // TF's nn.dropout, when it is built
    throw ValueError("rate must be a scalar tensor or a float in the range [0, 1), got 1");
  const name_scope scope(name, "dropout");
  auto dropped = [&] { return nn::dropout(inputs, 1.0 - rate, seed, "dropout"); };
  auto kept = [&] { return identity(inputs, "Identity"); };
  if (rate == 0.0) return kept();  // TF: nothing to drop
  if (fixed != nullptr) return *fixed ? dropped() : kept();
  return cond(std::get<Output>(training), dropped, kept);
}

namespace {

// TF's _assign_moving_average: variable -= (variable - value) * (1 - momentum), in the scope
// "AssignMovingAvg" (the AssignSub takes its name), colocated with the variable. A momentum
// given as a number makes the Const "decay"; a tensor the ops "sub/x" and "sub".
Output assign_moving_average(const Variable& variable, const Output& value,
                             const std::variant<double, Output>& momentum) {
  const name_scope scope("", "AssignMovingAvg");
  const colocate_with with_variable(variable.op().name());
  const scopeflow::device cut(nullptr);
  const scopeflow::device on_variable(variable.device());
  const Output decay = std::holds_alternative<double>(momentum)
                           ? constant(static_cast<float>(1.0 - std::get<double>(momentum)), "decay")
                           : 1.0 - std::get<Output>(momentum);
  const Output diff = variable.value() - value;
  const Output delta = diff * decay;
  return variable.assign_sub(delta, scope.name());
}

}  // namespace

Output batch_normalization(const Output& inputs, const std::variant<bool, Output>& training,
                           const BatchNormalizationOptions& options) {
  if (!inputs.valid()) throw ValueError("batch_normalization: inputs is an empty Output");
  if (inputs.dtype() != DType::kFloat32)
    throw ValueError(
        str_cat("batch_normalization: inputs must be float32, got ", dtype_name(inputs.dtype())));
  const Shape s = inputs.shape();
  if (!s.has_rank())
    throw ValueError("Input has undefined rank. (batch_normalization needs a known rank)");
  const auto ndims = static_cast<std::int64_t>(s.rank());
  const std::int64_t axis = options.axis < 0 ? options.axis + ndims : options.axis;
  if (ndims == 0 || axis < 0 || axis >= ndims)
    throw ValueError(str_cat("Invalid axis: ", options.axis, " (inputs of rank ", ndims, ")"));
  const std::int64_t channels = s.dims()[static_cast<std::size_t>(axis)];
  if (channels < 0)
    throw ValueError(str_cat("Input has undefined `axis` dimension. Received input with shape ",
                             s.to_string(), " and axis=", options.axis));
  if (!std::isfinite(options.momentum))
    throw ValueError(
        str_cat("batch_normalization: momentum must be finite, got ", options.momentum));
  if (!std::isfinite(options.epsilon) || options.epsilon < 0.0)
    throw ValueError(str_cat("batch_normalization: epsilon must be finite and non-negative, got ",
                             options.epsilon));
  const bool* fixed = std::get_if<bool>(&training);
  // TF 1's layer: the fused kernel for 4-D and 5-D inputs with the channels last or first.
  const bool fused = options.fused.value_or(true) && (ndims == 4 || ndims == 5) &&
                     (axis == ndims - 1 || axis == 1);

  const bool reusing = reuse_requested(options.reuse);
  variable_scope vs(scope_name(options.name, "batch_normalization", reusing),
                    scope_options(options.name, "batch_normalization", options.reuse, reusing));
  const Shape param_shape{channels};
  const DType f32 = DType::kFloat32;
  Variable gamma, beta;
  if (options.scale)
    gamma = add_weight("gamma", param_shape, f32,
                       or_default(options.gamma_initializer, ones_initializer()),
                       options.gamma_regularizer, options.trainable, options.gamma_constraint);
  if (options.center)
    beta = add_weight("beta", param_shape, f32,
                      or_default(options.beta_initializer, zeros_initializer()),
                      options.beta_regularizer, options.trainable, options.beta_constraint);
  const Variable moving_mean =
      add_weight("moving_mean", param_shape, f32,
                 or_default(options.moving_mean_initializer, zeros_initializer()), nullptr, false);
  const Variable moving_variance = add_weight(
      "moving_variance", param_shape, f32,
      or_default(options.moving_variance_initializer, ones_initializer()), nullptr, false);
  // The fused kernel takes constants in place of a missing beta / gamma (TF's order: beta's
  // "Const", then gamma's).
  auto filled = [&](float v) {
    return constant(std::vector<float>(static_cast<std::size_t>(channels), v), param_shape,
                    "Const");
  };
  const Output beta_value = beta.valid() ? Output(beta.value()) : fused ? filled(0.0f) : Output();
  const Output gamma_value = gamma.valid() ? Output(gamma.value())
                             : fused       ? filled(1.0f)
                                           : Output();
  auto add_update = [](const Output& u) { add_to_collection(GraphKeys::UPDATE_OPS, u.op()); };

  if (fused) {
    const std::string format =
        ndims == 4 ? (axis == 1 ? "NCHW" : "NHWC") : (axis == 1 ? "NCDHW" : "NDHWC");
    auto run = [&](bool is_training) {
      return nn::fused_batch_norm(inputs, gamma_value, beta_value, moving_mean.value(),
                                  moving_variance.value(), options.epsilon, format, is_training);
    };
    if (fixed != nullptr && !*fixed) return run(false).y;
    Output y, mean, variance, momentum;
    if (fixed != nullptr) {
      const nn::FusedBatchNormResult r = run(true);
      y = r.y;
      mean = r.batch_mean;
      variance = r.batch_variance;
      momentum = constant(static_cast<float>(options.momentum), "Const");
    } else {
      const Output& pred = std::get<Output>(training);
      auto as_list = [](const nn::FusedBatchNormResult& r) {
        return std::vector<Output>{r.y, r.batch_mean, r.batch_variance};
      };
      const std::vector<Output> merged = cond(
          pred, [&] { return as_list(run(true)); }, [&] { return as_list(run(false)); });
      y = merged[0];
      mean = merged[1];
      variance = merged[2];
      const float m = static_cast<float>(options.momentum);
      momentum = cond(
          pred, [m]() -> CondValue { return constant(m, "Const"); },
          []() -> CondValue { return constant(1.0f, "Const"); });
    }
    add_update(assign_moving_average(moving_mean, mean, momentum));
    add_update(assign_moving_average(moving_variance, variance, momentum));
    return y;
  }

  // The composed ops (TF's non-fused call): moments over every axis but `axis`, statistics
  // reshaped to broadcast when the channels are not last.
  const bool broadcast = axis != ndims - 1;
  std::vector<std::int64_t> broadcast_shape(static_cast<std::size_t>(ndims), 1);
  broadcast_shape[static_cast<std::size_t>(axis)] = channels;
  auto broadcast_of = [&](const Output& v) {
    return v.valid() && broadcast ? reshape(v, broadcast_shape, "Reshape") : v;
  };
  const Output scale_value = broadcast_of(gamma_value);
  const Output offset_value = broadcast_of(beta_value);
  Output mean, variance;
  if (fixed != nullptr && !*fixed) {
    mean = moving_mean.value();
    variance = moving_variance.value();
  } else {
    std::vector<std::int64_t> reduction_axes;
    for (std::int64_t i = 0; i < ndims; ++i)
      if (i != axis) reduction_axes.push_back(i);
    std::tie(mean, variance) = nn::moments(inputs, reduction_axes);
    if (fixed == nullptr) {
      const Output& pred = std::get<Output>(training);
      const Output batch_mean = mean, batch_variance = variance;
      mean = cond(
          pred, [&]() -> CondValue { return batch_mean; },
          [&]() -> CondValue { return moving_mean.value(); });
      variance = cond(
          pred, [&]() -> CondValue { return batch_variance; },
          [&]() -> CondValue { return moving_variance.value(); });
      add_update(cond(
          pred,
          [&]() -> CondValue { return assign_moving_average(moving_mean, mean, options.momentum); },
          [&]() -> CondValue { return moving_mean.value(); }));
      add_update(cond(
          pred,
          [&]() -> CondValue {
            return assign_moving_average(moving_variance, variance, options.momentum);
          },
          [&]() -> CondValue { return moving_variance.value(); }));
    } else {
      add_update(assign_moving_average(moving_mean, mean, options.momentum));
      add_update(assign_moving_average(moving_variance, variance, options.momentum));
    }
  }
  return nn::batch_normalization(inputs, broadcast_of(mean), broadcast_of(variance), offset_value,
                                 scale_value, options.epsilon);
}

}  // namespace scopeflow::layers
