// CpuAllocator: alignment, statistics, limits.
#include "devices/cpu_allocator.h"

#include <gtest/gtest.h>

#include <cstring>

#include "devices/base/errors.h"

namespace sf = scopeflow;
using sf::devices::CpuAllocator;

TEST(CpuAllocatorTest, AlignedAndCounted) {
  CpuAllocator a("/device:CPU:0");
  void* p = a.allocate(100);
  void* q = a.allocate(0);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(p, q);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % CpuAllocator::kAlignment, 0u);
  std::memset(p, 0xab, 100);
  auto s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 100);
  EXPECT_EQ(s.num_allocs, 2);
  EXPECT_EQ(s.largest_alloc_size, 100);
  a.deallocate(p);
  a.deallocate(q);
  a.deallocate(nullptr);
  s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 0);
  EXPECT_EQ(s.peak_bytes_in_use, 100);
  EXPECT_EQ(s.num_frees, 2);
  a.reset_peak_stats();
  EXPECT_EQ(a.stats().peak_bytes_in_use, 0);
}

TEST(CpuAllocatorTest, LimitRaisesResourceExhaustedNamingDeviceAndBytes) {
  CpuAllocator a("/device:CPU:3", 1000);
  void* p = a.allocate(600);
  try {
    a.allocate(500);
    FAIL() << "no error";
  } catch (const sf::ResourceExhaustedError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/device:CPU:3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("500 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("600 bytes in use"), std::string::npos) << msg;
  }
  EXPECT_EQ(a.stats().num_ooms, 1);
  a.deallocate(p);
  void* r = a.allocate(900);  // fits again once the first block is returned
  a.deallocate(r);
}

TEST(CpuAllocatorTest, ImpossibleRequestIsResourceExhaustedNotACrash) {
  CpuAllocator a("/device:CPU:0");
  EXPECT_THROW(a.allocate(std::size_t{1} << 62), sf::ResourceExhaustedError);
  EXPECT_THROW(a.allocate(~std::size_t{0}), sf::ResourceExhaustedError);
}
