// A fake CachingBackend over host memory for allocator tests (caching_allocator_test,
// host_caching_allocator_test, the pipeline's fake GPU in data_test): the test decides when a
// stream's queued work finishes (its events complete) and whether memory may be freed now
// (refuse_release, or the process's real CaptureExclusion as the GPU backends ask it).
#pragma once

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "devices/caching_allocator.h"
#include "devices/device.h"

namespace scopeflow::testing {

// NOTE: `mu` guards the fields for tests whose streams finish on another thread (the
// pipeline's producer); single-threaded tests may touch the fields directly.
struct FakeState {
  std::recursive_mutex mu;
  std::int64_t capacity = std::int64_t{1} << 40;  // bytes the fake "device" holds
  std::int64_t used = 0;
  int raw_allocs = 0;
  int raw_frees = 0;
  int syncs = 0;
  bool refuse_release = false;     // begin_release() says no (a capture in progress)
  bool capture_exclusion = false;  // begin_release() also asks CaptureExclusion (GPU backends)
  int releases = 0;                // begin_release() calls that said yes
  int open_releases = 0;           // ... not yet ended
  int refused_releases = 0;        // begin_release() calls that said no
  int exclusion_permits = 0;       // CaptureExclusion permits taken and not yet returned
  int unpermitted_calls = 0;       // synchronize() or raw_free() with no release open: a bug
  std::function<void()> on_synchronize;  // runs first in synchronize(), without `mu` (may block)
  int events_recorded = 0;               // record_event() calls
  int events_queried = 0;                // query_event() calls
  bool poison = false;                   // fill new memory with 0xA5 (a stand-in for garbage)
  bool fail_record_event = false;        // record_event() throws (a CUDA error)
  std::set<devices::StreamId> failing_queries;       // query_event() of their events throws
  std::set<devices::StreamId> busy;                  // streams whose queued work has not finished
  std::map<void*, bool*> events;                     // event -> "done" flag
  std::map<void*, devices::StreamId> event_streams;  // event -> the stream it was recorded on
  std::map<void*, std::size_t> sizes;

  // `stream`'s queued work finishes: its events complete.
  void finish(devices::StreamId stream) {
    std::lock_guard<std::recursive_mutex> lock(mu);
    busy.erase(stream);
    for (auto& [ev, s] : event_streams)
      if (s == stream) *events.at(ev) = true;
  }
};

class FakeBackend final : public devices::CachingBackend {
 public:
  explicit FakeBackend(FakeState* s) : s_(s) {}
  void* raw_alloc(std::size_t bytes) override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    if (s_->used + static_cast<std::int64_t>(bytes) > s_->capacity) return nullptr;
    void* p = std::malloc(bytes);
    if (s_->poison) std::memset(p, 0xA5, bytes);
    s_->used += static_cast<std::int64_t>(bytes);
    s_->sizes[p] = bytes;
    ++s_->raw_allocs;
    return p;
  }
  void raw_free(void* p) noexcept override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    if (s_->open_releases == 0) ++s_->unpermitted_calls;
    s_->used -= static_cast<std::int64_t>(s_->sizes[p]);
    s_->sizes.erase(p);
    std::free(p);
    ++s_->raw_frees;
  }
  void* record_event(devices::StreamId stream) override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    if (s_->fail_record_event) throw std::runtime_error("fake: cudaEventRecord failed");
    auto* done = new bool(s_->busy.count(stream) == 0);
    ++s_->events_recorded;
    s_->events[done] = done;
    s_->event_streams[done] = stream;
    return done;
  }
  bool query_event(void* ev) override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    ++s_->events_queried;
    if (s_->failing_queries.count(s_->event_streams.at(ev)) != 0)
      throw std::runtime_error("fake: cudaEventQuery failed");
    return *static_cast<bool*>(ev);
  }
  void destroy_event(void* ev) noexcept override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    s_->events.erase(ev);
    s_->event_streams.erase(ev);
    delete static_cast<bool*>(ev);
  }
  void synchronize() override {
    if (s_->on_synchronize) s_->on_synchronize();
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    if (s_->open_releases == 0) ++s_->unpermitted_calls;
    ++s_->syncs;
    s_->busy.clear();
    for (auto& [k, done] : s_->events) *done = true;
  }
  bool begin_release() override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    if (s_->refuse_release ||
        (s_->capture_exclusion && !devices::CaptureExclusion::try_begin_release())) {
      ++s_->refused_releases;
      return false;
    }
    if (s_->capture_exclusion) ++s_->exclusion_permits;
    ++s_->releases;
    ++s_->open_releases;
    return true;
  }
  void end_release() noexcept override {
    std::lock_guard<std::recursive_mutex> lock(s_->mu);
    --s_->open_releases;
    if (s_->exclusion_permits > 0) {
      --s_->exclusion_permits;
      devices::CaptureExclusion::end_release();
    }
  }

 private:
  FakeState* s_;
};

}  // namespace scopeflow::testing
