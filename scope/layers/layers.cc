// tf.layers as functions. See layers.h.
#include "scope/layers/layers.h"

#include <algorithm>
#include <cctype>

#include "devices/base/errors.h"
#include "scope/ops/control_flow.h"
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

Variable add_weight(const std::string& name, const Shape& shape, DType dtype,
                    const InitializerArg& init, const Regularizer& regularizer, bool trainable) {
  GetVariableOptions o;
  o.dtype = dtype;
  o.initializer = init;
  o.trainable = trainable;
  o.regularizer = regularizer;
  return get_variable(name, shape, o);
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
    w.bias = add_weight(
        "bias", Shape{units}, dt,
        o.bias_initializer.empty() ? InitializerArg(zeros_initializer()) : o.bias_initializer,
        o.bias_regularizer, o.trainable);
  return w;
}

// The bias added and the activation applied.
Output finish(Output out, const Weights& w, const Activation& activation) {
  if (w.bias.valid()) out = nn::bias_add(out, w.bias.value());
  return activation ? activation(out) : out;
}

}  // namespace

Output dense(const Output& inputs, std::int64_t units, const DenseOptions& options) {
  if (!inputs.valid()) throw ValueError("dense: inputs is an empty Output");
  if (units <= 0) throw ValueError(str_cat("dense: units must be positive, got ", units));
  const Shape s = inputs.shape();
  if (!s.has_rank() || s.rank() != 2 || s.dims()[1] < 0)
    throw ValueError(
        str_cat("dense: the inputs must be rank 2 with a defined last dimension (ScopeFlow's dense "
                "takes [batch, features]), got ",
                s.to_string()));
  const bool reusing = reuse_requested(options.reuse);
  variable_scope vs(scope_name(options.name, "dense", reusing),
                    scope_options(options.name, "dense", options.reuse, reusing));
  const Weights w = make_weights(options, Shape{s.dims()[1], units}, units, inputs.dtype());
  return finish(matmul(inputs, w.kernel.value()), w, options.activation);
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
  if (!s.has_rank() || s.rank() < 1)
    throw ValueError(
        str_cat("flatten: the inputs need a known rank of 1 or more, got ", s.to_string()));
  const name_scope scope(name, "flatten");
  if (s.rank() == 1) return expand_dims(inputs, 1, "ExpandDims");
  std::int64_t rest = 1;
  bool known = true;
  for (std::size_t d = 1; d < s.dims().size(); ++d) {
    known = known && s.dims()[d] >= 0;
    if (known) rest *= s.dims()[d];
  }
  if (!known)
    throw ValueError(
        str_cat("flatten: the dimensions after the first must be known, got ", s.to_string()));
  // TF's Flatten: tf.constant([-1, product]) and a Reshape.
  const Output shape =
      constant(std::vector<std::int32_t>{-1, static_cast<std::int32_t>(rest)}, Shape{2}, "Const");
  return reshape(inputs, shape, "Reshape");
}

Output dropout(const Output& inputs, double rate, const std::variant<bool, Output>& training,
               std::optional<std::int64_t> seed, const std::string& name) {
  if (!inputs.valid()) throw ValueError("dropout: inputs is an empty Output");
  if (!(rate >= 0.0 && rate < 1.0))
    throw ValueError(str_cat("dropout: rate must be in [0, 1), got ", rate));
  const name_scope scope(name, "dropout");
  auto dropped = [&] { return nn::dropout(inputs, 1.0 - rate, seed, "dropout"); };
  auto kept = [&] { return identity(inputs, "Identity"); };
  if (const bool* b = std::get_if<bool>(&training)) return *b ? dropped() : kept();
  return cond(std::get<Output>(training), dropped, kept);
}

}  // namespace scopeflow::layers
