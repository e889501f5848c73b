// CNN op builders. See nn.h.
#include "scope/ops/nn.h"

#include <algorithm>
#include <cmath>

#include <limits>

#include "devices/base/errors.h"
#include "runtime/gradients.h"
#include "scope/ops/embedding.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"

namespace scopeflow {
namespace {

std::string name_or(std::string_view name, const char* fallback) {
  return name.empty() ? std::string(fallback) : std::string(name);
}

// `v` fits int32 (the ops' index type here), or a ValueError naming the op's argument: a
// silent cast cut 2^32 + 2 to 2 and INT64_MAX to -1 (session 11's review).
std::int32_t int32_arg(std::int64_t x, const char* op, const char* what) {
  if (x < std::numeric_limits<std::int32_t>::min() || x > std::numeric_limits<std::int32_t>::max())
    throw ValueError(str_cat(op, ": ", what, " value ", x, " does not fit int32"));
  return static_cast<std::int32_t>(x);
}

Output ints_const(const std::vector<std::int64_t>& v, std::string_view name, const char* op) {
  std::vector<std::int32_t> i32;
  for (auto x : v) i32.push_back(int32_arg(x, op, std::string(name).c_str()));
  return constant(i32, Shape{static_cast<std::int64_t>(i32.size())}, name);
}

Output window_op(const char* type, const Output& value, const std::vector<std::int64_t>& ksize,
                 const std::vector<std::int64_t>& strides, const std::string& padding,
                 std::string_view name) {
  AttrMap attrs;
  attrs.set("ksize", ksize);
  attrs.set("strides", strides);
  attrs.set("padding", padding);
  attrs.set("data_format", std::string("NHWC"));
  return get_default_graph()
      .create_op(type, {value}, std::move(attrs), name_or(name, type))
      .output(0);
}

Output reduce(const char* type, const Output& x, const std::vector<std::int64_t>& axes,
              bool keep_dims, std::string_view name) {
  std::vector<std::int64_t> all = axes;
  if (all.empty()) {
    const Shape s = x.shape();
    if (!s.has_rank() || s.rank() == 0) {
      // TF's _ReductionDims for an unknown rank (or rank 0, which Python reads as false):
      // range(0, rank(x)), before the op; without keep_dims the result is a scalar (TF's
      // _may_reduce_to_scalar sets the static shape).
      Output rk = rank(x);
      Output axes_t = range(0, rk);
      AttrMap attrs;
      attrs.set("keep_dims", keep_dims);
      Output r = get_default_graph()
                     .create_op(type, {x, axes_t}, std::move(attrs), name_or(name, type))
                     .output(0);
      if (!keep_dims) grad_util::refine_static_shape(r, Shape{});
      return r;
    }
    for (int i = 0; i < s.rank(); ++i) all.push_back(i);
    // TF: all axes are a Const made before the op ("Const", beside it).
    Output ax = ints_const(all, "Const", type);
    AttrMap attrs;
    attrs.set("keep_dims", keep_dims);
    return get_default_graph()
        .create_op(type, {x, ax}, std::move(attrs), name_or(name, type))
        .output(0);
  }
  // TF: explicit axes are converted inside the op's name scope ("Mean/reduction_indices").
  name_scope scope(name, type);
  const std::string final_name = scope.name();
  Output ax = ints_const(all, "reduction_indices", type);
  AttrMap attrs;
  attrs.set("keep_dims", keep_dims);
  return get_default_graph().create_op(type, {x, ax}, std::move(attrs), final_name).output(0);
}

}  // namespace

namespace nn {

Output relu(const Output& features, std::string_view name) {
  return get_default_graph().create_op("Relu", {features}, {}, name_or(name, "Relu")).output(0);
}

Output bias_add(const Output& value, const Output& bias, std::string_view name) {
  AttrMap attrs;
  attrs.set("data_format", std::string("NHWC"));
  return get_default_graph()
      .create_op("BiasAdd", {value, bias}, std::move(attrs), name_or(name, "BiasAdd"))
      .output(0);
}

Output conv2d(const Output& input, const Output& filter, const std::vector<std::int64_t>& strides,
              const std::string& padding, std::string_view name) {
  return conv2d(input, filter, strides, padding, {1, 1, 1, 1}, name);
}

Output conv2d(const Output& input, const Output& filter, const std::vector<std::int64_t>& strides,
              const std::string& padding, const std::vector<std::int64_t>& dilations,
              std::string_view name) {
  AttrMap attrs;
  attrs.set("strides", strides);
  attrs.set("padding", padding);
  attrs.set("dilations", dilations);
  attrs.set("data_format", std::string("NHWC"));
  return get_default_graph()
      .create_op("Conv2D", {input, filter}, std::move(attrs), name_or(name, "Conv2D"))
      .output(0);
}

Output conv2d_transpose(const Output& value, const Output& filter,
                        const std::vector<std::int64_t>& output_shape,
                        const std::vector<std::int64_t>& strides, const std::string& padding,
                        std::string_view name) {
  if (output_shape.size() != 4)
    throw ValueError(str_cat("conv2d_transpose: output_shape must have 4 elements (NHWC), got ",
                             output_shape.size()));
  for (auto d : output_shape)
    if (d < 1 || d > std::numeric_limits<std::int32_t>::max())
      throw ValueError(
          str_cat("conv2d_transpose: output_shape sizes must be in [1, 2^31), got ", d));
  // TF's shape inference: value's channels against the filter's input channels. (A mismatch
  // of output_shape's channels with the filter is not checked when the graph is built, as
  // TF 2.21's; the kernel refuses it when it runs.)
  const Shape vs = value.shape(), fs = filter.shape();
  if (vs.has_rank() && fs.has_rank() && vs.rank() == 4 && fs.rank() == 4 && vs.dims()[3] >= 0 &&
      fs.dims()[3] >= 0 && vs.dims()[3] != fs.dims()[3])
    throw ValueError(
        str_cat("Dimensions must be equal, but are ", vs.dims()[3], " and ", fs.dims()[3]));
  name_scope scope(name, "conv2d_transpose");
  const std::string final_name = scope.name();
  std::vector<std::int32_t> sizes;
  for (auto d : output_shape) sizes.push_back(static_cast<std::int32_t>(d));
  Output input_sizes = constant(sizes, Shape{4}, "input_sizes");
  AttrMap attrs;
  attrs.set("strides", strides);
  attrs.set("padding", padding);
  attrs.set("dilations", std::vector<std::int64_t>{1, 1, 1, 1});
  attrs.set("data_format", std::string("NHWC"));
  return get_default_graph()
      .create_op("Conv2DBackpropInput", {input_sizes, filter, value}, std::move(attrs), final_name)
      .output(0);
}

Output l2_normalize(const Output& x, const std::vector<std::int64_t>& axis, double epsilon,
                    std::string_view name) {
  if (!std::isfinite(epsilon))
    throw ValueError(str_cat("l2_normalize: epsilon must be finite, got ", epsilon));
  name_scope scope(name, "l2_normalize");
  const std::string final_name = scope.name();
  Output square_sum = reduce_sum(square(x), axis, /*keep_dims=*/true);
  Output inv = rsqrt(binary_operator("Maximum", "Maximum", square_sum, epsilon));
  return multiply(x, inv, final_name);
}

Output max_pool(const Output& value, const std::vector<std::int64_t>& ksize,
                const std::vector<std::int64_t>& strides, const std::string& padding,
                std::string_view name) {
  return window_op("MaxPool", value, ksize, strides, padding, name);
}

Output avg_pool(const Output& value, const std::vector<std::int64_t>& ksize,
                const std::vector<std::int64_t>& strides, const std::string& padding,
                std::string_view name) {
  return window_op("AvgPool", value, ksize, strides, padding, name);
}

namespace {
// TF1's nn_ops.dropout after its checks: random_uniform over x's shape (its run-time shape when
// the static one is not fully defined) plus keep_prob, floored, as the mask of x / keep_prob.
Output dropout_mask_and_scale(const Output& x, const Output& keep, std::optional<std::int64_t> seed,
                              const std::string& final_name) {
  const Shape s = x.shape();
  Output random = s.is_fully_defined() ? random_uniform(s, 0.0, 1.0, DType::kFloat32, seed)
                                       : random_uniform(shape(x, DType::kInt32, "Shape"), 0.0, 1.0,
                                                        DType::kFloat32, seed);
  Output mask = get_default_graph().create_op("Floor", {random + keep}, {}, "Floor").output(0);
  Output scaled = get_default_graph().create_op("RealDiv", {x, keep}, {}, "div").output(0);
  return get_default_graph().create_op("Mul", {scaled, mask}, {}, final_name).output(0);
}
}  // namespace

Output dropout(const Output& x, double keep_prob, std::optional<std::int64_t> seed,
               std::string_view name) {
  if (!(keep_prob > 0.0 && keep_prob <= 1.0))
    throw ValueError(str_cat(
        "keep_prob must be a scalar tensor or a float in the range (0, 1], got ", keep_prob));
  name_scope scope(name, "dropout");
  const std::string final_name = scope.name();
  if (keep_prob == 1.0) return identity(x, final_name);
  return dropout_mask_and_scale(x, constant(static_cast<float>(keep_prob), "keep_prob"), seed,
                                final_name);
}

Output dropout(const Output& x, const Output& keep_prob, std::optional<std::int64_t> seed,
               std::string_view name) {
  if (keep_prob.dtype() != x.dtype())
    throw ValueError(str_cat("dropout: keep_prob ", keep_prob.name(), " is ",
                             dtype_name(keep_prob.dtype()), ", x ", x.name(), " is ",
                             dtype_name(x.dtype())));
  if (!keep_prob.shape().is_compatible_with(Shape{}))
    throw ValueError(str_cat("dropout: keep_prob ", keep_prob.name(),
                             " must be a scalar, got shape ", keep_prob.shape().to_string()));
  name_scope scope(name, "dropout");
  const std::string final_name = scope.name();
  // TF: "Do nothing if we know keep_prob == 1" (a constant 1).
  if (keep_prob.op().type() == "Const") {
    const Tensor& v = keep_prob.op().attrs().get<Tensor>("value");
    if (v.dtype() == DType::kFloat32 && v.num_elements() == 1 && v.scalar<float>() == 1.0f)
      return identity(x, final_name);
  }
  // A keep_prob of unknown shape (TF1's placeholder(float32)) made a scalar, so that the
  // result keeps x's static shape (TF sets it); another shape fails at run time.
  Output keep = keep_prob;
  if (!(keep_prob.shape() == Shape{}))
    keep = reshape(keep_prob, std::vector<std::int64_t>{}, "keep_prob");
  return dropout_mask_and_scale(x, keep, seed, final_name);
}

Output softmax(const Output& logits, std::string_view name) {
  return get_default_graph().create_op("Softmax", {logits}, {}, name_or(name, "Softmax")).output(0);
}

Output softmax_cross_entropy_with_logits_v2(const Output& labels, const Output& logits,
                                            std::string_view name) {
  if (labels.dtype() != DType::kFloat32 || logits.dtype() != DType::kFloat32)
    throw ValueError(
        str_cat("softmax_cross_entropy_with_logits: labels and logits must be "
                "float32, got ",
                dtype_name(labels.dtype()), " and ", dtype_name(logits.dtype())));
  if (!labels.shape().is_compatible_with(logits.shape()))
    throw ValueError(str_cat("softmax_cross_entropy_with_logits: labels ",
                             labels.shape().to_string(), " and logits ", logits.shape().to_string(),
                             " must have the same shape"));
  const Shape s = logits.shape();
  if (s.has_rank() && s.rank() < 1)
    throw ValueError("softmax_cross_entropy_with_logits: logits must have at least one dimension");
  name_scope scope(name, "softmax_cross_entropy_with_logits");
  const std::string final_name = scope.name();
  // TF's v2 wrapper: other ranks flattened to [-1, classes] for the 2-D op, the loss reshaped
  // back to logits' leading dimensions.
  Output l = logits, y = labels;
  const bool flatten = !s.has_rank() || s.rank() != 2;
  if (flatten) {
    if (!s.has_rank() || s.dims().back() < 0)
      throw ValueError(str_cat("softmax_cross_entropy_with_logits: logits ", logits.name(),
                               " of shape ", s.to_string(),
                               " must be 2-D or have a known number of classes"));
    l = reshape(logits, std::vector<std::int64_t>{-1, s.dims().back()});
    y = reshape(labels, std::vector<std::int64_t>{-1, s.dims().back()});
  }
  Operation xent = get_default_graph().create_op(
      "SoftmaxCrossEntropyWithLogits", {l, y}, {},
      flatten ? std::string("SoftmaxCrossEntropyWithLogits") : final_name);
  if (!flatten) return xent.output(0);
  std::vector<std::int64_t> lead(s.dims().begin(), s.dims().end() - 1);
  for (auto& d : lead) d = d < 0 ? -1 : d;
  int unknown = 0;
  for (auto d : lead) unknown += d < 0;
  if (unknown <= 1)
    return get_default_graph()
        .create_op("Reshape", {xent.output(0), ints_const(lead, "Shape", "reshape")}, {},
                   final_name)
        .output(0);
  std::vector<std::int32_t> leading;
  for (int i = 0; i + 1 < s.rank(); ++i) leading.push_back(i);
  Output lead_shape =
      gather(shape(logits), constant(leading, Shape{static_cast<std::int64_t>(leading.size())}));
  return get_default_graph()
      .create_op("Reshape", {xent.output(0), lead_shape}, {}, final_name)
      .output(0);
}

Output softmax_cross_entropy_with_logits(const Output& labels, const Output& logits,
                                         std::string_view name) {
  // TF1: the labels' gradient stopped, then v2 inside the same scope.
  name_scope scope(name, "softmax_cross_entropy_with_logits_sg");
  const std::string final_name = scope.name();
  return softmax_cross_entropy_with_logits_v2(stop_gradient(labels, "labels_stop_gradient"), logits,
                                              final_name);
}

Output sigmoid_cross_entropy_with_logits(const Output& labels, const Output& logits,
                                         std::string_view name) {
  if (labels.dtype() != logits.dtype() || logits.dtype() != DType::kFloat32)
    throw ValueError(
        str_cat("sigmoid_cross_entropy_with_logits: labels and logits must be "
                "float32, got ",
                dtype_name(labels.dtype()), " and ", dtype_name(logits.dtype())));
  if (!labels.shape().is_compatible_with(logits.shape()))
    throw ValueError(str_cat("logits and labels must have the same shape (",
                             logits.shape().to_string(), " vs ", labels.shape().to_string(), ")"));
  // TF's nn_impl: max(x, 0) - x * z + log1p(exp(-|x|)), with relu and -|x| as selects.
  name_scope scope(name, "logistic_loss");
  const std::string final_name = scope.name();
  Output zeros =
      get_default_graph()
          .create_op("Fill", {shape(logits, DType::kInt32, "Shape"), constant(0.0f, "zeros/Const")},
                     {}, "zeros_like")
          .output(0);
  Output cond = greater_equal(logits, zeros, "GreaterEqual");
  Output relu_logits = where(cond, logits, zeros, "Select");
  Output neg_abs_logits = where(cond, negative(logits, "Neg"), logits, "Select_1");
  Output a = subtract(relu_logits, multiply(logits, labels, "mul"), "sub");
  return get_default_graph()
      .create_op("AddV2", {a, log1p(exp(neg_abs_logits, "Exp"), "Log1p")}, {}, final_name)
      .output(0);
}

Output l2_loss(const Output& t, std::string_view name) {
  return get_default_graph().create_op("L2Loss", {t}, {}, name_or(name, "L2Loss")).output(0);
}

Output log_softmax(const Output& logits, std::string_view name) {
  return get_default_graph()
      .create_op("LogSoftmax", {logits}, {}, name_or(name, "LogSoftmax"))
      .output(0);
}

Output sparse_softmax_cross_entropy_with_logits(const Output& labels, const Output& logits,
                                                std::string_view name) {
  name_scope scope(name, "SparseSoftmaxCrossEntropyWithLogits");
  return get_default_graph()
      .create_op("SparseSoftmaxCrossEntropyWithLogits", {logits, labels}, {},
                 "SparseSoftmaxCrossEntropyWithLogits")
      .output(0);
}

std::pair<Output, Output> moments(const Output& x, const std::vector<std::int64_t>& axes,
                                  bool keep_dims, std::string_view name) {
  name_scope scope(name, "moments");
  // TF: float16 statistics are computed in float32 (float16's range is too small for the sums)
  // and cast back.
  const bool half = x.dtype() == DType::kFloat16;
  const Output y = half ? cast(x, DType::kFloat32) : x;
  // Empty axes reduce nothing (TF's reduce_mean(x, [])): the Mean op with an empty axes list.
  auto mean_over = [&](const Output& t, const char* op_name) {
    if (!axes.empty()) return reduce_mean(t, axes, /*keep_dims=*/true, op_name);
    name_scope op_scope("", op_name);
    AttrMap attrs;
    attrs.set("keep_dims", true);
    return get_default_graph()
        .create_op("Mean",
                   {t, constant(Tensor::from_vector<std::int32_t>({}, {0}), "reduction_indices")},
                   std::move(attrs), op_scope.name())
        .output(0);
  };
  Output mean = mean_over(y, "mean");
  Output centered = squared_difference(y, stop_gradient(mean));
  Output variance = mean_over(centered, "variance");
  if (!keep_dims) {
    mean = squeeze(mean, axes);  // (no axes: every dimension of size 1, as TF's squeeze)
    variance = squeeze(variance, axes);
  }
  if (half) {
    mean = cast(mean, DType::kFloat16);
    variance = cast(variance, DType::kFloat16);
  }
  return {mean, variance};
}

Output batch_normalization(const Output& x, const Output& mean, const Output& variance,
                           const Output& offset, const Output& scale, double variance_epsilon,
                           std::string_view name) {
  if (!std::isfinite(variance_epsilon))
    throw ValueError(
        str_cat("batch_normalization: variance_epsilon must be finite, got ", variance_epsilon));
  name_scope scope(name, "batchnorm");
  Output inv = rsqrt(variance + variance_epsilon);
  if (scale.valid()) inv = inv * scale;
  // TF's order (fold_batch_norms depends on it): x * inv, then offset - mean * inv, or
  // (-mean) * inv without an offset; both cast to x's dtype (float16 x with float32 statistics).
  Output scaled = x * cast(inv, x.dtype());
  Output shift;
  if (offset.valid()) {
    Output mean_inv = mean * inv;
    shift = offset - mean_inv;
  } else {
    shift = -mean * inv;
  }
  return scaled + cast(shift, x.dtype());
}

FusedBatchNormResult fused_batch_norm(const Output& x, const Output& scale, const Output& offset,
                                      const Output& mean, const Output& variance, double epsilon,
                                      const std::string& data_format, bool is_training,
                                      std::string_view name, double exponential_avg_factor) {
  if (!x.valid() || !scale.valid() || !offset.valid())
    throw ValueError("fused_batch_norm: x, scale and offset are required");
  if ((!is_training || exponential_avg_factor != 1.0) && (!mean.valid() || !variance.valid()))
    throw ValueError(
        "Both 'mean' and 'variance' must be a 1D tensor when is_training is False or "
        "exponential_avg_factor != 1.0.");
  if (!std::isfinite(epsilon) || epsilon < 0.0)
    throw ValueError(
        str_cat("fused_batch_norm: epsilon must be finite and non-negative, got ", epsilon));
  // TF's None: an empty float Const "Const" (made in TF's order: mean's, then variance's).
  auto empty = [] { return constant(Tensor::from_vector<float>({}, {0}), "Const"); };
  const Output m = mean.valid() ? mean : empty();
  const Output v = variance.valid() ? variance : empty();
  AttrMap attrs;
  attrs.set("epsilon", static_cast<float>(epsilon));
  attrs.set("exponential_avg_factor", static_cast<float>(exponential_avg_factor));
  attrs.set("data_format", data_format);
  attrs.set("is_training", is_training);
  const Operation op =
      get_default_graph().create_op("FusedBatchNormV3", {x, scale, offset, m, v}, std::move(attrs),
                                    name_or(name, "FusedBatchNormV3"));
  return {op.output(0), op.output(1), op.output(2)};
}

Output lrn(const Output& input, std::int64_t depth_radius, double bias, double alpha, double beta,
           std::string_view name) {
  AttrMap attrs;
  attrs.set("depth_radius", depth_radius);
  attrs.set("bias", static_cast<float>(bias));
  attrs.set("alpha", static_cast<float>(alpha));
  attrs.set("beta", static_cast<float>(beta));
  return get_default_graph()
      .create_op("LRN", {input}, std::move(attrs), name_or(name, "LRN"))
      .output(0);
}
Output local_response_normalization(const Output& input, std::int64_t depth_radius, double bias,
                                    double alpha, double beta, std::string_view name) {
  return lrn(input, depth_radius, bias, alpha, beta, name);
}

Output in_top_k(const Output& predictions, const Output& targets, std::int64_t k,
                std::string_view name) {
  name_scope scope(name, "in_top_k");
  if (targets.dtype() != DType::kInt32 && targets.dtype() != DType::kInt64)
    throw ValueError(str_cat("in_top_k: targets ", targets.name(), " must be int32 or int64, got ",
                             dtype_name(targets.dtype())));
  // TF: name_scope(name, "in_top_k"), then in_top_kv2(..., name=name): "acc/acc" for "acc".
  const std::string op = name.empty() ? "InTopKV2" : std::string(name);
  // detail::scalar_tensor refuses a k that does not fit targets' dtype.
  Output kt = constant(detail::scalar_tensor(static_cast<double>(k), targets.dtype()), op + "/k");
  return get_default_graph().create_op("InTopKV2", {predictions, targets, kt}, {}, op).output(0);
}

}  // namespace nn

Output clip_by_value(const Output& t, const Output& clip_value_min, const Output& clip_value_max,
                     std::string_view name) {
  name_scope scope(name, "clip_by_value");
  const std::string final_name = scope.name();
  Output t_min = minimum(t, clip_value_max);
  Output clipped = maximum(t_min, clip_value_min, final_name);
  if (t.shape().has_rank() && clipped.shape().has_rank() &&
      !t.shape().is_compatible_with(clipped.shape()))
    throw ValueError(str_cat("clip_by_value: clipping ", t.shape().to_string(),
                             " by bounds of shapes ", clip_value_min.shape().to_string(), " and ",
                             clip_value_max.shape().to_string(), " changes its shape to ",
                             clipped.shape().to_string()));
  return clipped;
}

Output clip_by_value(const Output& t, double clip_value_min, double clip_value_max,
                     std::string_view name) {
  name_scope scope(name, "clip_by_value");
  const std::string final_name = scope.name();
  return clip_by_value(t, constant(clip_value_min, t.dtype(), Shape{}, "clip_value_min"),
                       constant(clip_value_max, t.dtype(), Shape{}, "clip_value_max"), final_name);
}

namespace {
// TF's ops.colocate_with(t) whole: the ops made in this scope go where t's op goes (its device;
// the enclosing device scope does not apply).
struct with_tensor {
  explicit with_tensor(const Output& t) : on(t.op().device()), colocated(t.op().name()) {}
  scopeflow::device cut{nullptr};
  scopeflow::device on;
  colocate_with colocated;
};
}  // namespace

Output global_norm(const std::vector<Output>& t_list, std::string_view name) {
  name_scope scope(name, "global_norm");
  std::vector<Output> half_squared_norms;
  for (const auto& t : t_list)
    if (t.valid()) {
      with_tensor with(t);
      half_squared_norms.push_back(nn::l2_loss(t));
    }
  // No tensor at all (no variable got a gradient): TF stacks nothing, a norm of 0.
  Output stacked = half_squared_norms.empty() ? constant(std::vector<float>{}, Shape{0}, "stack")
                                              : stack(half_squared_norms);
  Output half_squared_norm = reduce_sum(stacked);  // TF: axis None
  Output two = constant(2.0, half_squared_norm.dtype(), Shape{}, "Const");
  return sqrt(half_squared_norm * two, "global_norm");
}

std::pair<std::vector<Output>, Output> clip_by_global_norm(const std::vector<Output>& t_list,
                                                           double clip_norm,
                                                           std::optional<Output> use_norm,
                                                           std::string_view name) {
  // (TF computes with any clip_norm: 0 clips to zeros, a negative one leaves t as it is.)
  if (!std::isfinite(clip_norm))
    throw ValueError(str_cat("clip_by_global_norm: clip_norm must be finite, got ", clip_norm));
  // TF: the norm is taken before (outside) the "clip_by_global_norm" scope, under `name`.
  const Output norm = use_norm ? *use_norm : global_norm(t_list, name);
  name_scope scope(name, "clip_by_global_norm");
  // scale = clip_norm * min(1 / norm, 1 / clip_norm), + (norm - norm): NaN for a non-finite norm.
  Output inverse = 1.0 / norm;
  Output one = constant(1.0, norm.dtype(), Shape{}, "Const");
  Output limit = one / clip_norm;
  Output scale_for_finite = clip_norm * minimum(inverse, limit);
  Output nan_if_not_finite = norm - norm;
  Output scale = scale_for_finite + nan_if_not_finite;
  std::vector<Output> clipped;
  for (std::size_t i = 0; i < t_list.size(); ++i) {
    if (!t_list[i].valid()) {
      clipped.emplace_back();
      continue;
    }
    with_tensor with(t_list[i]);
    // TF names it "%s_%d" % (scope, i) inside the scope: "clip_by_global_norm/..._0".
    clipped.push_back(identity(t_list[i] * scale, str_cat(scope.name(), "_", i)));
  }
  return {clipped, norm};
}

Output clip_by_norm(const Output& t, double clip_norm, const std::vector<std::int64_t>& axes,
                    std::string_view name) {
  if (!std::isfinite(clip_norm))
    throw ValueError(str_cat("clip_by_norm: clip_norm must be finite, got ", clip_norm));
  name_scope scope(name, "clip_by_norm");
  const std::string final_name = scope.name();
  Output squares = t * t;
  Output l2sum = reduce_sum(squares, axes, /*keep_dims=*/true);
  Output pred = binary_operator("Greater", "Greater", l2sum, 0.0);
  // TF's two-tap where: no NaN gradient at a zero norm.
  Output ones;
  {
    name_scope ones_scope("", "ones_like");
    const Shape s = l2sum.shape();
    Output dims = s.is_fully_defined() ? constant(Tensor::from_vector<std::int32_t>(
                                                      [&] {
                                                        std::vector<std::int32_t> d;
                                                        for (auto v : s.dims())
                                                          d.push_back(static_cast<std::int32_t>(v));
                                                        return d;
                                                      }(),
                                                      {s.rank()}),
                                                  "Shape/shape_as_tensor")
                                       : shape(l2sum, DType::kInt32, "Shape");
    ones = scopeflow::fill(dims, constant(1.0, l2sum.dtype(), Shape{}, "Const"), ones_scope.name());
  }
  Output l2sum_safe = where(pred, l2sum, ones);
  Output l2norm = where(pred, sqrt(l2sum_safe), l2sum);
  Output intermediate = t * clip_norm;
  Output clipped = divide(intermediate, binary_operator("Maximum", "Maximum", l2norm, clip_norm));
  if (t.shape().has_rank() && clipped.shape().has_rank() &&
      !t.shape().is_compatible_with(clipped.shape()))
    throw ValueError(str_cat("clip_by_norm: clipping ", t.shape().to_string(),
                             " changes its shape to ", clipped.shape().to_string()));
  return identity(clipped, final_name);
}

Output matmul(const Output& a, const Output& b, bool transpose_a, bool transpose_b,
              std::string_view name) {
  AttrMap attrs;
  attrs.set("transpose_a", transpose_a);
  attrs.set("transpose_b", transpose_b);
  return get_default_graph()
      .create_op("MatMul", {a, b}, std::move(attrs), name_or(name, "MatMul"))
      .output(0);
}

namespace {

// TF's _tensordot_reshape: one side of a tensordot as a matrix (free dimensions first, or last
// when `flipped`: b's side), and its free dimensions (static, -1 unknown; and as a tensor when
// the shape is only partly known).
struct TensordotSide {
  Output matrix;
  std::vector<std::int64_t> free_dims;
  Output free_dims_tensor;  // invalid on the static path
};

TensordotSide tensordot_side(const Output& a, const std::vector<std::int64_t>& axes, bool flipped) {
  const Shape s = a.shape();
  std::vector<std::int64_t> free;
  for (std::int64_t i = 0; i < s.rank(); ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) free.push_back(i);
  TensordotSide side;
  for (auto i : free) side.free_dims.push_back(s.dims()[static_cast<std::size_t>(i)]);
  std::vector<std::int64_t> perm = flipped ? axes : free;
  for (auto i : flipped ? free : axes) perm.push_back(i);
  if (s.is_fully_defined()) {
    std::int64_t prod_free = 1, prod_axes = 1;
    for (auto i : free) prod_free *= s.dims()[static_cast<std::size_t>(i)];
    for (auto i : axes) prod_axes *= s.dims()[static_cast<std::size_t>(i)];
    const std::vector<std::int64_t> new_shape =
        flipped ? std::vector<std::int64_t>{prod_axes, prod_free}
                : std::vector<std::int64_t>{prod_free, prod_axes};
    bool identity = true;
    for (std::size_t k = 0; k < perm.size(); ++k)
      identity = identity && perm[k] == static_cast<std::int64_t>(k);
    Output t = identity ? a : transpose(a, perm);
    side.matrix = t.shape().dims() == new_shape ? t : reshape(t, new_shape);
    return side;
  }
  // The shape arithmetic at run time, TF's ops in TF's order.
  Output axes_t = ints_const(axes, "axes", "tensordot");
  Output free_t = ints_const(free, "free", "tensordot");
  Output shape_a = shape(a);
  side.free_dims_tensor = gather(shape_a, free_t);
  Output axes_dims = gather(shape_a, axes_t);
  Output prod_free = reduce_prod(side.free_dims_tensor);
  Output prod_axes = reduce_prod(axes_dims);
  Output perm_t = flipped ? concat({axes_t, free_t}, 0) : concat({free_t, axes_t}, 0);
  Output new_shape = flipped ? stack({prod_axes, prod_free}) : stack({prod_free, prod_axes});
  side.matrix = reshape(transpose(a, perm_t), new_shape);
  return side;
}

// The contraction axes normalized to [0, rank), each named once.
std::vector<std::int64_t> tensordot_axes(const Output& t, const std::vector<std::int64_t>& axes,
                                         const char* which) {
  const int r = t.shape().rank();
  std::vector<std::int64_t> out;
  for (auto a : axes) {
    if (a < -r || a >= r)
      throw ValueError(str_cat("tensordot: axis ", a, " of `", which, "` is out of range for ",
                               t.name(), " of shape ", t.shape().to_string()));
    const std::int64_t n = a < 0 ? a + r : a;
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw ValueError(str_cat("tensordot: axis ", n, " of `", which, "` is named twice"));
    out.push_back(n);
  }
  return out;
}

}  // namespace

Output tensordot(const Output& a, const Output& b, const std::vector<std::int64_t>& a_axes,
                 const std::vector<std::int64_t>& b_axes, std::string_view name) {
  if (!a.valid() || !b.valid()) throw ValueError("tensordot: a or b is an empty Output");
  for (const Output* t : {&a, &b})
    if (!t->shape().has_rank())
      throw ValueError(str_cat("tensordot: ", t->name(),
                               " needs a known rank (ScopeFlow does not build TF's ListDiff path "
                               "for an unknown one)"));
  if (a_axes.size() != b_axes.size())
    throw ValueError(str_cat("Different number of contraction axes `a` and `b`, ", a_axes.size(),
                             " != ", b_axes.size(), "."));
  const auto na = tensordot_axes(a, a_axes, "a");
  const auto nb = tensordot_axes(b, b_axes, "b");
  for (std::size_t k = 0; k < na.size(); ++k) {
    const std::int64_t da = a.shape().dims()[static_cast<std::size_t>(na[k])];
    const std::int64_t db = b.shape().dims()[static_cast<std::size_t>(nb[k])];
    if (da >= 0 && db >= 0 && da != db)
      throw ValueError(str_cat("tensordot: axis ", na[k], " of ", a.name(), " ",
                               a.shape().to_string(), " and axis ", nb[k], " of ", b.name(), " ",
                               b.shape().to_string(), " differ: ", da, " != ", db));
  }
  name_scope scope(name, "Tensordot");
  const std::string final_name = scope.name();  // "Tensordot/": the result takes it
  const TensordotSide sa = tensordot_side(a, na, false);
  const TensordotSide sb = tensordot_side(b, nb, true);
  Output ab = matmul(sa.matrix, sb.matrix);
  if (!sa.free_dims_tensor.valid() && !sb.free_dims_tensor.valid()) {
    std::vector<std::int64_t> dims = sa.free_dims;
    dims.insert(dims.end(), sb.free_dims.begin(), sb.free_dims.end());
    if (ab.shape().is_fully_defined() && ab.shape().dims() == dims) return ab;
    return reshape(ab, dims, final_name);
  }
  Output af = sa.free_dims_tensor.valid() ? sa.free_dims_tensor
                                          : ints_const(sa.free_dims, "Const", "tensordot");
  Output bf = sb.free_dims_tensor.valid() ? sb.free_dims_tensor
                                          : ints_const(sb.free_dims, "Const", "tensordot");
  // The static shape (TF's set_shape of the free dimensions) follows from the shape tensor.
  return reshape(ab, concat({af, bf}, 0), final_name);
}

Output detail::tensordot_n(const Output& a, const Output& b, std::int64_t axes,
                           std::string_view name) {
  if (!a.valid() || !b.valid()) throw ValueError("tensordot: a or b is an empty Output");
  if (axes < 0) throw ValueError(str_cat("`axes` must be at least 0. Received: ", axes, "."));
  const Shape s = a.shape();
  if (!s.has_rank())
    throw ValueError(str_cat("tensordot: ", a.name(),
                             " needs a known rank (ScopeFlow does not build TF's ListDiff path "
                             "for an unknown one)"));
  if (axes > s.rank())
    throw ValueError(str_cat("`axes` must not be larger than the number of dimensions of tensor ",
                             a.name(), ".  Received ", axes, ", vs tensor dimensions ", s.rank(),
                             "."));
  std::vector<std::int64_t> a_axes, b_axes;
  for (std::int64_t k = 0; k < axes; ++k) {
    a_axes.push_back(s.rank() - axes + k);
    b_axes.push_back(k);
  }
  return tensordot(a, b, a_axes, b_axes, name);
}

Output concat(const std::vector<Output>& values, std::int64_t axis, std::string_view name) {
  if (values.empty()) throw ValueError("concat: values must be a non-empty list of tensors");
  name_scope scope(name, "concat");
  const std::string op_name = scope.name();
  std::vector<Output> inputs = values;
  inputs.push_back(constant(int32_arg(axis, "concat", "axis"), "axis"));
  return get_default_graph().create_op("ConcatV2", inputs, {}, op_name).output(0);
}

namespace {
// SplitV named `op_name` (the current "split" scope's) into `num_split` pieces of `sizes`.
std::vector<Output> split_v(const Output& value, const Output& sizes, std::int64_t num_split,
                            std::int64_t axis, const std::string& op_name) {
  AttrMap attrs;
  attrs.set("num_split", num_split);
  Operation op = get_default_graph().create_op(
      "SplitV", {value, sizes, constant(int32_arg(axis, "split", "axis"), "split_dim")},
      std::move(attrs), op_name);
  std::vector<Output> out;
  for (int i = 0; i < op.num_outputs(); ++i) out.push_back(op.output(i));
  return out;
}
}  // namespace

std::vector<Output> split(const Output& value, const std::vector<std::int64_t>& size_splits,
                          std::int64_t axis, std::string_view name) {
  if (size_splits.empty()) throw ValueError("split: size_splits must not be empty");
  name_scope scope(name, "split");
  const std::string op_name = scope.name();
  return split_v(value, ints_const(size_splits, "size_splits", "split"),
                 static_cast<std::int64_t>(size_splits.size()), axis, op_name);
}

std::vector<Output> split(const Output& value, int num_split, std::int64_t axis,
                          std::string_view name) {
  if (num_split < 1) throw ValueError(str_cat("split: num_split must be >= 1, got ", num_split));
  const Shape s = value.shape();
  if (!s.has_rank()) throw ValueError("split: the value's rank must be known");
  const int rank = s.rank();
  if (axis < -rank || axis >= rank)
    throw ValueError(str_cat("split: axis ", axis, " is out of range for rank ", rank));
  const std::int64_t d = s.dims()[static_cast<std::size_t>(axis < 0 ? axis + rank : axis)];
  if (d < 0) {
    // Known at run time only (TF's Split): num_split pieces of shape(value)[axis] / num_split;
    // SplitV refuses a dimension they do not add up to.
    name_scope scope(name, "split");
    const std::string op_name = scope.name();
    Output dim = gather(shape(value), constant(std::vector<std::int32_t>{static_cast<std::int32_t>(
                                                   axis < 0 ? axis + rank : axis)},
                                               Shape{1}));
    Output piece = reshape(
        get_default_graph()
            .create_op("RealDiv", {dim, constant(std::vector<std::int32_t>{num_split}, Shape{1})},
                       {}, "floordiv")
            .output(0),
        std::vector<std::int64_t>{});
    Output sizes =
        fill(constant(std::vector<std::int32_t>{num_split}, Shape{1}), piece, "size_splits");
    return split_v(value, sizes, num_split, axis, op_name);
  }
  if (d % num_split != 0)
    throw ValueError(str_cat("split: dimension ", d, " is not divisible by num_split ", num_split));
  return split(value, std::vector<std::int64_t>(static_cast<std::size_t>(num_split), d / num_split),
               axis, name);
}

Output reshape(const Output& tensor, const std::vector<std::int64_t>& shape,
               std::string_view name) {
  name_scope scope(name, "Reshape");
  const std::string op_name = scope.name();
  Output s = ints_const(shape, "shape", "reshape");
  return get_default_graph().create_op("Reshape", {tensor, s}, {}, op_name).output(0);
}

Output reshape(const Output& tensor, const Output& shape, std::string_view name) {
  if (shape.dtype() != DType::kInt32 && shape.dtype() != DType::kInt64)
    throw ValueError(str_cat("reshape: shape ", shape.name(), " must be int32 or int64, got ",
                             dtype_name(shape.dtype())));
  if (shape.shape().has_rank() && shape.shape().rank() != 1)
    throw ValueError(str_cat("reshape: shape ", shape.name(), " must be a vector, got shape ",
                             shape.shape().to_string()));
  return get_default_graph()
      .create_op("Reshape", {tensor, shape}, {}, name_or(name, "Reshape"))
      .output(0);
}

Output reduce_prod(const Output& x, const std::vector<std::int64_t>& axes, bool keep_dims,
                   std::string_view name) {
  if (x.valid() && x.dtype() != DType::kInt32 && x.dtype() != DType::kInt64)
    throw ValueError(str_cat("reduce_prod: ", x.name(), " is ", dtype_name(x.dtype()),
                             "; ScopeFlow's Prod takes int32 or int64 (shape arithmetic)"));
  return reduce("Prod", x, axes, keep_dims, name);
}
namespace detail {
Output reduce_one_axis(const char* type, const Output& x, std::int64_t axis, bool keep_dims,
                       std::string_view name) {
  name_scope scope(name, type);
  const std::string final_name = scope.name();
  Output ax =
      constant(static_cast<int>(int32_arg(axis, type, "reduction_indices")), "reduction_indices");
  AttrMap attrs;
  attrs.set("keep_dims", keep_dims);
  return get_default_graph().create_op(type, {x, ax}, std::move(attrs), final_name).output(0);
}
}  // namespace detail

Output reduce_sum(const Output& x, const std::vector<std::int64_t>& axes, bool keep_dims,
                  std::string_view name) {
  return reduce("Sum", x, axes, keep_dims, name);
}
Output reduce_mean(const Output& x, const std::vector<std::int64_t>& axes, bool keep_dims,
                   std::string_view name) {
  return reduce("Mean", x, axes, keep_dims, name);
}
Output reduce_max(const Output& x, const std::vector<std::int64_t>& axes, bool keep_dims,
                  std::string_view name) {
  return reduce("Max", x, axes, keep_dims, name);
}

}  // namespace scopeflow
