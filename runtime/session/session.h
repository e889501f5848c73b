// sf::Session: owns the variables' buffers and runs fetches, targets and feeds over the
// graph. Placement: each node's requested device, soft placement to CPU:0 when that device
// or a kernel for it is missing (logged), assign/read ops with their variable. Each
// (feeds, fetches, targets) signature gets a plan once — the needed subgraph, placed, with a
// copy node on every cross-device edge and each kernel looked up — that later runs reuse.
// The executor runs a plan as dataflow: a node runs when its inputs are ready, on the
// calling thread or the session's inter-op pool; GPU kernels are queued on their device's
// stream and cross-device copies are ordered by stream waits, not device synchronization.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/device_manager.h"
#include "devices/tensor.h"
#include "runtime/graph.h"
#include "runtime/session/step_stats.h"

namespace scopeflow {

struct SessionOptions {
  bool allow_soft_placement = true;
  bool log_device_placement = false;
  // {"CPU": k} makes k logical CPU devices; {"GPU": n} uses at most n GPUs.
  std::map<std::string, int> device_count = {};
  // Physical GPU id -> its logical GPUs (TF's logical device configuration).
  std::map<int, std::vector<devices::LogicalGpuConfig>> logical_gpus = {};
  // Threads that run ready nodes, the calling thread included (TF's
  // inter_op_parallelism_threads); 0: one per hardware thread; 1: everything inline.
  int inter_op_parallelism_threads = 0;
  // TF's intra_op_parallelism_threads: the OpenMP threads one expensive CPU kernel (oneDNN
  // conv2d, MatMul) may use; 0: all of them. With towers on logical CPU devices running side
  // by side, 1 per tower avoids oversubscribing the cores (sf-train --num_intra_threads 1:
  // 2 towers on the 2-core CI machine ~1,840 vs ~1,530 images/s). A different thread count
  // sums in another order: results differ in the last bits from the default's.
  int intra_op_parallelism_threads = 0;
  // Capture a plan's GPU work as a CUDA graph on its 2nd run (per feed shapes) and replay it
  // on later runs (runtime/session/cuda_graph.h: what qualifies, what a replay checks).
  // Results are the same as without; RunStats::cuda_graph says what each run did.
  bool use_cuda_graphs = false;
  // Copies between logical GPUs of one card run on a stream per (destination, source) pair
  // (Device::inbound_stream) instead of the destination's compute stream: the sender's stream
  // then waits for its own copies only, where otherwise each copy made it wait for everything
  // queued on the receiver (which ties towers together: benchmarks/RESULTS.md, H200 runs).
  // Off by default until measured on a GPU (scripts/gpu-check.sh runs sf-bench both ways).
  bool inbound_copy_streams = false;
  // With a GPU, the session's CPU devices allocate page-locked memory from a cache of their own
  // (DeviceManagerOptions::pin_cpu_memory; TF allocates the host side of its GPU copies
  // "gpu_compatible", PyTorch pins with pin_memory). Variables on CPU:0 read by GPU towers
  // (parameter_server with local_parameter_device cpu) and the gradients they send back then
  // copy at the DMA rate instead of through pageable staging. Without a GPU it changes
  // nothing. The cost: what the CPU devices allocate (variables, kernel outputs, copies from
  // GPUs; not constants or feeds, which the process's host device makes) is page-locked and
  // cached, like GPU memory, and the OS cannot page it out.
  bool pin_host_memory = false;
  // TF's grappler constant folding (RewriterConfig::constant_folding, on by default in TF1
  // sessions), done when a plan is built:
  // - a node whose data inputs are all Consts (or folded nodes) runs once on the host, and its
  //   step takes the value (copied once to its device), still after its inputs' steps and its
  //   control inputs. Not folded: stateful and random ops, fed tensors and their readers, a
  //   node whose kernel raises (the error comes when its step runs, as without folding),
  //   values over 10 MiB, or over 64 KiB and larger than the inputs (a Fill of a scalar).
  // - x * 1, 1 * x, x / 1, x + 0, 0 + x and x - 0 (an all-ones or all-(+0) constant) that keep
  //   x's shape forward x without a kernel. As in TF, x + 0 then keeps an element -0 (IEEE's
  //   sum is +0).
  // Folded values are the CPU kernel's: a GPU node's may differ from its GPU kernel's in the
  // last bits, as in TF. RunStats::nodes_folded / nodes_forwarded count them per plan.
  bool constant_folding = true;
  // Optimizer updates (ApplyGradientDescent / ApplyMomentum / ApplyAdam) of one plan on one
  // device that share their hyperparameters run as one grouped kernel: one launch for all the
  // variables on a GPU (PyTorch's multi-tensor "foreach" optimizers). The same arithmetic per
  // element: results are bit-identical. RunStats::updates_grouped counts the updates that ran
  // inside another's step. kGpu (the default) groups on GPUs only: on the CPU the separate
  // updates overlap the rest of the backward pass on the pool's threads, and grouping measured
  // 2-3% slower in sf-train (2 CPU towers); kAll groups on every device.
  enum class UpdateGrouping { kOff, kGpu, kAll };
  UpdateGrouping group_updates = UpdateGrouping::kGpu;
};

// A cross-device edge of a plan: the tensor and the devices it moves between.
struct CopyEdge {
  std::string tensor;  // "tower_1/conv1/Relu:0"
  std::string src_device;
  std::string dst_device;
  friend bool operator==(const CopyEdge&, const CopyEdge&) = default;
};

// What the last run() did (a reduced form of TF's RunMetadata).
struct RunStats {
  std::int64_t nodes_executed = 0;  // graph nodes run (copy nodes not counted)
  std::int64_t copies = 0;          // copy nodes run
  // Of them, those between a CPU device and another kind (host <-> GPU; string tensors, whose
  // buffer is shared, not counted). The plan's copy_edges list every copy node, also those a
  // run skips: a feed is planned on the host, and one fed already on its GPU copies nothing.
  // A step replayed as a CUDA graph counts no copies.
  std::int64_t host_copies = 0;
  // Bytes those copies moved across device boundaries (between logical CPU devices the
  // copy shares the buffer, and its bytes are counted all the same).
  std::int64_t bytes_copied = 0;
  bool plan_reused = false;          // the plan came from the session's cache
  std::int64_t plans_cached = 0;     // plans in the cache after the run
  std::vector<CopyEdge> copy_edges;  // the plan's copy nodes
  // SessionOptions::constant_folding: the plan's nodes that became constants, and the
  // arithmetic by ones or zeros that forwards its other operand.
  std::int64_t nodes_folded = 0;
  std::int64_t nodes_forwarded = 0;
  std::int64_t updates_grouped = 0;  // SessionOptions::group_updates
  // SessionOptions::use_cuda_graphs: "off" (option off), "ineligible: <reason>", "warmup" (the
  // 1st run of a feed signature), "captured", "replayed", "fallback: <reason>".
  std::string cuda_graph = "off";
};

// A list of {placeholder (or any tensor), value} pairs.
using FeedDict = std::vector<std::pair<Output, Tensor>>;

class Session {
 public:
  explicit Session(const SessionOptions& options = {});
  Session(const SessionOptions& options, Graph graph);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Values come back on the host.
  Tensor run(const Output& fetch, const FeedDict& feeds = {});
  std::vector<Tensor> run(const std::vector<Output>& fetches, const FeedDict& feeds = {});
  void run(const Operation& target, const FeedDict& feeds = {});
  std::vector<Tensor> run(const std::vector<Output>& fetches, const std::vector<Operation>& targets,
                          const FeedDict& feeds = {});
  // TF's sess.run(fetches, feed_dict, options, run_metadata): with options.trace_level above
  // kNoTrace, run_metadata->step_stats gets every node this run executed, per device lane:
  // host start/duration and thread ("<device>"), and for GPU work the device-side interval
  // measured with CUDA events on the stream ("<device>/stream:compute"). A traced run does
  // not capture or replay a CUDA graph (it runs ordinarily). timeline.h makes a Chrome trace.
  std::vector<Tensor> run(const std::vector<Output>& fetches, const std::vector<Operation>& targets,
                          const FeedDict& feeds, const RunOptions& options,
                          RunMetadata* run_metadata);

  Graph graph() const;
  const devices::DeviceManager& device_manager() const;
  // The device a node was placed on ("/job:localhost/replica:0/task:0/device:CPU:0"), placing
  // it now if needed. InvalidArgumentError when it cannot be placed.
  std::string assigned_device(const Operation& op);
  // The current value of the variable op named `name` (empty Tensor if uninitialized).
  Tensor variable_value(const std::string& name) const;
  // Sets the variable op `name` to a copy of `value` on the variable's device (what a
  // restore does). NotFoundError for an unknown variable; InvalidArgumentError when the
  // dtype or shape does not match the variable's.
  void set_variable_value(const std::string& name, const Tensor& value);
  // The stateful random ops' Philox counters, by node name: where each op's next draw
  // starts. A checkpoint that keeps them (sf::train::Saver does) lets a resumed run draw the
  // numbers the uninterrupted run would (for seeded ops: set_random_seed or an op seed).
  std::map<std::string, std::uint64_t> random_counters() const;
  // Sets counters by node name; NotFoundError for a name that is not a random op.
  void set_random_counters(const std::map<std::string, std::uint64_t>& counters);
  // Statistics of the most recent run() of this session (from any thread).
  RunStats last_run_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scopeflow
