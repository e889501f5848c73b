// GpuDevice: one logical GPU — its own compute stream, a caching allocator with the
// logical device's memory budget, pinned staging buffers for pageable host copies, and
// a caching pinned host allocator (host_caching_allocator.h). Several GpuDevices may share
// one physical card.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>

#include "devices/caching_allocator.h"
#include "devices/device.h"
#include "devices/host_caching_allocator.h"

namespace scopeflow::cuda {

class CudaStream final : public devices::Stream {
 public:
  explicit CudaStream(int device);
  ~CudaStream() override;
  devices::StreamId id() const override { return reinterpret_cast<devices::StreamId>(stream_); }
  void synchronize() override;
  void wait_for(devices::Stream& other) override;
  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
};

class CudaEvent final : public devices::Event {
 public:
  explicit CudaEvent(int device, bool timing = true);
  ~CudaEvent() override;
  void record(devices::Stream& stream) override;
  bool query() override;
  void synchronize() override;
  void wait_on(devices::Stream& stream) override;
  float elapsed_ms_since(devices::Event& start) override;
  cudaEvent_t get() const { return event_; }

 private:
  int device_;
  cudaEvent_t event_ = nullptr;
  bool recorded_ = false;
};

class GpuDevice final : public devices::Device {
 public:
  static constexpr std::size_t kStagingBytes = 8 << 20;  // per staging buffer (two of them)

  GpuDevice(int index, int physical_id, std::int64_t memory_limit, int logical_rank,
            int logical_count);
  ~GpuDevice() override;

  std::string description() const override;
  devices::Allocator& allocator() override { return *allocator_; }
  devices::Allocator& host_allocator() override { return pinned_; }
  devices::Stream& compute_stream() override { return *compute_; }
  // A second non-blocking stream, made on first use: copies on it overlap the compute stream's
  // kernels (the card's copy engine), and nothing the executor does waits for it.
  devices::Stream& host_to_device_stream() override;
  // One stream per source device of the same card (Device::inbound_stream); another card's or
  // a CPU's source gets the compute stream.
  devices::Stream& inbound_stream(devices::Device& src_device) override;
  std::unique_ptr<devices::Stream> create_stream() override;
  std::unique_ptr<devices::Event> create_event() override;
  void synchronize() override;
  int physical_id() const override { return physical_id_; }
  std::int64_t memory_limit() const override { return memory_limit_; }

  void copy_from_host(void* dst, const void* src, std::size_t bytes) override;
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override;
  void copy_from_device(void* dst, devices::Device& src_device, const void* src,
                        std::size_t bytes) override;
  void copy_from_device_async(void* dst, devices::Device& src_device, const void* src,
                              std::size_t bytes) override;
  void copy_from_device_on_stream(void* dst, devices::Device& src_device, const void* src,
                                  std::size_t bytes, devices::Stream& stream) override;
  // cudaMemcpyAsync on `stream`, nothing else: no wait, no staging (see Device).
  void copy_from_host_async(void* dst, const void* src, std::size_t bytes,
                            devices::Stream& stream) override;
  void memset(void* dst, int value, std::size_t bytes) override;

  cudaStream_t stream() const { return compute_->get(); }

 private:
  bool is_pinned(const void* p) const;
  void ensure_staging();

  int physical_id_;
  std::int64_t memory_limit_;
  int logical_rank_;
  int logical_count_;
  std::string card_name_;
  std::unique_ptr<CudaStream> compute_;
  std::once_flag h2d_once_;
  std::unique_ptr<CudaStream> h2d_;  // host_to_device_stream()
  std::mutex inbound_mu_;
  std::map<const devices::Device*, std::unique_ptr<CudaStream>> inbound_;  // inbound_stream()
  // NOTE: the allocators are declared after the streams, so destroyed before them: their
  // destructors wait on events recorded on these streams.
  std::unique_ptr<devices::CachingAllocator> allocator_;
  // Pinned host memory (cudaHostAlloc), cached: see host_caching_allocator.h.
  devices::HostCachingAllocator pinned_;
  std::mutex staging_mu_;
  std::array<void*, 2> staging_{nullptr, nullptr};
  std::array<cudaEvent_t, 2> staging_done_{nullptr, nullptr};
};

}  // namespace scopeflow::cuda
