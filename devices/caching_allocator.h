// A caching, stream-aware device allocator (the GPU allocator's logic, kept free of CUDA
// so that it is unit-tested on the CPU with a fake backend). Memory comes from the
// backend in segments; segments are split into blocks, freed blocks are cached in
// size-ordered bins per stream and coalesced with free neighbours, so that a training
// loop reaches a steady state with no raw allocation (no cudaMalloc) per step.
//
// Sizes: requests round up to 512 bytes. Requests up to 1 MiB come from the small pool
// (2 MiB segments); larger ones from the large pool (20 MiB segments below 10 MiB,
// else rounded up to 2 MiB). A block freed while other streams still use it (see
// record_stream) returns to its bin when events recorded on those streams complete.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "devices/allocator.h"

namespace scopeflow::devices {

// What the caching allocator needs from a device (CUDA in practice; a fake in tests).
class CachingBackend {
 public:
  virtual ~CachingBackend() = default;
  // nullptr when the device is out of memory (never throws for that).
  virtual void* raw_alloc(std::size_t bytes) = 0;
  virtual void raw_free(void* p) noexcept = 0;
  // An event recorded on `stream` now; query() is true once the stream's prior work is done.
  virtual void* record_event(StreamId stream) = 0;
  virtual bool query_event(void* event) = 0;
  virtual void destroy_event(void* event) noexcept = 0;
  // Waits for all work on the device (used before returning memory to the system).
  virtual void synchronize() = 0;
  // A permit for the calls that would break a CUDA-graph capture running on any thread:
  // the allocator calls synchronize() and raw_free() only between a begin_release() that said
  // true and its end_release() (empty_cache, the retry before out-of-memory, the destructor,
  // and a failed record_event). false: not now; the allocator then neither waits nor frees (it
  // reports out-of-memory, keeps its cache, or leaks at destruction, logged). true: the backend
  // keeps captures from starting until end_release(). The GPU and pinned backends answer with
  // CaptureExclusion (devices/device.h): cudaDeviceSynchronize, cudaFree and cudaFreeHost
  // synchronize the device, whichever thread calls them. begin_release() must answer at once,
  // never wait: it is called with the allocator's mutex held (see the NOTE on lock order in
  // caching_allocator.cc).
  virtual bool begin_release() { return true; }
  virtual void end_release() noexcept {}
};

class CachingAllocator final : public Allocator {
 public:
  static constexpr std::size_t kMinBlockSize = 512;
  static constexpr std::size_t kSmallSize = 1 << 20;
  static constexpr std::size_t kSmallBuffer = 2 << 20;
  static constexpr std::size_t kLargeBuffer = 20 << 20;
  static constexpr std::size_t kMinLargeAlloc = 10 << 20;
  static constexpr std::size_t kRoundLarge = 2 << 20;
  // Larger requests are refused (ResourceExhaustedError) before any size arithmetic, which
  // would wrap around near SIZE_MAX (as CpuAllocator and Tensor refuse them).
  static constexpr std::size_t kMaxBytes = std::size_t{1} << 62;

  // `device_name` appears in errors; `limit_bytes` caps reserved memory (0: no cap),
  // which is how a logical GPU gets its memory budget; `default_stream` serves allocate(n);
  // `name` is name() ("cpu_caching" for CPU devices, the pinned cache's name for pinned memory).
  CachingAllocator(std::string device_name, std::unique_ptr<CachingBackend> backend,
                   std::int64_t limit_bytes, StreamId default_stream,
                   std::string name = "gpu_caching");
  // Waits for the device and frees every segment, under the backend's permit; without it (a
  // CUDA graph is being captured on some thread) it leaks the segments, logged, rather than
  // break the capture.
  ~CachingAllocator() override;

