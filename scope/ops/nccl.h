// tf.contrib.nccl's builders: sf::nccl::all_sum / all_prod / all_min / all_max. Each makes one
// NcclAllReduce node per input tensor ("NcclAllReduce", "NcclAllReduce_1", ...), colocated with
// its input, all sharing a fresh shared_name ("c0", "c1", ...) and num_devices = the number of
// inputs; output i is the reduction of every input, on input i's device. The session runs the
// group as one collective step: the host reduction on CPU devices, ScopeFlow's fused CUDA kernel
// on logical GPUs sharing a card, NCCL across physical GPUs (runtime/session/collective.h).
#pragma once

#include <vector>

#include "runtime/graph.h"

namespace scopeflow::nccl {

// ValueError for an empty list, or tensors of different dtypes or incompatible shapes.
std::vector<Output> all_sum(const std::vector<Output>& tensors);
std::vector<Output> all_prod(const std::vector<Output>& tensors);
std::vector<Output> all_min(const std::vector<Output>& tensors);
std::vector<Output> all_max(const std::vector<Output>& tensors);

}  // namespace scopeflow::nccl
