// TF1's tf.layers (tf.compat.v1.layers): dense, conv2d, max_pooling2d, average_pooling2d,
// flatten, dropout, as functions that build the layer's variables and ops in one call.
//
//   auto h = sf::layers::conv2d(x, 32, {5, 5}, {.padding = "same", .activation = relu});
//   h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
//   h = sf::layers::dense(sf::layers::flatten(h), 1024, {.activation = relu, .name = "fc"});
//   h = sf::layers::dropout(h, 0.4, training);     // a bool, or a bool tensor (a tf.cond)
//
// Naming and sharing follow TF's layers: an unnamed layer takes a unique variable scope named
// after its class ("conv2d", "conv2d_1", ...); a named one the variable scope of its name, so a
// second layer of the same name without reuse is TF's "Variable fc/kernel already exists"
// error, and with `.reuse = true` (or sf::AUTO_REUSE, or inside a reusing scope) it shares the
// first one's variables while its ops go to a fresh name scope ("fc_1/MatMul"). Variables are
// "<scope>/kernel" and "<scope>/bias" (glorot_uniform and zeros by default), in the trainable
// collection unless `.trainable = false`; regularizers add their losses to
// REGULARIZATION_LOSSES.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "runtime/graph.h"
#include "scope/initializers.h"
#include "scope/regularizers.h"
#include "scope/variable_scope.h"

namespace scopeflow::layers {

// An activation applied to the layer's output (empty: none), e.g.
// [](const Output& x) { return nn::relu(x); }.
using Activation = std::function<Output(const Output&)>;

struct DenseOptions {
  Activation activation = nullptr;
  bool use_bias = true;
  InitializerArg kernel_initializer = {};  // default: glorot_uniform_initializer()
  InitializerArg bias_initializer = {};    // default: zeros_initializer()
  Regularizer kernel_regularizer = nullptr;
  Regularizer bias_regularizer = nullptr;
  bool trainable = true;
  std::string name = "";
  ReuseArg reuse = {};
};
// tf.layers.dense: inputs [batch, in] x kernel [in, units] (+ bias), ops "MatMul", "BiasAdd";
// inputs of rank > 2 ([batch, ..., in]) go through TF's tensordot over the last axis (the
// "Tensordot" ops; leading dimensions kept, unknown ones too). Units may be 0 (as TF 2.21).
// ValueError for a rank below 2, an unknown last dimension or units < 0 (TF's messages).
Output dense(const Output& inputs, std::int64_t units, const DenseOptions& options = {});

struct Conv2DOptions {
  std::array<std::int64_t, 2> strides = {1, 1};
  std::string padding = "valid";  // "valid" | "same" (either case)
  std::array<std::int64_t, 2> dilation_rate = {1, 1};
  Activation activation = nullptr;
  bool use_bias = true;
  InitializerArg kernel_initializer = {};  // default: glorot_uniform_initializer()
  InitializerArg bias_initializer = {};    // default: zeros_initializer()
  Regularizer kernel_regularizer = nullptr;
  Regularizer bias_regularizer = nullptr;
  bool trainable = true;
  std::string name = "";
  ReuseArg reuse = {};
};
// tf.layers.conv2d (channels_last): kernel [kh, kw, in, filters], ops "Conv2D", "BiasAdd".
// TF's checks before any variable is made: strides and dilation > 0, not both above 1.
Output conv2d(const Output& inputs, std::int64_t filters, std::array<std::int64_t, 2> kernel_size,
              const Conv2DOptions& options = {});

// tf.layers.max_pooling2d / average_pooling2d (channels_last): ops "MaxPool" / "AvgPool" in the
// layer's name scope ("max_pooling2d", "average_pooling2d", or `name`).
Output max_pooling2d(const Output& inputs, std::array<std::int64_t, 2> pool_size,
                     std::array<std::int64_t, 2> strides, const std::string& padding = "valid",
                     const std::string& name = "");
Output average_pooling2d(const Output& inputs, std::array<std::int64_t, 2> pool_size,
                         std::array<std::int64_t, 2> strides, const std::string& padding = "valid",
                         const std::string& name = "");

// tf.layers.flatten: [batch, ...] -> [batch, product of the rest] ("flatten/Reshape" of the
// Const [-1, product]; [batch, -1] when only the batch is known; [shape(x)[0], -1] computed at
// run time when neither is, or the rank is unknown). Rank 1: [n, 1] (ExpandDims).
Output flatten(const Output& inputs, const std::string& name = "");

// tf.layers.dropout(inputs, rate, training): drops each element with probability `rate` and
// scales the rest by 1 / (1 - rate) when training; `training` false: inputs unchanged (an
// Identity); a bool tensor: a tf.cond between the two ("dropout/cond/..."); rate 0: an
// Identity. ValueError for a rate outside [0, 1], and for 1 where the layer may drop.
Output dropout(const Output& inputs, double rate = 0.5,
               const std::variant<bool, Output>& training = false,
               std::optional<std::int64_t> seed = {}, const std::string& name = "");

struct BatchNormalizationOptions {
  std::int64_t axis = -1;  // the channel axis (negative: from the end)
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;                               // beta
  bool scale = true;                                // gamma
  InitializerArg beta_initializer = {};             // default: zeros_initializer()
  InitializerArg gamma_initializer = {};            // default: ones_initializer()
  InitializerArg moving_mean_initializer = {};      // default: zeros_initializer()
  InitializerArg moving_variance_initializer = {};  // default: ones_initializer()
  Regularizer beta_regularizer = nullptr;
  Regularizer gamma_regularizer = nullptr;
  Constraint beta_constraint = nullptr;
  Constraint gamma_constraint = nullptr;
  bool trainable = true;
  std::string name = "";
  ReuseArg reuse = {};
  // Default (and true): TF's fused kernel FusedBatchNormV3 where it applies (4-D or 5-D inputs
  // with the channels last or at axis 1: NHWC, NCHW, NDHWC, NCDHW), the composed ops elsewhere,
  // as TF 1's layer; false: always the composed ops (tf.nn.moments, tf.nn.batch_normalization).
  std::optional<bool> fused = {};
};
// tf.layers.batch_normalization: normalizes `inputs` (float32, known rank, defined channel
// dimension) over every axis but `axis`, with the variables "<scope>/gamma", "beta",
// "moving_mean", "moving_variance" ([channels]; the moving ones not trainable). `training`:
// true normalizes with the batch's statistics and updates the moving ones (mean of the batch;
// the fused kernel's Bessel-corrected variance, the composed ops' biased one, as TF),
// adding those updates to GraphKeys::UPDATE_OPS (run them with the train op:
// control_dependencies(get_collection<Operation>(GraphKeys::UPDATE_OPS))); false normalizes
// with the moving statistics; a bool tensor chooses at run time (TF's smart_cond: tf.conds
// named "cond", "cond_1", ...). Op for op as TF 2.21's tf.compat.v1.layers (tf_keras).
Output batch_normalization(const Output& inputs, const std::variant<bool, Output>& training = false,
                           const BatchNormalizationOptions& options = {});

}  // namespace scopeflow::layers
