// Finds the devices of this process: CPU:0..k-1 (k configurable) and GPU:0..n-1, where
// one physical GPU may be split into several logical GPUs, each with its own streams and
// memory budget (TF's logical device configuration). A CUDA build on a machine with no
// GPU or no driver reports 0 GPUs and the reason; it never fails to start.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "devices/device.h"

namespace scopeflow::devices {

struct PhysicalGpu {
  int id = 0;
  std::string name;
  std::int64_t total_memory = 0;
  std::int64_t free_memory = 0;
  int cc_major = 0;
  int cc_minor = 0;
  int multiprocessors = 0;
  std::string pci_bus_id;
};

struct GpuInventory {
  std::vector<PhysicalGpu> gpus;
  // Why there are no GPUs: "CPU-only build", "no CUDA device visible", a driver error...
  std::string unavailable_reason;
};

// Probed once per process; never throws.
const GpuInventory& gpu_inventory();
// True when this library was built with CUDA kernels.
bool built_with_cuda();
// "CUDA 13.0, cuDNN 9.x, cuBLAS ..., NCCL ..." or "CPU-only build".
std::string gpu_library_versions();

struct LogicalGpuConfig {
  // Memory budget in bytes; 0 gives an equal share of the card's free memory.
  std::int64_t memory_limit = 0;
};

struct DeviceManagerOptions {
  int num_cpus = 1;                   // logical CPU devices CPU:0..num_cpus-1
  std::int64_t cpu_memory_limit = 0;  // per CPU device; 0: none
  int max_gpus = -1;                  // at most this many GPU devices (-1: all)
  // Physical GPU id -> its logical devices. A physical GPU not named here becomes one
  // logical GPU with no budget. Naming a physical GPU that does not exist is an error.
  std::map<int, std::vector<LogicalGpuConfig>> logical_gpus = {};
  // With a GPU: the CPU devices allocate page-locked memory from a cache of their own
  // (platform::create_pinned_host_allocator, CpuDevice::allocate_from), so their copies to and
  // from GPUs are one DMA each. Without a GPU it changes nothing. Not with cpu_memory_limit
  // (InvalidArgumentError).
  bool pin_cpu_memory = false;
};

class DeviceManager {
 public:
  // Throws InvalidArgumentError for impossible options (num_cpus < 1, a logical split
  // of a GPU that does not exist, budgets over the card's memory).
  explicit DeviceManager(const DeviceManagerOptions& options = {});

  const std::vector<std::shared_ptr<Device>>& devices() const { return devices_; }
  int num_cpus() const { return num_cpus_; }
  int num_gpus() const { return static_cast<int>(devices_.size()) - num_cpus_; }
  // CPU:i / GPU:i; throws NotFoundError listing the devices that exist.
  std::shared_ptr<Device> cpu(int i = 0) const;
  std::shared_ptr<Device> gpu(int i) const;
  // By name or spec ("/device:GPU:1", "/gpu:1", "GPU:1", "/job:localhost/.../device:CPU:0");
  // nullptr when no such device exists; ValueError for a malformed string.
  std::shared_ptr<Device> find(std::string_view name) const;
  // Like find(), but throws NotFoundError naming the request and listing the devices.
  std::shared_ptr<Device> lookup(std::string_view name) const;
  // "/device:CPU:0, /device:GPU:0"
  std::string device_list() const;

 private:
  int num_cpus_ = 0;
  std::vector<std::shared_ptr<Device>> devices_;
};

// For tests and skips: is "CPU:0", "GPU:1", "/device:GPU:0" present with default options?
bool is_available(std::string_view name);
// "" when available, else "CPU-only build", "no CUDA device visible: ...", "needs 2 GPUs, found 1".
std::string why_unavailable(std::string_view name);

}  // namespace scopeflow::devices
