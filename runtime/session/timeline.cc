// See timeline.h; after TF's python/client/timeline.py (_emit_op, _parse_op_label,
// emit_pid, emit_region).
#include "runtime/session/timeline.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace scopeflow::timeline {
namespace {

// "name = Op(in0, in1)" -> the inputs, as TF's _parse_op_label (no inputs: empty).
std::vector<std::string> parse_inputs(const std::string& label) {
  std::vector<std::string> inputs;
  const auto open = label.find('(');
  const auto close = label.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close <= open + 1) return inputs;
  const std::string list = label.substr(open + 1, close - open - 1);
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(", ", start);
    if (comma == std::string::npos) comma = list.size();
    inputs.push_back(list.substr(start, comma - start));
    start = comma + 2;
  }
  return inputs;
}

}  // namespace

Timeline::Timeline(StepStats step_stats) : step_stats_(std::move(step_stats)) {}

std::string Timeline::generate_chrome_trace_format() const {
  nlohmann::json events = nlohmann::json::array();
  int pid = 0;
  for (const DeviceStepStats& dev : step_stats_.dev_stats) {
    events.push_back({{"name", "process_name"},
                      {"ph", "M"},
                      {"pid", pid},
                      {"args", {{"name", dev.device + " Compute"}}}});
    for (const NodeExecStats& n : dev.node_stats) {
      nlohmann::json args = {{"name", n.node_name}, {"op", n.op}};
      if (!n.kernel_label.empty()) args["kernel"] = n.kernel_label;
      const auto inputs = parse_inputs(n.timeline_label);
      for (std::size_t i = 0; i < inputs.size(); ++i) args["input" + std::to_string(i)] = inputs[i];
      events.push_back({{"ph", "X"},
                        {"cat", "Op"},
                        {"name", n.op},
                        {"pid", pid},
                        {"tid", n.thread_id},
                        {"ts", n.all_start_micros},
                        {"dur", n.all_end_rel_micros},
                        {"args", std::move(args)}});
    }
    ++pid;
  }
  return nlohmann::json{{"traceEvents", std::move(events)}}.dump();
}

}  // namespace scopeflow::timeline
