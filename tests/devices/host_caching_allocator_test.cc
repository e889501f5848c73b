// HostCachingAllocator (the pinned host cache's logic) on a fake backend: reuse after free,
// host ownership (no stream-ordered reuse), blocks with pending stream use, statistics, OOM,
// empty_cache; and CaptureExclusion, which keeps pinned frees away from CUDA-graph captures.
#include "devices/host_caching_allocator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "devices/base/errors.h"
#include "devices/device.h"
#include "tests/devices/fake_caching_backend.h"

namespace sf = scopeflow;
using sf::devices::HostCachingAllocator;
using sf::devices::StreamId;
using sf::testing::FakeBackend;
using sf::testing::FakeState;

namespace {

constexpr StreamId kCopy = 300;     // a GPU's host-to-device stream
constexpr StreamId kCompute = 400;  // another GPU stream

std::unique_ptr<HostCachingAllocator> make(FakeState* s) {
  return std::make_unique<HostCachingAllocator>(
      "cuda_pinned_host", "pinned host memory of /device:GPU:0", std::make_unique<FakeBackend>(s));
}

}  // namespace

TEST(HostCachingAllocatorTest, FreedBlocksAreReusedWithoutRawAllocations) {
  FakeState st;
  auto a = make(&st);
  for (int batch = 0; batch < 100; ++batch) {
    void* images = a->allocate(64 * 28 * 28 * 4);  // one batch of a pipeline: 200,704 bytes
    void* labels = a->allocate(64 * 4);
    std::memset(images, 1, 64 * 28 * 28 * 4);
    a->deallocate(labels);
    a->deallocate(images);
  }
  EXPECT_EQ(st.raw_allocs, 1) << "each batch reached cudaHostAlloc";
  EXPECT_EQ(st.raw_frees, 0) << "a freed batch reached cudaFreeHost";
  const auto s = a->stats();
  EXPECT_EQ(s.num_allocs, 200);
  EXPECT_EQ(s.num_frees, 200);
  EXPECT_EQ(s.num_raw_allocs, 1);
  EXPECT_EQ(s.num_raw_frees, 0);
  EXPECT_EQ(s.bytes_in_use, 0);
  EXPECT_EQ(s.bytes_reserved, 2 << 20);
  EXPECT_EQ(s.num_cached_blocks, 1);
  EXPECT_EQ(a->name(), "cuda_pinned_host");
}

// Host memory is written by the CPU as soon as it is handed out, so a stream argument must
// not create per-stream bins with stream-ordered reuse: all blocks are the host's.
TEST(HostCachingAllocatorTest, StreamArgumentIsIgnored) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(4096, kCopy);
  a->deallocate(p);
  EXPECT_EQ(a->allocate(4096), p) << "a block freed 'on a stream' stayed in that stream's bin";
  void* q = a->allocate(4096, kCompute);
  EXPECT_NE(q, p);
  a->deallocate(p);
  a->deallocate(q);
  EXPECT_EQ(st.raw_allocs, 1);
}

