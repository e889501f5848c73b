// CpuAllocator: aligned_alloc with a small header recording the size. See cpu_allocator.h.
#include "devices/cpu_allocator.h"

#include <cstdlib>
#include <new>

#include "devices/base/errors.h"

namespace scopeflow::devices {

std::string AllocatorStats::to_string() const {
  return str_cat("in_use=", bytes_in_use, " peak=", peak_bytes_in_use, " reserved=", bytes_reserved,
                 " peak_reserved=", peak_bytes_reserved, " limit=", bytes_limit,
                 " allocs=", num_allocs, " frees=", num_frees, " raw_allocs=", num_raw_allocs,
                 " raw_frees=", num_raw_frees, " ooms=", num_ooms,
                 " cached_blocks=", num_cached_blocks);
}

// The header sits in the first kAlignment bytes, so the user pointer stays aligned.
struct CpuAllocator::Header {
  std::size_t bytes;
  std::size_t magic;
};
static constexpr std::size_t kMagic = 0x5cf10ca7edULL;

CpuAllocator::CpuAllocator(std::string device_name, std::int64_t limit_bytes)
    : device_name_(std::move(device_name)) {
  stats_.bytes_limit = limit_bytes;
}

void* CpuAllocator::allocate(std::size_t bytes) {
  const std::size_t total = kAlignment + ((bytes + kAlignment - 1) / kAlignment) * kAlignment;
  if (total < bytes)
    throw ResourceExhaustedError(
        str_cat("OOM when allocating ", bytes, " bytes on ", device_name_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stats_.bytes_limit > 0 &&
        stats_.bytes_in_use + static_cast<std::int64_t>(bytes) > stats_.bytes_limit) {
      ++stats_.num_ooms;
      throw ResourceExhaustedError(str_cat("OOM when allocating ", bytes, " bytes on ",
                                           device_name_, " (cpu allocator): ", stats_.bytes_in_use,
                                           " bytes in use, limit ", stats_.bytes_limit, " bytes"));
    }
  }
  void* raw = std::aligned_alloc(kAlignment, total);
  if (raw == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.num_ooms;
    throw ResourceExhaustedError(str_cat("OOM when allocating ", bytes, " bytes on ", device_name_,
                                         " (cpu allocator): the system refused; ",
                                         stats_.bytes_in_use, " bytes in use"));
  }
  auto* header = static_cast<Header*>(raw);
  header->bytes = bytes;
  header->magic = kMagic;
  std::lock_guard<std::mutex> lock(mu_);
  const auto b = static_cast<std::int64_t>(bytes);
  stats_.bytes_in_use += b;
  stats_.bytes_reserved += static_cast<std::int64_t>(total);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_reserved);
  stats_.largest_alloc_size = std::max(stats_.largest_alloc_size, b);
  ++stats_.num_allocs;
  ++stats_.num_raw_allocs;
  return static_cast<char*>(raw) + kAlignment;
}

void CpuAllocator::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  void* raw = static_cast<char*>(p) - kAlignment;
  auto* header = static_cast<Header*>(raw);
  const std::size_t bytes = header->bytes;
  header->magic = 0;
  std::free(raw);
  const std::size_t total = kAlignment + ((bytes + kAlignment - 1) / kAlignment) * kAlignment;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.bytes_in_use -= static_cast<std::int64_t>(bytes);
  stats_.bytes_reserved -= static_cast<std::int64_t>(total);
  ++stats_.num_frees;
  ++stats_.num_raw_frees;
}

AllocatorStats CpuAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CpuAllocator::reset_peak_stats() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_reserved;
}

}  // namespace scopeflow::devices
