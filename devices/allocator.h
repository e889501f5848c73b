// Allocator interface and statistics shared by the CPU allocator and the GPU caching
// allocator. Out of memory raises ResourceExhaustedError naming the device, the bytes
// asked for and what is in use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace scopeflow::devices {

// A stream as the allocator sees it: an opaque id (a cudaStream_t's value; 0 on the CPU).
using StreamId = std::uintptr_t;

struct AllocatorStats {
  std::int64_t bytes_in_use = 0;  // bytes handed out and not yet returned
  std::int64_t peak_bytes_in_use = 0;
  std::int64_t bytes_reserved = 0;  // bytes obtained from the system (cudaMalloc, malloc)
  std::int64_t peak_bytes_reserved = 0;
  std::int64_t bytes_limit = 0;  // the device's memory budget; 0: no limit
  std::int64_t num_allocs = 0;   // allocate() calls that succeeded
  std::int64_t num_frees = 0;
  std::int64_t num_raw_allocs = 0;  // calls to the system allocator (cudaMalloc count)
  std::int64_t num_raw_frees = 0;
  std::int64_t num_ooms = 0;
  std::int64_t largest_alloc_size = 0;
  std::int64_t num_cached_blocks = 0;  // free blocks held for reuse (caching allocators)
  std::string to_string() const;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Which allocator: "cpu", "cpu_caching" (CPU devices), "gpu_caching" (GPU devices),
  // "cuda_pinned_host" (pinned host memory); shown in descriptions and out-of-memory messages.
  virtual std::string name() const = 0;
  // Returns memory aligned to at least 256 bytes (64 on the CPU); a zero-byte request
  // returns a unique non-null pointer. Throws ResourceExhaustedError.
  virtual void* allocate(std::size_t bytes) = 0;
  // Stream-ordered allocation: the memory may be reused by work on `stream` right away
  // and by other streams once what was recorded on them has finished.
  virtual void* allocate(std::size_t bytes, StreamId stream) {
    (void)stream;
    return allocate(bytes);
  }
  // Returns memory from allocate(). Never throws; nullptr is ignored.
  virtual void deallocate(void* p) noexcept = 0;
  // Marks `p` as in use by `stream` too: its memory is not reused until the work queued
  // on `stream` before deallocate() has finished.
  virtual void record_stream(void* p, StreamId stream) {
    (void)p;
    (void)stream;
  }
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak_stats() = 0;
  // Returns cached memory to the system (no-op for non-caching allocators).
  virtual void empty_cache() {}

  // Holds, for CUDA-graph capture (runtime/session/cuda_graph.h): a captured graph keeps the
  // addresses it was captured with, so every block allocated while a hold is open, and every
  // block freed while it is open, is not reused until release_hold(): deallocate() of such a
  // block parks it instead of caching it. open_hold() returns the hold's id (0: this
  // allocator has no holds; nothing is parked); close_hold() stops marking new blocks;
  // release_hold() frees the parked blocks and forgets the rest. The caller guarantees that no
  // queued work uses a parked block when it releases it. One hold is open at a time.
  virtual std::uint64_t open_hold() { return 0; }
  virtual void close_hold(std::uint64_t id) { (void)id; }
  virtual void release_hold(std::uint64_t id) { (void)id; }
};

}  // namespace scopeflow::devices
