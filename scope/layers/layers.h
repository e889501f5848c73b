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
// tf.layers.dense: inputs [batch, in] x kernel [in, units] (+ bias), ops "MatMul", "BiasAdd".
// ValueError when the inputs are not rank 2 with a known last dimension (TF's message).
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

}  // namespace scopeflow::layers
