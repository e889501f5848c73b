// Per-step tracing (TF's RunOptions.trace_level / RunMetadata.step_stats): with
// RunOptions::kFullTrace a Session::run records, for every node it runs, where and when it
// ran; runtime/session/timeline.h turns that into a Chrome trace (chrome://tracing,
// ui.perfetto.dev), as TF's tensorflow.python.client.timeline does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scopeflow {

struct RunOptions {
  // TF's RunOptions.TraceLevel. Every level above kNoTrace records the step (ScopeFlow has
  // one kind of trace: host execution times per node and, on GPUs, the kernels' device times
  // measured with CUDA events on their stream).
  enum TraceLevel { kNoTrace = 0, kSoftwareTrace = 1, kHardwareTrace = 2, kFullTrace = 3 };
  TraceLevel trace_level = kNoTrace;
};

// One node's execution (TF's NodeExecStats, the fields its timeline reads).
struct NodeExecStats {
  std::string node_name;     // "tower_0/conv1/Conv2D"; copy nodes "_Copy/<tensor>/to/<device>"
  std::string op;            // "Conv2D"
  std::string kernel_label;  // the kernel that ran ("onednn", "cuda", ...)
  // "tower_0/conv1/Conv2D = Conv2D(tower_0/Reshape, model/conv1/weights/read)"
  std::string timeline_label;
  std::int64_t all_start_micros = 0;    // since the epoch (system clock)
  std::int64_t all_end_rel_micros = 0;  // duration
  std::int64_t thread_id = 0;           // a small id per executor thread in this step
};

// The nodes of one device lane: "<device>" for host execution; on GPUs also
// "<device>/stream:<id>" with the kernels' device-side intervals.
struct DeviceStepStats {
  std::string device;
  std::vector<NodeExecStats> node_stats;
};

struct StepStats {
  std::vector<DeviceStepStats> dev_stats;
};

struct RunMetadata {
  StepStats step_stats;
};

}  // namespace scopeflow
