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

namespace {
// Bytes in front of the user pointer: [original malloc pointer, size]; the user pointer is
// aligned to kAlignment.
struct Header {
  void* raw;
  std::size_t bytes;
};
void update_max(std::atomic<std::int64_t>& m, std::int64_t v) {
  std::int64_t cur = m.load(std::memory_order_relaxed);
  while (v > cur && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
}  // namespace

CpuAllocator::CpuAllocator(std::string device_name, std::int64_t limit_bytes)
    : device_name_(std::move(device_name)), limit_(limit_bytes) {}

void CpuAllocator::count_oom() { ooms_.fetch_add(1, std::memory_order_relaxed); }

void* CpuAllocator::allocate(std::size_t bytes) {
  constexpr std::size_t kExtra = kAlignment + sizeof(Header);
  if (bytes > (std::size_t{1} << 62)) {
    count_oom();
    throw ResourceExhaustedError(str_cat("OOM when allocating ", bytes, " bytes on ", device_name_,
                                         " (cpu allocator): larger than any host"));
  }
  const auto b = static_cast<std::int64_t>(bytes);
  if (limit_ > 0) {
    const std::int64_t now = in_use_.fetch_add(b, std::memory_order_relaxed) + b;
    if (now > limit_) {
      in_use_.fetch_sub(b, std::memory_order_relaxed);
      count_oom();
      throw ResourceExhaustedError(str_cat("OOM when allocating ", bytes, " bytes on ",
                                           device_name_, " (cpu allocator): ", now - b,
                                           " bytes in use, limit ", limit_, " bytes"));
    }
  } else {
    in_use_.fetch_add(b, std::memory_order_relaxed);
  }
  void* raw = std::malloc(bytes + kExtra);
  if (raw == nullptr) {
    in_use_.fetch_sub(b, std::memory_order_relaxed);
    count_oom();
    throw ResourceExhaustedError(str_cat("OOM when allocating ", bytes, " bytes on ", device_name_,
                                         " (cpu allocator): the system refused; ", in_use_.load(),
                                         " bytes in use"));
  }
  const auto base = reinterpret_cast<std::uintptr_t>(raw) + sizeof(Header);
  auto* user = reinterpret_cast<char*>((base + kAlignment - 1) & ~(std::uintptr_t{kAlignment} - 1));
  auto* header = reinterpret_cast<Header*>(user) - 1;
  header->raw = raw;
  header->bytes = bytes;
  update_max(peak_, in_use_.load(std::memory_order_relaxed));
  update_max(peak_reserved_,
             reserved_.fetch_add(b + kExtra, std::memory_order_relaxed) + b + kExtra);
  update_max(largest_, b);
  allocs_.fetch_add(1, std::memory_order_relaxed);
  return user;
}

void CpuAllocator::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  constexpr std::size_t kExtra = kAlignment + sizeof(Header);
  auto* header = static_cast<Header*>(p) - 1;
  const auto b = static_cast<std::int64_t>(header->bytes);
  std::free(header->raw);
  in_use_.fetch_sub(b, std::memory_order_relaxed);
  reserved_.fetch_sub(b + static_cast<std::int64_t>(kExtra), std::memory_order_relaxed);
  frees_.fetch_add(1, std::memory_order_relaxed);
}

AllocatorStats CpuAllocator::stats() const {
  AllocatorStats s;
  s.bytes_in_use = in_use_.load();
  s.peak_bytes_in_use = peak_.load();
  s.bytes_reserved = reserved_.load();
  s.peak_bytes_reserved = peak_reserved_.load();
  s.bytes_limit = limit_;
  s.num_allocs = allocs_.load();
  s.num_frees = frees_.load();
  s.num_raw_allocs = s.num_allocs;
  s.num_raw_frees = s.num_frees;
  s.num_ooms = ooms_.load();
  s.largest_alloc_size = largest_.load();
  return s;
}

void CpuAllocator::reset_peak_stats() {
  peak_.store(in_use_.load());
  peak_reserved_.store(reserved_.load());
}

}  // namespace scopeflow::devices
