// Device, Stream and Event: the small runtime interface every device implements
// (after flashlight's fl/runtime and ggml's backend interface). CPU devices run work
// inline; GPU devices queue it on CUDA streams.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "devices/allocator.h"

namespace scopeflow::devices {

enum class DeviceType { kCPU, kGPU };
// "CPU" / "GPU"
std::string_view device_type_name(DeviceType type);

class Stream {
 public:
  virtual ~Stream() = default;
  // The cudaStream_t as an integer (0 for CPU streams); what allocators key on.
  virtual StreamId id() const = 0;
  // Blocks until all work queued so far has finished.
  virtual void synchronize() = 0;
  // Work queued on this stream after the call waits for the work queued on `other` before it.
  virtual void wait_for(Stream& other) = 0;
};

class Event {
 public:
  virtual ~Event() = default;
  // Captures the work queued on `stream` so far.
  virtual void record(Stream& stream) = 0;
  // True once the captured work has finished (true for an event never recorded).
  virtual bool query() = 0;
  virtual void synchronize() = 0;
  // Makes `stream` wait for the captured work.
  virtual void wait_on(Stream& stream) = 0;
  // Milliseconds between two recorded events (GPU events only; throws otherwise).
  virtual float elapsed_ms_since(Event& start) = 0;
};

class Device {
 public:
  Device(DeviceType type, int index);
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  virtual ~Device() = default;

  DeviceType type() const { return type_; }
  int index() const { return index_; }
  // "/device:GPU:0": the canonical local name used in placement and logs.
  const std::string& name() const { return name_; }
  // "/job:localhost/replica:0/task:0/device:GPU:0" (TF's full name).
  std::string full_name() const;
  // A one-line description (model, memory budget, physical GPU for logical ones).
  virtual std::string description() const = 0;

  virtual Allocator& allocator() = 0;
  // Pinned host memory for fast transfers to/from this device (the plain host
  // allocator on CPU devices).
  virtual Allocator& host_allocator() = 0;
  virtual Stream& compute_stream() = 0;
  // The stream for host-to-device copies that run beside the compute stream's work instead of
  // queued behind it (input pipelines): GPUs make one on first use and keep it; elsewhere, the
  // compute stream.
  virtual Stream& host_to_device_stream() { return compute_stream(); }
  // The stream for copies into this device from `src_device`, a device of the same card:
  // GPUs make one per source on first use and keep it (SessionOptions::inbound_copy_streams),
  // so that such a copy waits for the source's queued work only, and the source's stream for
  // its own copies only, never for this device's queue; elsewhere, the compute stream.
  virtual Stream& inbound_stream(Device& src_device) {
    (void)src_device;
    return compute_stream();
  }
  virtual std::unique_ptr<Stream> create_stream() = 0;
  virtual std::unique_ptr<Event> create_event() = 0;
  // Waits for the work queued on the compute stream (what steps and the synchronous copies
  // use). NOTE: not for the host-to-device stream nor streams from create_stream(): whoever
  // queues work there waits for it through an Event, so that the end of a Session::run does
  // not wait for an input pipeline's copy of the next batch.
  virtual void synchronize() = 0;
  // The physical GPU behind a (logical) GPU device; -1 for CPU devices.
  virtual int physical_id() const { return -1; }
  // Memory budget in bytes (0: no budget).
  virtual std::int64_t memory_limit() const { return 0; }

