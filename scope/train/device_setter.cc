// replica_device_setter. See device_setter.h; logic after TF's device_setter.py.
#include "scope/train/device_setter.h"

#include <algorithm>

#include "devices/base/errors.h"

namespace scopeflow::train {

PsStrategy round_robin_strategy(int num_tasks) {
  if (num_tasks < 1) throw ValueError("round_robin_strategy: num_tasks must be >= 1");
  auto next = std::make_shared<int>(0);
  return [next, num_tasks](const NodeDef&) {
    const int task = *next;
    *next = (*next + 1) % num_tasks;
    return task;
  };
}

PsStrategy greedy_load_balancing_strategy(int num_tasks) {
  if (num_tasks < 1) throw ValueError("greedy_load_balancing_strategy: num_tasks must be >= 1");
  auto loads = std::make_shared<std::vector<std::int64_t>>(static_cast<std::size_t>(num_tasks), 0);
  return [loads](const NodeDef& n) {
    const auto it = std::min_element(loads->begin(), loads->end());
    const int task = static_cast<int>(it - loads->begin());
    // TF's byte_size_load_fn: shape.assert_is_fully_defined() (a variable of unknown shape
    // counted as 0 bytes here and left the tasks unbalanced).
    if (!n.shape.is_fully_defined())
      throw ValueError(str_cat("greedy_load_balancing_strategy: ", n.name, " has shape ",
                               n.shape.to_string(), ", which is not fully defined"));
    const std::int64_t bytes =
        n.dtype == DType::kInvalid
            ? 0
            : n.shape.num_elements() * static_cast<std::int64_t>(dtype_size(n.dtype));
    *it += bytes;
    return task;
  };
}

DeviceFunction replica_device_setter(const ReplicaDeviceSetterOptions& options) {
  if (options.ps_tasks < 0) throw ValueError("replica_device_setter: ps_tasks must be >= 0");
  const DeviceSpec ps = DeviceSpec::from_string(options.ps_device);
  const DeviceSpec worker = DeviceSpec::from_string(options.worker_device);
  PsStrategy strategy = options.ps_strategy;
  if (!strategy && options.ps_tasks > 0) strategy = round_robin_strategy(options.ps_tasks);
  const auto ps_ops = options.ps_ops;
  const int ps_tasks = options.ps_tasks;
  const bool merge = options.merge_devices;
  if (ps_tasks == 0) return [](const NodeDef& n) { return n.device; };  // TF: no setter at all
  return [=](const NodeDef& n) {
    // TF: without merging, an op that has a device keeps it (and takes no ps task).
    if (!merge && !n.device.empty()) return n.device;
    const DeviceSpec current = DeviceSpec::from_string(n.device);
    if (ps_tasks > 0 && !options.ps_device.empty() &&
        std::find(ps_ops.begin(), ps_ops.end(), n.op) != ps_ops.end()) {
      DeviceSpec d = ps;
      if (d.job() && (!current.job() || *current.job() == *d.job()))
        d = DeviceSpec(d.job(), d.replica(), strategy(n), d.device_type(), d.device_index());
      d.merge_from(current);  // (a no-op without merging: the op has no device then)
      return d.to_string();
    }
    DeviceSpec d = worker;
    d.merge_from(current);
    return d.to_string();
  };
}

}  // namespace scopeflow::train