  std::string name() const override { return name_; }
  // Out of memory: ResourceExhaustedError "OOM when allocating N bytes (rounded to R) on
  // <device_name> (<name>): ...". Before that it waits for the device (so that blocks pending
  // on other streams come back), gives cached free segments back and retries once, under the
  // backend's permit; while a hold is open or the permit is refused (a CUDA graph is being
  // captured, on this device or any other) it does neither and the message says so.
  void* allocate(std::size_t bytes) override { return allocate(bytes, default_stream_); }
  void* allocate(std::size_t bytes, StreamId stream) override;
  void deallocate(void* p) noexcept override;
  void record_stream(void* p, StreamId stream) override;
  AllocatorStats stats() const override;
  void reset_peak_stats() override;
  // Frees every cached segment that has no block in use (after synchronize(), so that blocks
  // waiting on other streams are free too). Does nothing (logged; the cache stays as it is)
  // while a hold is open or when the backend's begin_release() says no: a CUDA graph is being
  // captured, here or on another device or thread.
  void empty_cache() override;
  // Holds (see Allocator::open_hold). InvalidArgumentError when a hold is already open or the
  // id is unknown. Parked blocks count as in use in stats() until released; a released block
  // used by other streams (record_stream) waits for them like a deallocated one. While a hold
  // is open the backend is neither synchronized nor given memory back (that would break the
  // capture): allocate() reports out-of-memory without that retry, empty_cache() does nothing.
  // The same holds while the backend refuses its permit, which covers captures on other
  // devices (another logical GPU of the card, another session) that hold no hold here.
  std::uint64_t open_hold() override;
  void close_hold(std::uint64_t id) override;
  void release_hold(std::uint64_t id) override;
  // Bytes parked by holds (blocks freed under a hold and not yet released).
  std::int64_t held_bytes() const;

  static std::size_t round_size(std::size_t bytes);

 private:
  struct Block;
  struct BlockLess {
    bool operator()(const Block* a, const Block* b) const;
  };
  using Pool = std::set<Block*, BlockLess>;

  Pool& pool_for(std::size_t rounded) { return rounded <= kSmallSize ? small_ : large_; }
  static std::size_t segment_size(std::size_t rounded);
  // The best-fitting free block of `stream` for `rounded` bytes. Unless `carve_any`, a huge
  // cached block is not carved for a small large-pool request (allocate()'s last resort does).
  Block* find_free_block(Pool& pool, std::size_t rounded, StreamId stream, bool carve_any = false);
  // An event's state; a failed query counts as not done (the block waits: never reused early).
  bool event_done(void* event);
  bool should_split(const Block* block, std::size_t rounded) const;
  Block* allocate_segment(std::size_t rounded, StreamId stream);
  void release_cached_segments();
  // backend synchronize(), then every block waiting for it (pending events, unsynced_) is
  // cached. Only under the backend's permit.
  void synchronize_and_collect();
  void free_block(Block* block);
  // A block no longer in use: cached at once, or pending events on its other streams.
  void retire(Block* block);
  void process_events();
  // `why_not_retried`: why the synchronize-and-free retry did not run (nullptr: it did).
  [[noreturn]] void throw_oom(std::size_t bytes, std::size_t rounded, const char* why_not_retried);

  std::string device_name_;
  std::string name_;
  std::unique_ptr<CachingBackend> backend_;
  StreamId default_stream_;
  mutable std::mutex mu_;
  Pool small_;
  Pool large_;
  std::unordered_map<void*, Block*> active_;
  struct PendingFree {
    Block* block;
    std::vector<std::pair<StreamId, void*>> events;  // one per stream that used the block
  };
  std::vector<PendingFree> pending_;
  // Freed blocks used by other streams whose events could not be recorded: reused only after
  // the next synchronize_and_collect() (a device synchronization), never before.
  std::vector<Block*> unsynced_;
  AllocatorStats stats_;
  std::uint64_t open_hold_ = 0;  // the open hold's id; 0: none
  std::uint64_t next_hold_ = 1;
  std::unordered_map<std::uint64_t, std::vector<Block*>> parked_;  // per hold, freed blocks
  std::int64_t held_bytes_ = 0;
};

}  // namespace scopeflow::devices
