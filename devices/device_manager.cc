// DeviceManager and the process's GPU inventory. See device_manager.h.
#include "devices/device_manager.h"

#include "devices/base/config.h"
#include "devices/base/errors.h"
#include "devices/base/logging.h"
#include "devices/cpu_device.h"
#include "devices/device_spec.h"
#include "devices/gpu_platform.h"

namespace scopeflow::devices {

const GpuInventory& gpu_inventory() {
  static const GpuInventory inventory = platform::probe_gpus();
  return inventory;
}

bool built_with_cuda() { return SF_WITH_CUDA != 0; }

std::string gpu_library_versions() { return platform::library_versions(); }

DeviceManager::DeviceManager(const DeviceManagerOptions& options) {
  if (options.num_cpus < 1)
    throw InvalidArgumentError(
        str_cat("DeviceManager: num_cpus must be at least 1, got ", options.num_cpus));
  num_cpus_ = options.num_cpus;
  if (options.pin_cpu_memory && options.cpu_memory_limit > 0)
    throw InvalidArgumentError(
        str_cat("DeviceManager: pin_cpu_memory with a cpu_memory_limit (", options.cpu_memory_limit,
                " bytes): the GPU's pinned host allocator has no per-device budget"));
  for (int i = 0; i < num_cpus_; ++i)
    devices_.push_back(std::make_shared<CpuDevice>(i, options.cpu_memory_limit));

  const GpuInventory& inv = gpu_inventory();
  for (const auto& [phys, configs] : options.logical_gpus) {
    if (phys < 0 || phys >= static_cast<int>(inv.gpus.size()))
      throw InvalidArgumentError(
          str_cat("DeviceManager: logical GPU configuration names physical GPU ", phys, " but ",
                  inv.gpus.size(), " physical GPU(s) exist",
                  inv.gpus.empty() ? str_cat(" (", inv.unavailable_reason, ")") : std::string()));
    if (configs.empty())
      throw InvalidArgumentError(
          str_cat("DeviceManager: physical GPU ", phys, " is split into zero logical GPUs"));
    std::int64_t total = 0;
    for (const auto& c : configs) {
      if (c.memory_limit < 0)
        throw InvalidArgumentError(str_cat("DeviceManager: negative memory_limit ", c.memory_limit,
                                           " for physical GPU ", phys));
      total += c.memory_limit;
    }
    if (total > inv.gpus[static_cast<std::size_t>(phys)].total_memory)
      throw InvalidArgumentError(str_cat("DeviceManager: logical GPUs on physical GPU ", phys,
                                         " ask for ", total, " bytes but the card has ",
                                         inv.gpus[static_cast<std::size_t>(phys)].total_memory));
  }

  int gpu_index = 0;
  const int max_gpus = options.max_gpus < 0 ? 1 << 30 : options.max_gpus;
  for (const PhysicalGpu& g : inv.gpus) {
    std::vector<LogicalGpuConfig> configs{LogicalGpuConfig{}};
    if (auto it = options.logical_gpus.find(g.id); it != options.logical_gpus.end())
      configs = it->second;
    const int count = static_cast<int>(configs.size());
    for (int r = 0; r < count && gpu_index < max_gpus; ++r) {
      std::int64_t limit = configs[static_cast<std::size_t>(r)].memory_limit;
      if (limit == 0 && count > 1) limit = static_cast<std::int64_t>(0.9 * g.free_memory) / count;
      devices_.push_back(platform::create_gpu_device(gpu_index, g.id, limit, r, count));
      ++gpu_index;
    }
  }
  if (options.pin_cpu_memory && num_gpus() > 0) {
    // One cache for the CPU devices, of its own: a CPU tensor that outlives the manager (a
    // fetched value) keeps page-locked host memory alive, not GPU:0 with its memory.
    const auto pinned = platform::create_pinned_host_allocator(
        gpu(0)->physical_id(), "pinned host memory of the CPU devices");
    for (int i = 0; i < num_cpus_; ++i)
      std::static_pointer_cast<CpuDevice>(devices_[static_cast<std::size_t>(i)])
          ->allocate_from(pinned);
  }
  SF_LOG_DEBUG("DeviceManager: ", device_list());
}

std::shared_ptr<Device> DeviceManager::cpu(int i) const {
  if (i < 0 || i >= num_cpus_)
    throw NotFoundError(str_cat("No device /device:CPU:", i, "; available: ", device_list()));
  return devices_[static_cast<std::size_t>(i)];
}

std::shared_ptr<Device> DeviceManager::gpu(int i) const {
  if (i < 0 || i >= num_gpus())
    throw NotFoundError(str_cat("No device /device:GPU:", i, "; available: ", device_list()));
  return devices_[static_cast<std::size_t>(num_cpus_ + i)];
}

std::shared_ptr<Device> DeviceManager::find(std::string_view name) const {
  std::string text(name);
  if (!text.empty() && text.front() != '/' && text.find(':') != std::string::npos &&
      text.rfind("job:", 0) != 0 && text.rfind("device:", 0) != 0)
    text = "/" + text;  // "GPU:1" -> "/GPU:1"
  DeviceSpec spec = DeviceSpec::from_string(text);
  if (spec.job() && *spec.job() != "localhost") return nullptr;
  if (spec.replica() && *spec.replica() != 0) return nullptr;
  if (spec.task() && *spec.task() != 0) return nullptr;
  if (!spec.device_type()) return nullptr;
  const int index = spec.device_index().value_or(0);
  for (const auto& d : devices_)
    if (device_type_name(d->type()) == *spec.device_type() && d->index() == index) return d;
  return nullptr;
}

std::shared_ptr<Device> DeviceManager::lookup(std::string_view name) const {
  auto d = find(name);
  if (!d) throw NotFoundError(str_cat("No device '", name, "'; available: ", device_list()));
  return d;
}

std::string DeviceManager::device_list() const {
  std::string out;
  for (const auto& d : devices_) out += (out.empty() ? "" : ", ") + d->name();
  return out;
}

namespace {
// Parses "CPU:0" / "GPU:1" / "/device:GPU:1" into (type, index).
std::pair<std::string, int> type_and_index(std::string_view name) {
  std::string text(name);
  if (!text.empty() && text.front() != '/') text = "/" + text;
  DeviceSpec spec = DeviceSpec::from_string(text);
  if (!spec.device_type())
    throw ValueError(str_cat("Device name '", name, "' names no device type"));
  return {*spec.device_type(), spec.device_index().value_or(0)};
}
}  // namespace

std::string why_unavailable(std::string_view name) {
  auto [type, index] = type_and_index(name);
  if (type == "CPU")
    return index == 0 ? "" : str_cat("needs ", index + 1, " CPU devices (configure num_cpus)");
  if (type != "GPU") return str_cat("unknown device type ", type);
  const GpuInventory& inv = gpu_inventory();
  if (inv.gpus.empty()) return inv.unavailable_reason;
  if (index >= static_cast<int>(inv.gpus.size()))
    return str_cat("needs ", index + 1, " GPUs, found ", inv.gpus.size());
  return "";
}

bool is_available(std::string_view name) { return why_unavailable(name).empty(); }

}  // namespace scopeflow::devices
