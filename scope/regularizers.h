// Regularizers and the regularization losses (TF1's tf.contrib.layers.l2_regularizer,
// tf.losses.get_regularization_losses / get_regularization_loss). A variable scope's or
// get_variable's `regularizer` (scope/variable_scope.h) adds one loss per new variable to
// GraphKeys::REGULARIZATION_LOSSES; a training script adds their sum to its loss:
//
//   sf::variable_scope s("model", {.regularizer = sf::contrib::layers::l2_regularizer(5e-4)});
//   ...
//   sf::Output total = sf::add(loss, sf::losses::get_regularization_loss());
//
// With towers sharing variables through reuse, the losses exist once (the first tower
// created the variables), as in TF.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scope/variable_scope.h"

namespace scopeflow {
namespace contrib::layers {
// scale * tf.nn.l2_loss(weights), as op "<scope>" (default "l2_regularizer") with its
// inputs "<scope>/scale" and "<scope>/L2Loss". ValueError for a negative or non-finite
// scale; scale 0 gives a regularizer that adds no loss (TF's "Scale of 0 disables
// regularizer").
Regularizer l2_regularizer(double scale, std::string scope = "");
}  // namespace contrib::layers

namespace losses {
// The collection's losses whose names match `scope` (a regex prefix; all when empty).
std::vector<Output> get_regularization_losses(const std::string& scope = "");
// Their AddN named `name`, or the scalar constant 0.0 when there are none (TF's).
Output get_regularization_loss(const std::string& scope = "",
                               std::string_view name = "total_regularization_loss");
}  // namespace losses
}  // namespace scopeflow
