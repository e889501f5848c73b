// CachingAllocator logic on a fake backend (host memory, events whose completion the
// test controls): bins, splitting, coalescing, stream-aware reuse, limits, OOM text.
#include "devices/caching_allocator.h"

#include <gtest/gtest.h>

#include <cstring>

#include "devices/base/errors.h"
#include "tests/devices/fake_caching_backend.h"

namespace sf = scopeflow;
using sf::devices::CachingAllocator;
using sf::devices::CachingBackend;
using sf::devices::StreamId;

namespace {

using sf::testing::FakeBackend;
using sf::testing::FakeState;

constexpr StreamId kS0 = 100;
constexpr StreamId kS1 = 200;

std::unique_ptr<CachingAllocator> make(FakeState* s, std::int64_t limit = 0) {
  return std::make_unique<CachingAllocator>("/device:GPU:0", std::make_unique<FakeBackend>(s),
                                            limit, kS0);
}

}  // namespace

TEST(CachingAllocatorTest, RoundsTo512Bytes) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
}

TEST(CachingAllocatorTest, SmallRequestsShareOneSegment) {
  FakeState st;
  auto a = make(&st);
  std::vector<void*> ps;
  for (int i = 0; i < 16; ++i) ps.push_back(a->allocate(1000));  // 16 x 1024 B of one 2 MiB segment
  EXPECT_EQ(st.raw_allocs, 1);
  for (std::size_t i = 1; i < ps.size(); ++i)
    EXPECT_EQ(static_cast<char*>(ps[i]) - static_cast<char*>(ps[i - 1]), 1024);
  for (void* p : ps) std::memset(p, 1, 1000);
  auto s = a->stats();
  EXPECT_EQ(s.bytes_in_use, 16 * 1024);
  EXPECT_EQ(s.bytes_reserved, 2 << 20);
  for (void* p : ps) a->deallocate(p);
  s = a->stats();
  EXPECT_EQ(s.bytes_in_use, 0);
  EXPECT_EQ(s.num_cached_blocks, 1) << "freed blocks did not coalesce back into one";
}

TEST(CachingAllocatorTest, SteadyStateMakesNoRawAllocations) {
  FakeState st;
  auto a = make(&st);
  for (int step = 0; step < 50; ++step) {
    void* x = a->allocate(3 << 20);
    void* y = a->allocate(40 << 10);
    void* z = a->allocate(64 << 20);
    a->deallocate(y);
    a->deallocate(x);
    a->deallocate(z);
    if (step == 0) {
      EXPECT_EQ(st.raw_allocs, 3);
    }
  }
  EXPECT_EQ(st.raw_allocs, 3) << "allocations after the first step reached the backend";
  EXPECT_EQ(a->stats().num_raw_allocs, 3);
  EXPECT_EQ(a->stats().num_allocs, 150);
}

TEST(CachingAllocatorTest, BestFitReusesTheSmallestCachedBlock) {
  FakeState st;
  auto a = make(&st);
  void* big = a->allocate(60 << 20);
  void* mid = a->allocate(12 << 20);
  a->deallocate(big);
  a->deallocate(mid);
  void* again = a->allocate(11 << 20);
  EXPECT_EQ(again, mid);
  a->deallocate(again);
}

TEST(CachingAllocatorTest, LargeSegmentSplitsAndCoalesces) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(2 << 20);  // a 20 MiB segment, split
  void* q = a->allocate(2 << 20);  // from the remainder
  EXPECT_EQ(st.raw_allocs, 1);
  EXPECT_EQ(static_cast<char*>(q) - static_cast<char*>(p), 2 << 20);
  a->deallocate(p);
  a->deallocate(q);
  EXPECT_EQ(a->stats().num_cached_blocks, 1);
  void* whole = a->allocate(20 << 20);  // the coalesced segment serves a 20 MiB request
  EXPECT_EQ(whole, p);
  EXPECT_EQ(st.raw_allocs, 1);
  a->deallocate(whole);
}

TEST(CachingAllocatorTest, BlocksAreCachedPerStream) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(4096, kS0);
  a->deallocate(p);
  void* q = a->allocate(4096, kS1);  // another stream does not take kS0's cached block
  EXPECT_NE(q, p);
  EXPECT_EQ(st.raw_allocs, 2);
  a->deallocate(q);
  EXPECT_EQ(a->allocate(4096, kS0), p);
}

TEST(CachingAllocatorTest, RecordStreamDelaysReuseUntilTheOtherStreamIsDone) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(8192, kS0);
  a->record_stream(p, kS1);
  st.busy.insert(kS1);  // kS1 still reads p
  a->deallocate(p);
  void* q = a->allocate(8192, kS0);
  EXPECT_NE(q, p) << "memory still used by another stream was handed out again";
  st.busy.clear();
  for (auto& [k, done] : st.events) *done = true;  // kS1's work finishes
  void* r = a->allocate(8192, kS0);
  EXPECT_EQ(r, p);
  a->deallocate(q);
  a->deallocate(r);
}

