// CUDA-graph capture and replay of a Session step (SessionOptions::use_cuda_graphs).
//
// A plan qualifies when all of its work that touches a GPU can run inside one graph: every
// kernel, optimizer update and assignment on a GPU has a GPU kernel, nothing moves a value
// between the host and a GPU except feeds (staged, below), kernels read on the host only
// constant inputs (shapes, axes), and the GPUs are one physical card (logical GPUs included).
// Host work is allowed when it neither consumes GPU results nor feeds GPU steps (a host
// global_step AssignAdd): it runs in a second, ordinary executor pass outside the graph.
//
// Per feed signature (each feed's dtype and shape): the 1st run is ordinary (it warms the
// caches: allocator blocks, cuBLAS handles, cuDNN algorithm choice); the 2nd is captured and
// launched; later runs replay. At most kMaxGraphsPerPlan signatures keep a graph (the least
// recently used one is dropped). Capture runs on dedicated streams, one per GPU of the plan
// (the first begins the capture, the others join it through events and rejoin before it
// ends), so threads that use the devices' compute streams meanwhile neither land in the graph
// nor break it (an input pipeline copies on the host-to-device stream, and no caching
// allocator, GPU or pinned, of any device synchronizes the device or frees memory while a
// capture runs: CaptureExclusion in devices/device.h); a CaptureGuard makes
// any synchronous copy or synchronization from the capture's threads fail the capture rather
// than read memory that captured (not yet executed) work has not written. The captured pass
// runs on the calling thread only (Session::Impl::process), so the graph's node order is
// deterministic.
//
// What a replay relies on, and how it is kept:
// - Memory: the devices' allocators hold every block allocated or freed during the capture
//   (Allocator::open_hold) until the graph is dropped, so the addresses in the graph are
//   never handed to anyone else.
// - Feeds: the graph reads device buffers allocated at capture; before each launch the fed
//   values are copied into them (H2D from the host, D2D for device-resident feeds). Another
//   signature runs ordinarily and gets its own graph.
// - Fetches: after the launch the fetched tensors are copied out (Session::run returns host
//   tensors), under the plan's lock, so the next replay cannot overwrite them.
// - Variables: optimizer updates and assignments write in place. A replay first checks that
//   every variable the graph addresses still has the buffer captured and that nobody else
//   holds it (buffer_use_count() == 1: a user's Tensor from variable_value() would see an
//   in-place update that the ordinary run's copy on write spares it); otherwise the run is
//   ordinary and the next one captures again. A capture makes the same check first (another
//   holder would make an update copy on write, a copy that fails the capture). A capture
//   during which a variable changed buffers (copy on write, a restore) is launched once and
//   dropped.
// - Random ops: captured random kernels read their Philox counter from a device word that a
//   captured memcpy fills from a pinned host word; before each launch the session writes the
//   node's counter there and advances it exactly as an ordinary run does, so results are
//   bit-identical to runs without graphs. NOTE: writing the pinned word is race-free because
//   Session::run waits for the step's GPU work before returning and runs of one plan in graph
//   mode are serialized by the plan's lock, so no launch that reads it is in flight.
//
// RunStats::cuda_graph says what happened: "off", "ineligible: <reason>", "warmup" (1st run of
// a signature), "captured", "replayed", or "fallback: <reason>" (an ordinary run of an
// eligible plan: variable buffers changed, a failed capture, too many signatures...).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "devices/device.h"
#include "devices/tensor.h"

namespace scopeflow {
struct Node;
}

namespace scopeflow::cuda_graph {

inline constexpr std::size_t kMaxGraphsPerPlan = 4;
// Captures that fail (or are dropped before their first replay) before a plan is given up on.
inline constexpr int kMaxFailedCaptures = 3;

// True in builds with CUDA (the stub says false).
bool built_with_cuda_graphs();

// ---------------------------------------------------------------- plan analysis
// How the session sees one step of a plan, for the eligibility check.
struct StepInfo {
  bool in_graph = false;  // runs in the captured pass (a GPU step); else in the host pass
  bool work = false;      // does work (NoOp, Const and VariableV2 steps do not)
  std::string blocker;    // non-empty: the step cannot be captured; the reason
  std::string name;       // "dense/MatMul (MatMul)", for reasons
  std::vector<int> successors;
};

struct Eligibility {
  bool eligible = false;
  std::string reason;           // why not (empty when eligible)
  std::int64_t graph_work = 0;  // work steps in the graph
  bool host_work = false;       // some work runs in the host pass
};

// Eligible when no step has a blocker, some work is in the graph, and no host work step
// reaches a graph work step or is reached from one (through data or control edges).
Eligibility analyze(const std::vector<StepInfo>& steps);

// ---------------------------------------------------------------- one captured graph
// The CUDA side: streams, capture, instantiation, launch, counters. CUDA builds implement it
// in cuda_graph_cuda.cc; CPU-only builds (cuda_graph_stub.cc) throw UnavailableError.
class CapturedStep {
 public:
  // `devices`: the plan's GPUs, each with the stream the capture uses for it (owned by the
  // caller, alive as long as this object). `num_counters`: random nodes in the graph.
  CapturedStep(std::vector<std::pair<devices::Device*, devices::Stream*>> devices,
               std::size_t num_counters);
  ~CapturedStep();  // releases the allocator holds; the graph must not be running
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  // Opens the holds and starts capturing (first stream begins, the others join).
  void begin();
  // The capture stream of `device` (one of the constructor's). InternalError otherwise.
  devices::Stream& stream(const devices::Device& device);
  // Queues a device-to-device copy on the capture streams (dst's stream waits for src's).
  void copy(devices::Device& dst_device, void* dst, devices::Device& src_device, const void* src,
            std::size_t bytes);
  // The device word random node `key` reads its counter from; `value` is written to its
  // pinned host word now and the host-to-device copy is queued on `stream` (captured).
  // Thread-safe. InternalError past num_counters or for a key bound twice.
  const std::uint64_t* bind_counter(const Node* key, std::uint64_t value, devices::Stream& stream);
  // How far one run of `key` advances its counter (known once its kernel has run).
  void note_advance(const Node* key, std::uint64_t advance);
  // (key, advance per run) of every bound counter, in bind order.
  std::vector<std::pair<const Node*, std::uint64_t>> counters() const;
  // Ends the capture (rejoining the streams) and instantiates the graph. Throws (with the
  // capture cleaned up) when CUDA rejects it.
  void end();
  // Ends a capture that failed, discarding what was captured. Never throws.
  void abort() noexcept;
  // Writes counter i's host word (before launch()).
  void set_counter(std::size_t i, std::uint64_t value);
  // Launches the graph on the first stream after the work queued on the devices' compute
  // streams, and waits for it.
  void launch();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scopeflow::cuda_graph
