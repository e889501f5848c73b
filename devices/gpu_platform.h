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

}  // namespace scopeflow::devices::platform
