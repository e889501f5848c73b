// CPU-only builds: no GPUs, and the reason says why. The CUDA build uses devices/cuda/.
#include "devices/base/errors.h"
#include "devices/gpu_platform.h"

namespace scopeflow::devices::platform {

GpuInventory probe_gpus() noexcept { return GpuInventory{{}, "CPU-only build"}; }

std::string library_versions() { return "CPU-only build"; }

std::shared_ptr<Device> create_gpu_device(int index, int, std::int64_t, int, int) {
  throw UnavailableError(str_cat("Cannot create /device:GPU:", index, ": CPU-only build"));
}

std::shared_ptr<Allocator> create_pinned_host_allocator(int, std::string name) {
  throw UnavailableError(str_cat("Cannot create ", name, ": CPU-only build"));
}

}  // namespace scopeflow::devices::platform