  // Copies that involve this device's memory. Each returns when the copy is complete
  // (the host side may be pageable memory: it is staged through pinned buffers).
  virtual void copy_from_host(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) = 0;
  // `src` lives on `src_device` (the same device, another logical GPU on the same card, or a peer).
  virtual void copy_from_device(void* dst, Device& src_device, const void* src,
                                std::size_t bytes) = 0;
  // The same copy queued without waiting for it: on GPUs it runs on this device's compute
  // stream after the source's queued work, and the source's compute stream waits for it (so
  // the source buffer is not reused under the copy). Work queued later on this device sees
  // the data; the host must synchronize before reading it. CPU devices copy inline.
  virtual void copy_from_device_async(void* dst, Device& src_device, const void* src,
                                      std::size_t bytes) {
    copy_from_device(dst, src_device, src, bytes);
  }
  // `bytes` from `src` (memory of `src_device`, a device of this card) to `dst` (this device's)
  // queued on `stream`, one of this card's streams, and nothing else: the caller orders it
  // against the source's and the readers' streams and keeps both buffers alive (what
  // copy_from_device_async does itself). CPU devices copy inline.
  virtual void copy_from_device_on_stream(void* dst, Device& src_device, const void* src,
                                          std::size_t bytes, Stream& stream) {
    (void)stream;
    copy_from_device(dst, src_device, src, bytes);
  }
  // Queues a copy of `bytes` from host memory `src` to `dst` (this device's memory) on `stream`
  // (one of this device's streams, typically host_to_device_stream()) and returns without
  // waiting; CPU devices copy inline. On a GPU the copy is ordered after the work queued on
  // `stream` only, so the caller guarantees: `dst` is free for `stream` (allocated
  // stream-ordered for it: Tensor::empty_on_stream); `src` stays allocated and unchanged until
  // the copy has run (record_stream on a caching host allocator, or wait for an Event recorded
  // on `stream`); readers of `dst` on other streams, or on the host, wait for such an Event.
  // `src` should be pinned (host_allocator()): from pageable memory CUDA copies synchronously.
  // InvalidArgumentError when `stream` is not a stream of this device's card.
  virtual void copy_from_host_async(void* dst, const void* src, std::size_t bytes, Stream& stream) {
    (void)stream;
    copy_from_host(dst, src, bytes);
  }
  // Fills device memory with a byte value (cudaMemset on GPUs).
  virtual void memset(void* dst, int value, std::size_t bytes) = 0;

 private:
  DeviceType type_;
  int index_;
  std::string name_;
};

// The process-wide host device (a CPU device) that owns tensors made by
// Tensor::from_vector and friends.
const std::shared_ptr<Device>& host_device();
// A host-memory device whose tensors come from `device`'s host allocator (page-locked for
// GPUs, so a copy to `device` is one DMA): where input pipelines stage batches. For a CPU
// device (or null), host_device().
std::shared_ptr<Device> pinned_host_device(const std::shared_ptr<Device>& device);

// CUDA-graph capture guard (runtime/session/cuda_graph.h): while a thread holds one, the GPU
// device's synchronous copies, memset, copy_from_device_async (which queue on the compute
// stream, not on the capture's) and synchronizations throw FailedPreconditionError instead of
// running, so work that would read or order against a graph being captured fails the capture
// instead of silently using stale memory. Other threads are unaffected.
class CaptureGuard {
 public:
  CaptureGuard();
  ~CaptureGuard();
  CaptureGuard(const CaptureGuard&) = delete;
  CaptureGuard& operator=(const CaptureGuard&) = delete;
  // True on a thread inside a guard.
  static bool active();
  // Throws FailedPreconditionError naming `what` when active().
  static void check(const char* what);
};

// Process-wide exclusion between CUDA-graph captures and the calls that, made from any thread,
// would break one in progress: cudaDeviceSynchronize, and cudaFree / cudaFreeHost, which
// synchronize implicitly (the GPU and pinned caching allocators synchronize and free only under
// a permit: CachingBackend::begin_release). A capture brackets itself with capture_begins() /
// capture_ends() (cuda_graph_cuda.cc), holding no allocator lock when it begins; a thread about
// to synchronize or free takes a permit with try_begin_release() and returns it with
// end_release(). Captures may overlap one another, releases may overlap one another, a capture
// and a release never do. Pure host logic.
class CaptureExclusion {
 public:
  // Blocks while a release permit is out (a release is short: it frees cached memory).
  static void capture_begins();
  static void capture_ends() noexcept;
  // false, at once, while a capture is in progress; true: a permit is out until end_release().
  static bool try_begin_release();
  static void end_release() noexcept;
  static int captures_in_progress();
};

// Copies `bytes` from `src` on `src_device` to `dst` on `dst_device`, whatever the pair.
// Returns when the copy is complete.
void copy_bytes(Device& dst_device, void* dst, Device& src_device, const void* src,
                std::size_t bytes);
// copy_bytes for the executor's copy nodes: GPU-to-GPU copies are queued
// (Device::copy_from_device_async); copies that involve the host complete before returning.
void copy_bytes_async(Device& dst_device, void* dst, Device& src_device, const void* src,
                      std::size_t bytes);

}  // namespace scopeflow::devices
