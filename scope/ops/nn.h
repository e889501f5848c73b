// Builders for the CNN op set with TF's names and default op names (API.md): sf::nn::conv2d,
// relu, bias_add, max_pool, avg_pool, softmax, log_softmax, l2_loss,
// sparse_softmax_cross_entropy_with_logits; sf::matmul,
// sf::reshape, sf::reduce_sum / reduce_mean / reduce_max. NHWC layouts, float32.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/graph.h"
#include "scope/ops/ops.h"

namespace scopeflow {

namespace nn {
Output relu(const Output& features, std::string_view name = "");
// tf.nn.sigmoid, tf.nn.tanh: scopeflow::sigmoid, scopeflow::tanh.
inline Output sigmoid(const Output& x, std::string_view name = "") {
  return scopeflow::sigmoid(x, name);
}
inline Output tanh(const Output& x, std::string_view name = "") { return scopeflow::tanh(x, name); }
Output bias_add(const Output& value, const Output& bias, std::string_view name = "");
// strides {1, sh, sw, 1}; padding "SAME" | "VALID"; filter [kh, kw, in, out].
Output conv2d(const Output& input, const Output& filter, const std::vector<std::int64_t>& strides,
              const std::string& padding, std::string_view name = "");
Output conv2d(const Output& input, const Output& filter, const std::vector<std::int64_t>& strides,
              const std::string& padding, const std::vector<std::int64_t>& dilations,
              std::string_view name = "");
// tf.nn.conv2d_transpose(value, filter [kh, kw, out_channels, in_channels], output_shape,
// strides, padding): the gradient of conv2d as an op, TF's Conv2DBackpropInput named
// "conv2d_transpose" with its "input_sizes" Const; ValueError when value's channels do not
// match the filter's (TF's text) or output_shape is not 4 positive sizes; output_shape's channels
// against the filter's are checked when it runs (InvalidArgumentError), as TF 2.21.
Output conv2d_transpose(const Output& value, const Output& filter,
                        const std::vector<std::int64_t>& output_shape,
                        const std::vector<std::int64_t>& strides,
                        const std::string& padding = "SAME", std::string_view name = "");
// tf.nn.l2_normalize(x, axis, epsilon = 1e-12): x * rsqrt(max(sum(x^2, axis), epsilon)) under
// "l2_normalize" (TF's ops); axes empty = all.
Output l2_normalize(const Output& x, const std::vector<std::int64_t>& axis = {},
                    double epsilon = 1e-12, std::string_view name = "");
Output max_pool(const Output& value, const std::vector<std::int64_t>& ksize,
                const std::vector<std::int64_t>& strides, const std::string& padding,
                std::string_view name = "");
Output avg_pool(const Output& value, const std::vector<std::int64_t>& ksize,
                const std::vector<std::int64_t>& strides, const std::string& padding,
                std::string_view name = "");
// TF1's dropout: keeps each element with probability keep_prob and scales it by 1/keep_prob
// (random_uniform + keep_prob, floored, as a mask; the mask is counter-based Philox).
Output dropout(const Output& x, double keep_prob, std::optional<std::int64_t> seed = {},
               std::string_view name = "");
// The same with keep_prob a scalar tensor of x's dtype (TF1's `keep_prob = placeholder(float32)`,
// 0.5 fed while training and 1 while evaluating). x's shape may be partly known (the mask then
// takes its run-time shape).
Output dropout(const Output& x, const Output& keep_prob, std::optional<std::int64_t> seed = {},
               std::string_view name = "");
// Softmax over the last dimension (TF's tf.nn.softmax with the default axis), op "Softmax";
// numerically stable (the row maximum is subtracted first).
Output softmax(const Output& logits, std::string_view name = "");
// log(softmax(logits)) over the last dimension, computed stably; op "LogSoftmax".
Output log_softmax(const Output& logits, std::string_view name = "");
// TF's tf.nn.l2_loss: sum(t^2) / 2 over every element, a float32 scalar; op "L2Loss".
Output l2_loss(const Output& t, std::string_view name = "");
// tf.nn.softmax_cross_entropy_with_logits_v2(labels, logits): labels a distribution over the
// last dimension (same shape as logits, float32); returns the loss over it, TF's fused op
// SoftmaxCrossEntropyWithLogits named by the "softmax_cross_entropy_with_logits" scope (other
// ranks than 2 flattened to [-1, classes] and the loss reshaped back, as TF's wrapper does).
// Gradients as TF's: logits get softmax - labels (whatever the labels sum to), labels
// -log_softmax (v2). The v1 form (TF1's tf.nn.softmax_cross_entropy_with_logits, scope
// "softmax_cross_entropy_with_logits_sg") stops the gradient to labels.
Output softmax_cross_entropy_with_logits_v2(const Output& labels, const Output& logits,
                                            std::string_view name = "");
Output softmax_cross_entropy_with_logits(const Output& labels, const Output& logits,
                                         std::string_view name = "");
// tf.nn.sigmoid_cross_entropy_with_logits(labels, logits): per element, TF's stable
// max(x, 0) - x * z + log1p(exp(-|x|)) built as TF does under the "logistic_loss" scope
// (Select, Exp, Log1p), with its gradients (sigmoid(x) - z for logits).
Output sigmoid_cross_entropy_with_logits(const Output& labels, const Output& logits,
                                         std::string_view name = "");
// Labels first, as TF's keyword order; returns the per-example loss [batch].
Output sparse_softmax_cross_entropy_with_logits(const Output& labels, const Output& logits,
                                                std::string_view name = "");
// tf.nn.moments(x, axes, keep_dims): the mean and the (biased) variance over `axes`, as TF
// builds them under "moments" (Mean "mean", StopGradient, SquaredDifference, Mean "variance",
// Squeeze unless keep_dims); differentiable.
std::pair<Output, Output> moments(const Output& x, const std::vector<std::int64_t>& axes,
                                  bool keep_dims = false, std::string_view name = "");
// tf.nn.batch_normalization(x, mean, variance, offset, scale, variance_epsilon): x * inv +
// (offset - mean * inv), inv = rsqrt(variance + epsilon) * scale, under "batchnorm" (TF's op
// order); an empty offset or scale is TF's None.
Output batch_normalization(const Output& x, const Output& mean, const Output& variance,
                           const Output& offset, const Output& scale, double variance_epsilon,
                           std::string_view name = "");
// tf.compat.v1.nn.fused_batch_norm: op "FusedBatchNormV3" (kernels/batch_norm/batch_norm.h),
// returns (y, batch_mean, batch_variance). Training: the batch's statistics normalize x and
// come back as batch_mean and the Bessel-corrected batch_variance (blended into `mean` /
// `variance` by exponential_avg_factor when it is not 1; empty mean / variance: TF's None, a
// Const []); inference (is_training false): `mean` and `variance` normalize x and are required.
// epsilon as given (TF 2's; TF 1.x raised it to 1.001e-5). data_format: "NHWC" (default),
// "NCHW", "NDHWC", "NCDHW". float32. Differentiable (FusedBatchNormGradV3) through y.
struct FusedBatchNormResult {
  Output y, batch_mean, batch_variance;
};
FusedBatchNormResult fused_batch_norm(const Output& x, const Output& scale, const Output& offset,
                                      const Output& mean = {}, const Output& variance = {},
                                      double epsilon = 0.001,
                                      const std::string& data_format = "NHWC",
                                      bool is_training = true, std::string_view name = "",
                                      double exponential_avg_factor = 1.0);
// tf.nn.lrn / tf.nn.local_response_normalization: op "LRN" (NHWC float32, across depth;
// TF's defaults), differentiable once (LRNGrad), as TF.
Output lrn(const Output& input, std::int64_t depth_radius = 5, double bias = 1.0,
           double alpha = 1.0, double beta = 0.5, std::string_view name = "");
Output local_response_normalization(const Output& input, std::int64_t depth_radius = 5,
                                    double bias = 1.0, double alpha = 1.0, double beta = 0.5,
                                    std::string_view name = "");
// tf.nn.in_top_k(predictions, targets, k): "in_top_k/InTopKV2" ("acc/acc" named "acc"), bool
// [batch]: whether each target is among its row's k highest predictions (ties count for the target;
// false for a target outside [0, classes) or a row with a non-finite score, as TF 2.21). k takes
// targets' dtype.
Output in_top_k(const Output& predictions, const Output& targets, std::int64_t k,
                std::string_view name = "");
}  // namespace nn

Output matmul(const Output& a, const Output& b, bool transpose_a = false, bool transpose_b = false,
              std::string_view name = "");
// tf.tensordot(a, b, axes): the sum over a's axes a_axes[k] and b's b_axes[k] (pairs of equal
// dimensions) of a * b; the result has a's free dimensions, then b's. Built as TF's math_ops
// under the "Tensordot" name scope: each side transposed (free axes first for a, last for b)
// and reshaped to a matrix, one MatMul, reshaped back; with Consts where the static shapes
// are fully defined (no transpose when the order is already right), else the shape arithmetic
// at run time (Shape, GatherV2, Prod, ConcatV2, Pack; TF's ops and names). float32. ValueError
// for an unknown rank, an axis out of range or named twice, lists of different lengths, or
// paired dimensions that differ where known.
Output tensordot(const Output& a, const Output& b, const std::vector<std::int64_t>& a_axes,
                 const std::vector<std::int64_t>& b_axes, std::string_view name = "");
namespace detail {
Output tensordot_n(const Output& a, const Output& b, std::int64_t axes, std::string_view name);
}  // namespace detail
// axes = N: a's last N axes against b's first N (0: the outer product). A template, so that
// tensordot(a, b, {1}, {0}) can only mean the axis lists.
template <std::integral I>
requires(!std::same_as<I, bool>) Output
    tensordot(const Output& a, const Output& b, I axes, std::string_view name = "") {
  return detail::tensordot_n(a, b, detail::axis_value(axes), name);
}
// `shape` may hold one -1 (inferred).
// tf.concat: `values` (one dtype and rank; equal but for `axis`) joined along `axis`
// (negative counts from the end). Op "ConcatV2" named "concat", its axis "concat/axis".
Output concat(const std::vector<Output>& values, std::int64_t axis, std::string_view name = "");
// tf.split with a list of sizes (one -1 takes the rest): `value` cut along `axis`. Op
// "SplitV" named "split". tf.split with a number: `num_split` equal pieces (ValueError when
// the dimension is known and does not divide).
std::vector<Output> split(const Output& value, const std::vector<std::int64_t>& size_splits,
                          std::int64_t axis = 0, std::string_view name = "");
std::vector<Output> split(const Output& value, int num_split, std::int64_t axis = 0,
                          std::string_view name = "");
Output reshape(const Output& tensor, const std::vector<std::int64_t>& shape,
               std::string_view name = "");
// tf.reshape with a shape tensor (int32/int64 vector, e.g. sf::shape(y)): op "Reshape".
Output reshape(const Output& tensor, const Output& shape, std::string_view name = "");
// Empty `axes`: every axis (TF's axis=None).
Output reduce_sum(const Output& x, const std::vector<std::int64_t>& axes = {},
                  bool keep_dims = false, std::string_view name = "");
Output reduce_mean(const Output& x, const std::vector<std::int64_t>& axes = {},
                   bool keep_dims = false, std::string_view name = "");
Output reduce_max(const Output& x, const std::vector<std::int64_t>& axes = {},
                  bool keep_dims = false, std::string_view name = "");
// tf.reduce_prod on int32 / int64 tensors (op "Prod"; shape arithmetic: ScopeFlow has no
// floating-point Prod kernel, and a float x is a ValueError); products wrap as TF's.
Output reduce_prod(const Output& x, const std::vector<std::int64_t>& axes = {},
                   bool keep_dims = false, std::string_view name = "");
namespace detail {
// A reduction over one axis given as an integer: TF's scalar Const "<op>/reduction_indices".
Output reduce_one_axis(const char* type, const Output& x, std::int64_t axis, bool keep_dims,
                       std::string_view name);
}  // namespace detail
// One axis as an integer, as TF takes reduce_sum(x, 1) (its axes a scalar Const).
template <std::integral I>
requires(!std::same_as<I, bool>) Output
    reduce_sum(const Output& x, I axis, bool keep_dims = false, std::string_view name = "") {
  return detail::reduce_one_axis("Sum", x, detail::axis_value(axis), keep_dims, name);
}
template <std::integral I>
requires(!std::same_as<I, bool>) Output
    reduce_mean(const Output& x, I axis, bool keep_dims = false, std::string_view name = "") {
  return detail::reduce_one_axis("Mean", x, detail::axis_value(axis), keep_dims, name);
}
template <std::integral I>
requires(!std::same_as<I, bool>) Output
    reduce_max(const Output& x, I axis, bool keep_dims = false, std::string_view name = "") {
  return detail::reduce_one_axis("Max", x, detail::axis_value(axis), keep_dims, name);
}
// tf.clip_by_value: minimum(t, hi), then maximum(.., lo) named by the "clip_by_value" scope
// (TF's composite, with its gradients); lo and hi as t's dtype, or tensors.
Output clip_by_value(const Output& t, double clip_value_min, double clip_value_max,
                     std::string_view name = "");
Output clip_by_value(const Output& t, const Output& clip_value_min, const Output& clip_value_max,
                     std::string_view name = "");

// tf.global_norm(t_list): sqrt(sum of squares of every element of every tensor), as TF builds
// it (L2Loss per tensor, stacked, summed, times 2, "global_norm/global_norm"). Invalid entries
// (TF's None, such as a variable without a gradient) are skipped.
Output global_norm(const std::vector<Output>& t_list, std::string_view name = "");
// tf.clip_by_global_norm(t_list, clip_norm): every tensor scaled by clip_norm / max(global_norm,
// clip_norm) ("clip_by_global_norm/clip_by_global_norm/_<i>"); a non-finite norm makes the scale
// NaN, as TF's. Returns the clipped list (invalid entries stay invalid) and the global norm
// (`use_norm` when given, else global_norm(t_list)). clip_norm must be > 0 when a number.
std::pair<std::vector<Output>, Output> clip_by_global_norm(const std::vector<Output>& t_list,
                                                           double clip_norm,
                                                           std::optional<Output> use_norm = {},
                                                           std::string_view name = "");
// tf.clip_by_norm(t, clip_norm, axes): t * clip_norm / max(l2norm(t over axes), clip_norm) with
// TF's NaN-free gradient at a zero norm (the two Selects); axes empty = all.
Output clip_by_norm(const Output& t, double clip_norm, const std::vector<std::int64_t>& axes = {},
                    std::string_view name = "");

}  // namespace scopeflow
