// sf::Session (first version): owns the variables' buffers and runs fetches, targets and
// feeds over the graph. Placement: each node's requested device, soft placement to CPU:0
// when that device or a kernel for it is missing (logged), assign/read ops with their
// variable. Execution: the needed subgraph in topological order, copies across devices.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/device_manager.h"
#include "devices/tensor.h"
#include "runtime/graph.h"

namespace scopeflow {

struct SessionOptions {
  bool allow_soft_placement = true;
  bool log_device_placement = false;
  // {"CPU": k} makes k logical CPU devices; {"GPU": n} uses at most n GPUs.
  std::map<std::string, int> device_count = {};
  // Physical GPU id -> its logical GPUs (TF's logical device configuration).
  std::map<int, std::vector<devices::LogicalGpuConfig>> logical_gpus = {};
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scopeflow
