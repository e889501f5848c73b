// sf::train::replica_device_setter: TF1's parameter-server placement as a device function.
// Variable ops go to ps_device with a task chosen by the strategy (round robin by default, or
// greedy by bytes); every other op goes to worker_device; fields already set by inner device
// scopes win (merge_devices).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/graph.h"

namespace scopeflow::train {

// Chooses a parameter-server task for a variable op.
using PsStrategy = std::function<int(const NodeDef&)>;

// 0, 1, ..., n-1, 0, ... (TF's _RoundRobinStrategy).
PsStrategy round_robin_strategy(int num_tasks);
// The task with the fewest bytes placed so far (TF's GreedyLoadBalancingStrategy with
// byte_size_load_fn); ties go to the lowest task.
PsStrategy greedy_load_balancing_strategy(int num_tasks);

struct ReplicaDeviceSetterOptions {
  int ps_tasks = 0;
  std::string ps_device = "/job:ps";
  std::string worker_device = "/job:worker";
  bool merge_devices = true;
  std::vector<std::string> ps_ops = {"Variable", "VariableV2", "AutoReloadVariable", "VarHandleOp"};
  PsStrategy ps_strategy = nullptr;  // default: round robin over ps_tasks
};

// A device function for sf::device(...). With ps_tasks == 0 it changes nothing (TF returns
// no setter then). ValueError for malformed device strings.
DeviceFunction replica_device_setter(const ReplicaDeviceSetterOptions& options);

}  // namespace scopeflow::train
