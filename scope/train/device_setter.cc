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
    std::int64_t bytes = 0;
    if (n.shape.is_fully_defined() && n.dtype != DType::kInvalid)
      bytes = n.shape.num_elements() * static_cast<std::int64_t>(dtype_size(n.dtype));
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
    const DeviceSpec current = DeviceSpec::from_string(n.device);
    if (ps_tasks > 0 && !options.ps_device.empty() &&
        std::find(ps_ops.begin(), ps_ops.end(), n.op) != ps_ops.end()) {
      DeviceSpec d = ps;
      if (d.job() && (!current.job() || *current.job() == *d.job()))
        d = DeviceSpec(d.job(), d.replica(), strategy(n), d.device_type(), d.device_index());
      if (merge) d.merge_from(current);
      return d.to_string();
    }
    DeviceSpec d = worker;
    if (merge) d.merge_from(current);
    return d.to_string();
  };
}

}  // namespace scopeflow::train
