// Aligned host allocator with statistics and an optional byte limit.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "devices/allocator.h"

namespace scopeflow::devices {

class CpuAllocator final : public Allocator {
 public:
  static constexpr std::size_t kAlignment = 64;
  // `device_name` is used in errors; `limit_bytes` 0 means no limit.
  explicit CpuAllocator(std::string device_name, std::int64_t limit_bytes = 0);
  std::string name() const override { return "cpu"; }
  void* allocate(std::size_t bytes) override;
  using Allocator::allocate;
  void deallocate(void* p) noexcept override;
  AllocatorStats stats() const override;
  void reset_peak_stats() override;

 private:
  struct Header;
  std::string device_name_;
  mutable std::mutex mu_;
  AllocatorStats stats_;
};

}  // namespace scopeflow::devices
