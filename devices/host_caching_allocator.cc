// HostCachingAllocator. See host_caching_allocator.h.
#include "devices/host_caching_allocator.h"

namespace scopeflow::devices {

HostCachingAllocator::HostCachingAllocator(std::string name, std::string device_name,
                                           std::unique_ptr<CachingBackend> backend)
    : cache_(std::move(device_name), std::move(backend), /*limit_bytes=*/0, /*default_stream=*/0,
             std::move(name)) {}

void* HostCachingAllocator::allocate(std::size_t bytes, StreamId stream) {
  (void)stream;  // host-owned: see the header's NOTE
  return cache_.allocate(bytes);
}

}  // namespace scopeflow::devices
