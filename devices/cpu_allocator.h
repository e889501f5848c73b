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
  void count_oom();
  std::string device_name_;
  std::int64_t limit_ = 0;
  std::atomic<std::int64_t> in_use_{0}, peak_{0}, reserved_{0}, peak_reserved_{0};
  std::atomic<std::int64_t> allocs_{0}, frees_{0}, ooms_{0}, largest_{0};
};

}  // namespace scopeflow::devices
