// See regularizers.h; TF's contrib/layers/python/layers/regularizers.py and
// python/ops/losses/util.py.
#include "scope/regularizers.h"

#include <cmath>

#include "devices/base/errors.h"
#include "devices/base/logging.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"

namespace scopeflow {
namespace contrib::layers {

Regularizer l2_regularizer(double scale, std::string scope) {
  if (!std::isfinite(scale))
    throw ValueError(str_cat("scale must be a finite number, got ", scale));
  if (scale < 0.0)
    throw ValueError(str_cat("Setting a scale less than 0 on a regularizer: ", scale, "."));
  if (scale == 0.0) {
    SF_LOG_INFO("Scale of 0 disables regularizer.");
    return no_regularizer;
  }
  return [scale, scope = std::move(scope)](const Output& weights) {
    name_scope ns(scope, "l2_regularizer");
    const Output my_scale = constant(scale, weights.dtype(), Shape{}, "scale");
    return multiply(my_scale, nn::l2_loss(weights), ns.name());  // "…/l2_regularizer"
  };
}

}  // namespace contrib::layers

namespace losses {

std::vector<Output> get_regularization_losses(const std::string& scope) {
  return get_collection<Output>(GraphKeys::REGULARIZATION_LOSSES, scope);
}

Output get_regularization_loss(const std::string& scope, std::string_view name) {
  const std::vector<Output> all = get_regularization_losses(scope);
  if (all.empty()) return constant(0.0f);
  return add_n(all, name);
}

}  // namespace losses
}  // namespace scopeflow
