// CPU:k: logical CPU devices over host memory. Several exist so that multi-device logic
// (placement, copies, towers) is testable without GPUs.
#pragma once

#include <memory>

#include "devices/caching_allocator.h"
#include "devices/cpu_allocator.h"
#include "devices/device.h"

namespace scopeflow::devices {

class CpuDevice final : public Device {
 public:
  explicit CpuDevice(int index, std::int64_t memory_limit = 0);
  std::string description() const override;
  Allocator& allocator() override { return other_ ? *other_ : allocator_; }
  Allocator& host_allocator() override { return allocator(); }
  // From now on, tensors come from `allocator` (kept alive: DeviceManagerOptions::
  // pin_cpu_memory gives a cache of page-locked memory, so a copy between this device and a
  // GPU is one DMA, not a staged copy of pageable memory). Once, before anything is allocated
  // here and before the device is shared between threads: a tensor is freed by the allocator
  // the device names at that time (FailedPreconditionError otherwise; InvalidArgumentError for
  // a null allocator or a device with a memory budget, which `allocator` would not enforce).
  void allocate_from(std::shared_ptr<Allocator> allocator);
  Stream& compute_stream() override;
  std::unique_ptr<Stream> create_stream() override;
  std::unique_ptr<Event> create_event() override;
  void synchronize() override {}
  std::int64_t memory_limit() const override { return memory_limit_; }
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override;
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override;
  void copy_from_device(void* dst, Device& src_device, const void* src, std::size_t bytes) override;
  void memset(void* dst, int value, std::size_t bytes) override;

 private:
  std::int64_t memory_limit_;
  // NOTE: tensors come from a caching allocator over host memory (the GPU allocator's logic
  // on a malloc backend): a training step reuses the previous step's blocks instead of
  // returning large buffers to the OS and faulting them in again.
  CachingAllocator allocator_;
  std::shared_ptr<Allocator> other_;  // allocate_from()
  std::unique_ptr<Stream> stream_;
};

}  // namespace scopeflow::devices
