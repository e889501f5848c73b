// HostCachingAllocator: a cache of host memory that GPU streams copy from or into (pinned
// memory in practice: cudaHostAlloc is slow and cudaFreeHost synchronizes the device, so a
// batch a step must neither allocate nor free it; PyTorch's CachingHostAllocator). It is the
// CachingAllocator's logic (segments, bins, split and coalesce, events) with host ownership;
// the CUDA backend is in devices/cuda/cuda_device.cc, a fake one in the tests.
#pragma once

#include <memory>
#include <string>

#include "devices/caching_allocator.h"

namespace scopeflow::devices {

// Every block belongs to the host: allocate(bytes, stream) ignores `stream`. NOTE: not stream
// ordered, unlike device memory: the new owner of a host block writes it with the CPU at once,
// not in the order of some stream, so a block that a stream may still read or write must not
// be handed out at all. Each use by a GPU stream is therefore declared with record_stream(p,
// stream) before the block is deallocated; deallocate() then records an event on each such
// stream and the block returns to the cache when all of them have completed (queried on the
// next allocate(); nothing waits). Stream 0 (a CPU stream, whose work is done when queued) is
// ignored. Streams recorded must not be capturing a CUDA graph.
//
// stats(): bytes_in_use counts blocks handed out (rounded to 512 bytes); a deallocated block
// waiting for its streams is neither in use nor cached; bytes_reserved and num_raw_allocs count
// the backend's memory (cudaHostAlloc), so a steady input pipeline shows num_raw_allocs flat.
// Out of memory: ResourceExhaustedError "OOM when allocating N bytes (rounded to R) on
// <device_name> (<name>): ...", after, when the backend allows it (begin_release), waiting for
// pending blocks, freeing the free cached segments and retrying once.
class HostCachingAllocator final : public Allocator {
 public:
  // `device_name` appears in errors ("pinned host memory of /device:GPU:0"); `name` is name().
  HostCachingAllocator(std::string name, std::string device_name,
                       std::unique_ptr<CachingBackend> backend);

  std::string name() const override { return cache_.name(); }
  void* allocate(std::size_t bytes) override { return cache_.allocate(bytes); }
  void* allocate(std::size_t bytes, StreamId stream) override;
  void deallocate(void* p) noexcept override { cache_.deallocate(p); }
  // InvalidArgumentError for a pointer this allocator did not hand out.
  void record_stream(void* p, StreamId stream) override { cache_.record_stream(p, stream); }
  AllocatorStats stats() const override { return cache_.stats(); }
  void reset_peak_stats() override { cache_.reset_peak_stats(); }
  // Waits for the blocks still used by streams (backend synchronize(): the pinned backend waits
  // on those blocks' events only), then gives every free segment back (cudaFreeHost), both
  // under the backend's permit: the pinned backend refuses it while a CUDA graph is being
  // captured on any thread (CaptureExclusion), and then nothing is waited for and the cache
  // stays. So it is allowed anywhere, and frees only between captures: call it when the input
  // pipeline is done (end of training), not per step.
  void empty_cache() override { cache_.empty_cache(); }
  // No holds (Allocator's defaults). A captured graph may address these blocks (a GPU kernel's
  // deferred-check words, kernels/common/gpu_args.h): their owner (the session's GraphEntry)
  // keeps them until the graph is destroyed, and every replay is synchronized before the host
  // reads or resets them. The destructor (device teardown) frees everything, or leaks it
  // (logged) during a capture.

 private:
  CachingAllocator cache_;
};

}  // namespace scopeflow::devices
