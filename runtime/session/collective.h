// Collective steps of the executor: the NcclAllReduce nodes of one shared_name become ONE step
// of a plan, whose inputs are every participant's input and whose outputs are every
// participant's output, so it runs once all inputs are ready and no thread ever waits for a
// peer (it works with inter_op_parallelism_threads = 1). The session (session.cc) calls
// plan_collectives() when it builds a plan and run_collective() when the step runs.
// Implementations (kernels/collective/): the host reduction for CPU devices, ScopeFlow's fused
// CUDA kernel for logical GPUs sharing a card, NCCL across distinct physical GPUs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "devices/device.h"
#include "devices/tensor.h"
#include "runtime/graph.h"

namespace scopeflow {

enum class AllReduceImpl {
  kHost,         // CPU devices: a host loop in device order
  kFused,        // logical GPUs on one card: one fused kernel reads K inputs, writes K outputs
  kFusedStaged,  // GPUs on several cards without NCCL (or a mix of shared and distinct cards):
                 // the fused kernel on the first participant's card, others staged by copies
  kNccl,         // one participant per physical GPU, NCCL built in
};

// "host reduction", "ScopeFlow fused CUDA kernel", "ScopeFlow fused CUDA kernel, staged through
// one card", "NCCL".
const char* all_reduce_impl_name(AllReduceImpl impl);
// The implementation for participants on GPUs of these physical cards (one entry per
// participant), or on CPU devices when `cards` is empty.
AllReduceImpl choose_all_reduce(bool gpu, const std::vector<int>& cards);

// One NcclAllReduce group of a plan.
struct CollectiveGroup {
  std::string shared_name;
  // Participants in device order (CPU:0, CPU:1, ..., GPU:0, ...): the reduction order.
  std::vector<const Node*> members;
  std::vector<std::shared_ptr<devices::Device>> devices;  // devices[j] runs members[j]
  std::string reduction;                                  // sum | prod | min | max
  AllReduceImpl impl = AllReduceImpl::kHost;
  std::string names;  // "'a', 'b'" for messages
};

// Groups the NcclAllReduce nodes among `order` (a plan's nodes, topologically sorted) by
// shared_name and checks each group; InvalidArgumentError naming the nodes when the number of
// participants differs from num_devices, two share a device, their dtypes, static shapes,
// reductions or num_devices differ, some participants of the graph are not in `order` (pruned
// from this run: the missing ones are named), CPU and GPU devices are mixed, or a participant's
// input depends on the output of its own group (the step could never run). `fed(n, i)`: output
// i of n is fed (no dependency through it).
std::unordered_map<const Node*, std::shared_ptr<const CollectiveGroup>> plan_collectives(
    const std::vector<const Node*>& order, const Graph& graph,
    const std::function<std::shared_ptr<devices::Device>(const Node*)>& place,
    const std::function<bool(const Node*, int)>& fed);

// Runs the group: inputs[j] is members[j]'s input on devices[j]; returns one output per member,
// on its device (GPU results are queued on the devices' streams, as kernels' are).
// FailedPreconditionError for an uninitialized input; InvalidArgumentError when the shapes
// differ at run time.
std::vector<Tensor> run_collective(const CollectiveGroup& group, const std::vector<Tensor>& inputs);

}  // namespace scopeflow