TEST(CachingAllocatorTest, RecordStreamOfForeignPointerIsAnError) {
  FakeState st;
  auto a = make(&st);
  int x = 0;
  EXPECT_THROW(a->record_stream(&x, kS1), sf::InvalidArgumentError);
}

TEST(CachingAllocatorTest, LimitIsTheLogicalDeviceBudget) {
  FakeState st;
  auto a = make(&st, 64 << 20);
  void* p = a->allocate(40 << 20);
  try {
    a->allocate(30 << 20);
    FAIL() << "budget not enforced";
  } catch (const sf::ResourceExhaustedError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/device:GPU:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("OOM when allocating 31457280 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(gpu_caching)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("41943040 bytes in use"), std::string::npos) << msg;
    EXPECT_NE(msg.find("limit 67108864"), std::string::npos) << msg;
  }
  EXPECT_EQ(a->stats().num_ooms, 1);
  a->deallocate(p);
  void* q = a->allocate(60 << 20);  // the freed segment is released to make room
  a->deallocate(q);
}

TEST(CachingAllocatorTest, DeviceOutOfMemoryFreesCacheThenRetries) {
  FakeState st;
  st.capacity = 100 << 20;
  auto a = make(&st);
  void* p = a->allocate(60 << 20);
  a->deallocate(p);                 // cached, still reserved
  void* q = a->allocate(70 << 20);  // needs the cached segment returned first
  EXPECT_EQ(st.raw_frees, 1);
  a->deallocate(q);
  EXPECT_THROW(a->allocate(200 << 20), sf::ResourceExhaustedError);
}

TEST(CachingAllocatorTest, EmptyCacheReturnsFreeSegments) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(1 << 20);
  void* q = a->allocate(30 << 20);
  a->deallocate(q);
  a->empty_cache();
  EXPECT_EQ(a->stats().bytes_reserved, 2 << 20);  // p's segment stays
  a->deallocate(p);
  a->empty_cache();
  EXPECT_EQ(a->stats().bytes_reserved, 0);
  EXPECT_EQ(st.used, 0);
}

TEST(CachingAllocatorTest, UnknownPointerIsIgnoredAndDestructorReleasesEverything) {
  FakeState st;
  {
    auto a = make(&st);
    int x = 0;
    a->deallocate(&x);  // logged, not a crash
    a->allocate(5 << 20);
    void* p = a->allocate(100);
    a->record_stream(p, kS1);
    st.busy.insert(kS1);
    a->deallocate(p);  // pending on kS1 when the allocator dies
  }
  EXPECT_EQ(st.used, 0);
  EXPECT_EQ(st.raw_allocs, st.raw_frees);
  EXPECT_TRUE(st.events.empty());
}

// Holds (CUDA-graph capture): blocks allocated or freed under a hold are parked, not reused,
// until release_hold(); other blocks behave as before.
TEST(CachingAllocatorTest, HoldParksBlocksAllocatedOrFreedUnderIt) {
  FakeState st;
  auto a = make(&st);
  void* before = a->allocate(1000);  // allocated before the hold, freed under it
  const std::uint64_t id = a->open_hold();
  EXPECT_NE(id, 0u);
  EXPECT_THROW(a->open_hold(), sf::InvalidArgumentError);  // one at a time
  void* during = a->allocate(1000);                        // freed under the hold
  void* survivor = a->allocate(1000);  // allocated under it, freed after it closes
  a->deallocate(before);
  a->deallocate(during);
  void* next = a->allocate(1000);
  EXPECT_NE(next, before) << "a block freed under a hold was reused";
  EXPECT_NE(next, during) << "a block freed under a hold was reused";
  a->close_hold(id);
  a->deallocate(survivor);  // allocated under the hold: parked too
  EXPECT_EQ(a->held_bytes(), 3 * 1024);
  EXPECT_EQ(a->stats().bytes_in_use, 4 * 1024) << "parked blocks count as in use";
  void* after = a->allocate(1000);
  EXPECT_TRUE(after != before && after != during && after != survivor);
  a->deallocate(next);   // allocated under the hold, so parked as well
  a->deallocate(after);  // allocated after the hold closed: cached normally
  EXPECT_EQ(a->allocate(1000), after);
  a->deallocate(after);
  a->release_hold(id);
  EXPECT_EQ(a->held_bytes(), 0);
  EXPECT_EQ(a->stats().bytes_in_use, 0);
  EXPECT_EQ(a->stats().num_cached_blocks, 1) << "released blocks did not coalesce";
  EXPECT_THROW(a->release_hold(id), sf::InvalidArgumentError);
  EXPECT_THROW(a->close_hold(12345), sf::InvalidArgumentError);
}

