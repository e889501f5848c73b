// TF's tensorflow.python.client.timeline for ScopeFlow's step stats: a Chrome trace (JSON
// for chrome://tracing or ui.perfetto.dev) with one process per device lane (named
// "<device> Compute", as TF names them) and one complete event ("ph": "X", category "Op")
// per node: name = op type, args {name: node, op, input0..N}, ts/dur in microseconds.
#pragma once

#include <string>

#include "runtime/session/step_stats.h"

namespace scopeflow::timeline {

class Timeline {
 public:
  explicit Timeline(StepStats step_stats);
  // The trace as a JSON string ({"traceEvents": [...]}), events in lane order.
  std::string generate_chrome_trace_format() const;

 private:
  StepStats step_stats_;
};

}  // namespace scopeflow::timeline
