// ScopeFlow's one umbrella header: #include <scopeflow/scopeflow.h>.
// The namespace is `scopeflow`, with `sf` as an alias. API contract: shared/API.md.
#pragma once

#include "devices/base/dtype.h"
#include "devices/base/errors.h"
#include "devices/base/logging.h"
#include "devices/base/shape.h"
#include "devices/device.h"
#include "devices/device_manager.h"
#include "devices/device_spec.h"
#include "devices/tensor.h"
#include "kernels/kernel.h"
#include "runtime/build_info.h"
#include "runtime/data/idx.h"
#include "runtime/data/pipeline.h"
#include "runtime/gradients.h"
#include "runtime/graph.h"
#include "runtime/graph_dot.h"
#include "runtime/session/session.h"
#include "scope/initializers.h"
#include "scope/ops/nccl.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"
#include "scope/regularizers.h"
#include "scope/scopes.h"
#include "scope/train/device_setter.h"
#include "scope/train/optimizer.h"
#include "scope/train/saver.h"
#include "scope/variable.h"
#include "scope/variable_scope.h"
#include "scope/version.h"

namespace sf = scopeflow;