TEST(CachingAllocatorTest, ReleasingAHoldForgetsBlocksStillInUse) {
  FakeState st;
  auto a = make(&st);
  const std::uint64_t id = a->open_hold();
  void* kept = a->allocate(1 << 20);
  a->close_hold(id);
  a->release_hold(id);
  a->deallocate(kept);  // freed normally now: reusable right away on its stream
  EXPECT_EQ(a->held_bytes(), 0);
  EXPECT_EQ(a->allocate(1 << 20), kept);
  // A second hold gets a new id; the allocator is destroyed with blocks parked (no leak
  // under ASan: the destructor frees parked segments too).
  const std::uint64_t id2 = a->open_hold();
  EXPECT_NE(id2, id);
  a->deallocate(kept);
  EXPECT_EQ(a->held_bytes(), static_cast<std::int64_t>(CachingAllocator::round_size(1 << 20)));
}

// While a hold is open (a CUDA graph being captured) the allocator must neither synchronize
// the device nor free memory (cudaDeviceSynchronize / cudaFree would invalidate the capture):
// out-of-memory is reported without the retry, and empty_cache waits for the hold to close.
TEST(CachingAllocatorTest, NoSynchronizeOrRawFreeWhileAHoldIsOpen) {
  FakeState st;
  st.capacity = 21 << 20;  // a 2 MiB small segment, or a 20 MiB large one, not both
  auto a = make(&st);
  void* cached = a->allocate(1 << 20);
  a->deallocate(cached);  // a whole free 2 MiB segment, cached
  const std::uint64_t id = a->open_hold();
  void* p = a->allocate(1 << 20);  // reuses the cached segment
  EXPECT_THROW(a->allocate(3 << 20), sf::ResourceExhaustedError);
  EXPECT_EQ(st.syncs, 0) << "synchronized the device during a capture";
  EXPECT_EQ(st.raw_frees, 0) << "freed memory during a capture";
  a->empty_cache();
  EXPECT_EQ(st.syncs, 0);
  EXPECT_EQ(st.raw_frees, 0);
  a->close_hold(id);
  a->deallocate(p);  // parked (allocated under the hold)
  a->release_hold(id);
  // Closed: the retry frees the cached segment and succeeds.
  void* big = a->allocate(3 << 20);
  EXPECT_NE(big, nullptr);
  EXPECT_GE(st.syncs, 1);
  EXPECT_GE(st.raw_frees, 1);
  a->deallocate(big);
}

// A block freed under a hold by work that also used another stream (record_stream) is not
// reused on release until that stream has passed the release (as a plain deallocate waits).
TEST(CachingAllocatorTest, ReleasedBlocksWaitForTheirOtherStreams) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(1000);
  a->record_stream(p, kS1);
  const std::uint64_t id = a->open_hold();
  a->deallocate(p);  // parked
  a->close_hold(id);
  st.busy.insert(kS1);  // kS1 still has queued work when the hold is released
  a->release_hold(id);
  void* q = a->allocate(1000);
  EXPECT_NE(q, p) << "reused while another stream may still use it";
  st.busy.clear();
  for (auto& [ev, done] : st.events) *done = true;  // kS1 caught up
  a->deallocate(q);
  void* r = a->allocate(1000);
  void* s = a->allocate(1000);
  EXPECT_TRUE(r == p || s == p) << "the block never came back after its stream finished";
  a->deallocate(r);
  a->deallocate(s);
}

// A backend that cannot free now (the pinned one while a CUDA graph is captured on any thread):
// empty_cache keeps the cache and out-of-memory is reported without freeing cached segments.
TEST(CachingAllocatorTest, NoRawFreeWhenTheBackendRefusesARelease) {
  FakeState st;
  st.capacity = 21 << 20;
  auto a = make(&st);
  a->deallocate(a->allocate(1 << 20));  // a whole free 2 MiB segment, cached
  st.refuse_release = true;
  a->empty_cache();
  EXPECT_EQ(st.raw_frees, 0) << "freed memory the backend said it cannot free now";
  EXPECT_EQ(a->stats().bytes_reserved, 2 << 20);
  EXPECT_THROW(a->allocate(20 << 20), sf::ResourceExhaustedError);
  EXPECT_EQ(st.raw_frees, 0);
  st.refuse_release = false;
  void* big = a->allocate(20 << 20);  // now the cached segment goes back and the retry fits
  EXPECT_EQ(st.raw_frees, 1);
  EXPECT_EQ(st.releases, 1);
  EXPECT_EQ(st.open_releases, 0) << "begin_release without end_release";
  a->deallocate(big);
  a->empty_cache();
  EXPECT_EQ(st.used, 0);
  EXPECT_EQ(st.open_releases, 0);
}

TEST(CachingAllocatorTest, NameComesFromTheOwner) {
  FakeState st;
  EXPECT_EQ(make(&st)->name(), "gpu_caching");  // the default: a GPU device's allocator
  st.capacity = 1 << 20;
  CachingAllocator cpu("/device:CPU:0", std::make_unique<FakeBackend>(&st), 0, 0, "cpu_caching");
  EXPECT_EQ(cpu.name(), "cpu_caching");
  try {
    cpu.allocate(4 << 20);
    FAIL() << "no out-of-memory error";
  } catch (const sf::ResourceExhaustedError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("on /device:CPU:0 (cpu_caching):"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("gpu_caching"), std::string::npos) << msg;
  }
}
