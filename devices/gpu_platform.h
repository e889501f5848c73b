// The GPU half of the device layer, implemented by devices/cuda/ in CUDA builds and by
// devices/cuda_stub.cc in CPU-only builds (the file list decides, not #if).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "devices/device_manager.h"

namespace scopeflow::devices::platform {

GpuInventory probe_gpus() noexcept;
std::string library_versions();
// A logical GPU `index` on physical GPU `physical_id`; `logical_rank` of `logical_count`
// logical GPUs share that card. `memory_limit` 0: no budget.
std::shared_ptr<Device> create_gpu_device(int index, int physical_id, std::int64_t memory_limit,
                                          int logical_rank, int logical_count);
// A cache of page-locked host memory (cudaHostAlloc, portable to every card) of its own, not
// a GPU device's: DeviceManagerOptions::pin_cpu_memory gives it to the CPU devices, so a CPU
// tensor keeps this cache alive, not a GPU with its memory and streams. `physical_id`: the
// card whose context allocates it. UnavailableError in CPU-only builds.
std::shared_ptr<Allocator> create_pinned_host_allocator(int physical_id, std::string name);

}  // namespace scopeflow::devices::platform