TEST(HostCachingAllocatorTest, BlockWithPendingStreamUseIsNotReusedUntilItsEventCompletes) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(100'000);
  a->record_stream(p, kCopy);  // an async copy out of p is queued on kCopy
  st.busy.insert(kCopy);       // ... and has not run yet
  a->deallocate(p);
  EXPECT_EQ(st.events.size(), 1u) << "deallocate recorded no event on the copy's stream";
  auto s = a->stats();
  EXPECT_EQ(s.bytes_in_use, 0);
  EXPECT_EQ(s.num_cached_blocks, 1) << "only the segment's untouched rest is cached";
  void* q = a->allocate(100'000);
  EXPECT_NE(q, p) << "pinned memory handed out while a copy may still read it";
  std::memset(q, 7, 100'000);  // the CPU writes the new block at once
  st.finish(kCopy);            // the copy is done
  void* r = a->allocate(100'000);
  EXPECT_EQ(r, p) << "the block did not come back once its copy finished";
  EXPECT_TRUE(st.events.empty()) << "the completed event was not destroyed";
  EXPECT_EQ(st.syncs, 0) << "reuse waited for the device instead of querying the event";
  EXPECT_EQ(st.raw_allocs, 1);
  a->deallocate(q);
  a->deallocate(r);
}

TEST(HostCachingAllocatorTest, UsesOnSeveralStreamsAllMustFinish) {
  FakeState st;
  auto a = make(&st);
  void* p = a->allocate(1000);
  a->record_stream(p, kCopy);
  a->record_stream(p, kCompute);
  a->record_stream(p, kCopy);  // recorded once
  a->record_stream(p, 0);      // a CPU stream: nothing to wait for
  st.busy = {kCopy, kCompute};
  a->deallocate(p);
  EXPECT_EQ(st.events.size(), 2u);
  st.finish(kCopy);
  void* q = a->allocate(1000);
  EXPECT_NE(q, p) << "reused while the other stream may still use it";
  st.finish(kCompute);
  void* r = a->allocate(1000);
  EXPECT_EQ(r, p);
  a->deallocate(q);
  a->deallocate(r);
}

TEST(HostCachingAllocatorTest, RecordStreamOfAForeignPointerIsAnError) {
  FakeState st;
  auto a = make(&st);
  int x = 0;
  EXPECT_THROW(a->record_stream(&x, kCopy), sf::InvalidArgumentError);
}

TEST(HostCachingAllocatorTest, OutOfMemoryNamesTheDeviceAndTheBytes) {
  FakeState st;
  st.capacity = 4 << 20;
  auto a = make(&st);
  void* p = a->allocate(1 << 20);
  try {
    a->allocate(30 << 20);
    FAIL() << "no out-of-memory error";
  } catch (const sf::ResourceExhaustedError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("OOM when allocating 31457280 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pinned host memory of /device:GPU:0 (cuda_pinned_host)"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("1048576 bytes in use"), std::string::npos) << msg;
  }
  const auto s = a->stats();
  EXPECT_EQ(s.num_ooms, 1);
  EXPECT_EQ(s.bytes_in_use, 1 << 20);
  a->deallocate(p);
}

// Before reporting out-of-memory the cache waits for blocks still used by streams (events),
// then frees its free segments and retries.
TEST(HostCachingAllocatorTest, OutOfMemoryWaitsForPendingBlocksThenRetries) {
  FakeState st;
  st.capacity = 2 << 20;  // one small segment
  auto a = make(&st);
  void* p = a->allocate(1 << 20);
  a->record_stream(p, kCopy);
  st.busy.insert(kCopy);
  a->deallocate(p);                // pending on kCopy
  void* q = a->allocate(1 << 20);  // the segment's other half
  void* r = a->allocate(1 << 20);  // needs p's block: waits for kCopy (synchronize), reuses it
  EXPECT_EQ(r, p);
  EXPECT_EQ(st.syncs, 1);
  EXPECT_EQ(st.raw_allocs, 1);
  a->deallocate(q);
  a->deallocate(r);
}

TEST(HostCachingAllocatorTest, EmptyCacheFreesCachedAndFinishedBlocks) {
  FakeState st;
  auto a = make(&st);
  void* kept = a->allocate(3 << 20);  // a large segment of its own, in use
  void* p = a->allocate(1000);
  a->record_stream(p, kCopy);
  st.busy.insert(kCopy);
  a->deallocate(p);  // pending
  a->empty_cache();  // waits for kCopy, then frees the small segment
  auto s = a->stats();
  EXPECT_EQ(st.syncs, 1);
  EXPECT_EQ(s.num_raw_frees, 1);
  EXPECT_EQ(s.bytes_reserved, 20 << 20) << "only the segment in use stays";
  EXPECT_EQ(s.bytes_in_use, static_cast<std::int64_t>(3 << 20));
  a->deallocate(kept);
  a->empty_cache();
  s = a->stats();
  EXPECT_EQ(s.bytes_reserved, 0);
  EXPECT_EQ(s.num_raw_frees, s.num_raw_allocs);
  EXPECT_EQ(s.num_cached_blocks, 0);
  EXPECT_EQ(st.used, 0);
}

// While a CUDA graph is captured (the pinned backend's begin_release() says no) nothing is
// freed: cudaFreeHost would synchronize the device under the capture.
TEST(HostCachingAllocatorTest, EmptyCacheDuringACaptureKeepsTheCache) {
  FakeState st;
  auto a = make(&st);
  a->deallocate(a->allocate(1000));
  st.refuse_release = true;
  a->empty_cache();
  EXPECT_EQ(st.raw_frees, 0);
  EXPECT_EQ(st.syncs, 0) << "waited without the backend's permit";
  EXPECT_EQ(a->stats().bytes_reserved, 2 << 20);
  st.refuse_release = false;
  a->empty_cache();
  EXPECT_EQ(st.raw_frees, 1);
  EXPECT_EQ(a->stats().bytes_reserved, 0);
}

TEST(HostCachingAllocatorTest, DestructorReturnsEverythingIncludingPendingBlocks) {
  FakeState st;
  {
    auto a = make(&st);
    void* p = a->allocate(1000);
    a->record_stream(p, kCopy);
    st.busy.insert(kCopy);
    a->deallocate(p);
    (void)a->allocate(5 << 20);  // still in use at destruction: logged, freed
  }
  EXPECT_EQ(st.used, 0);
  EXPECT_TRUE(st.events.empty());
}

TEST(HostCachingAllocatorTest, DestroyedDuringACaptureLeaksRatherThanFrees) {
  FakeState st;
  {
    auto a = make(&st);
    a->deallocate(a->allocate(1000));
    st.refuse_release = true;
  }
  EXPECT_EQ(st.raw_frees, 0) << "cudaFreeHost during a capture";
  st.refuse_release = false;
  for (auto& [p, bytes] : st.sizes) std::free(p);  // the test's own cleanup
}

// ---------------------------------------------------------------- CaptureExclusion

TEST(CaptureExclusionTest, ReleasesAndCapturesExcludeEachOther) {
  using sf::devices::CaptureExclusion;
  ASSERT_EQ(CaptureExclusion::captures_in_progress(), 0);
  ASSERT_TRUE(CaptureExclusion::try_begin_release());
  ASSERT_TRUE(CaptureExclusion::try_begin_release()) << "releases may overlap";
  std::atomic<bool> began{false};
  std::thread capture([&] {
    CaptureExclusion::capture_begins();  // waits for both permits
    began = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(began.load()) << "a capture began while memory was being freed";
  CaptureExclusion::end_release();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(began.load());
  CaptureExclusion::end_release();
  capture.join();
  EXPECT_TRUE(began.load());
  EXPECT_EQ(CaptureExclusion::captures_in_progress(), 1);
  EXPECT_FALSE(CaptureExclusion::try_begin_release()) << "a free allowed during a capture";
  CaptureExclusion::capture_begins();  // captures may overlap
  CaptureExclusion::capture_ends();
  EXPECT_FALSE(CaptureExclusion::try_begin_release());
  CaptureExclusion::capture_ends();
  EXPECT_EQ(CaptureExclusion::captures_in_progress(), 0);
  EXPECT_TRUE(CaptureExclusion::try_begin_release());
  CaptureExclusion::end_release();
}
