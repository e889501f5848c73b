// GpuDevice, CudaStream, CudaEvent, PinnedHostAllocator and the CUDA platform hooks
// (GPU discovery, library versions). See cuda_device.h and devices/gpu_platform.h.
#include "devices/cuda/cuda_device.h"

#include <cublas_api.h>
#include <curand.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "devices/base/config.h"
#include "devices/base/logging.h"
#include "devices/cuda/cuda_check.h"
#include "devices/gpu_platform.h"

#if SF_HAVE_CUDNN
#include <cudnn.h>
#endif
#if SF_HAVE_NCCL
#include <nccl.h>
#endif

namespace scopeflow::cuda {
namespace {

// A backend whose synchronize() and raw_free() would break a CUDA-graph capture running on any
// thread of the process: the caching allocator calls them only under a CaptureExclusion permit
// (CachingBackend::begin_release; the lock order is argued in caching_allocator.cc).
class CaptureExclusiveBackend : public devices::CachingBackend {
 public:
  bool begin_release() override { return devices::CaptureExclusion::try_begin_release(); }
  void end_release() noexcept override { devices::CaptureExclusion::end_release(); }
};

// True when the work before `event` (a cudaEvent_t) has finished; errors other than "not
// ready" throw.
bool event_done(void* event) {
  cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (err == cudaErrorNotReady) return false;
  SF_CUDA_CHECK(err);
  return true;
}

// The caching allocator's view of one physical GPU. NOTE: cudaDeviceSynchronize and cudaFree
// synchronize the whole card, so one logical GPU's allocator would break a capture on another
// logical GPU of the card (or any capture in the process): both run only under the permit.
class CudaBackend final : public CaptureExclusiveBackend {
 public:
  explicit CudaBackend(int device) : device_(device) {}
  void* raw_alloc(std::size_t bytes) override {
    DeviceGuard guard(device_);
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    SF_CUDA_CHECK(err);
    return p;
  }
  void raw_free(void* p) noexcept override {
    // The segment's card made current (without throwing: noexcept), as raw_alloc does: the
    // caller may be any thread, whose current device can be another card.
    int prev = -1;
    const bool switched = cudaGetDevice(&prev) == cudaSuccess && prev != device_ &&
                          cudaSetDevice(device_) == cudaSuccess;
    if (cudaFree(p) != cudaSuccess) SF_LOG_WARN("cudaFree failed on GPU ", device_);
    if (switched) (void)cudaSetDevice(prev);
  }
  // Events for cross-stream frees come from a free list: the allocator destroys one once it
  // has completed and nothing refers to it, so it can be recorded again (no cudaEventCreate /
  // cudaEventDestroy pair per block used by another stream).
  void* record_event(devices::StreamId stream) override {
    cudaEvent_t ev = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_events_.empty()) {
        ev = free_events_.back();
        free_events_.pop_back();
      }
    }
    DeviceGuard guard(device_);
    if (ev == nullptr) SF_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    if (cudaError_t err = cudaEventRecord(ev, reinterpret_cast<cudaStream_t>(stream));
        err != cudaSuccess) {
      (void)cudaEventDestroy(ev);
      SF_CUDA_CHECK(err);
    }
    return ev;
  }
  bool query_event(void* event) override { return event_done(event); }
  void destroy_event(void* event) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_events_.size() < kMaxFreeEvents) {
        free_events_.push_back(static_cast<cudaEvent_t>(event));
        return;
      }
    }
    (void)cudaEventDestroy(static_cast<cudaEvent_t>(event));
  }
  void synchronize() override {
    DeviceGuard guard(device_);
    SF_CUDA_CHECK(cudaDeviceSynchronize());
  }
  ~CudaBackend() override {
    for (cudaEvent_t ev : free_events_) (void)cudaEventDestroy(ev);
  }

 private:
  static constexpr std::size_t kMaxFreeEvents = 1024;
  int device_;
  std::mutex mu_;
  std::vector<cudaEvent_t> free_events_;
};

// The pinned host cache's view of page-locked memory (HostCachingAllocator). Events are
// made on the device of the stream they are recorded on (a block may be used by streams of
// any GPU); synchronize() waits for those events only, never for a whole device, so the
// cache's waits neither stall unrelated work nor break a CUDA-graph capture on another thread.
// cudaFreeHost synchronizes implicitly, so it (and, by the allocator's rule, synchronize())
// runs only under a CaptureExclusion permit.
class PinnedBackend final : public CaptureExclusiveBackend {
 public:
  explicit PinnedBackend(int device) : device_(device) {}
  void* raw_alloc(std::size_t bytes) override {
    DeviceGuard guard(device_);
    void* p = nullptr;
    cudaError_t err = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    SF_CUDA_CHECK(err);
    return p;
  }
  void raw_free(void* p) noexcept override {
    if (cudaFreeHost(p) != cudaSuccess) {
      (void)cudaGetLastError();
      SF_LOG_WARN("cudaFreeHost failed (pinned memory of GPU ", device_, ")");
    }
  }
  void* record_event(devices::StreamId stream) override {
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    try {
      int dev = device_;
      SF_CUDA_CHECK(cudaStreamGetDevice(s, &dev));
      DeviceGuard guard(dev);
      cudaEvent_t ev = nullptr;
      SF_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
      if (cudaError_t err = cudaEventRecord(ev, s); err != cudaSuccess) {
        (void)cudaEventDestroy(ev);
        SF_CUDA_CHECK(err);
      }
      std::lock_guard<std::mutex> lock(mu_);
      events_.insert(ev);
      return ev;
    } catch (...) {
      // The allocator then waits for synchronize() before reusing the block: that must wait
      // for this stream too, which no event stands for.
      std::lock_guard<std::mutex> lock(mu_);
      unrecorded_.insert(s);
      throw;
    }
  }
  bool query_event(void* event) override { return event_done(event); }
  void destroy_event(void* event) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.erase(static_cast<cudaEvent_t>(event));
    }
    (void)cudaEventDestroy(static_cast<cudaEvent_t>(event));
  }
  // Every copy that may still read a block: the recorded events, and the streams an event
  // failed to be recorded on (session 11's review: the block came back while such a stream
  // was still copying from it). A stream that cannot be synchronized throws, and the
  // allocator keeps its blocks out of the cache.
  void synchronize() override {
    std::vector<cudaEvent_t> pending;
    std::vector<cudaStream_t> streams;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending.assign(events_.begin(), events_.end());
      streams.assign(unrecorded_.begin(), unrecorded_.end());
    }
    for (cudaEvent_t ev : pending) SF_CUDA_CHECK(cudaEventSynchronize(ev));
    for (cudaStream_t s : streams) {
      SF_CUDA_CHECK(cudaStreamSynchronize(s));
      std::lock_guard<std::mutex> lock(mu_);
      unrecorded_.erase(s);
    }
  }

 private:
  int device_;
  std::mutex mu_;
  std::set<cudaEvent_t> events_;       // recorded and not yet destroyed
  std::set<cudaStream_t> unrecorded_;  // an event failed to be recorded on them
};

}  // namespace

// ---------------------------------------------------------------- streams and events
CudaStream::CudaStream(int device) : device_(device) {
  DeviceGuard guard(device);
  SF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

CudaStream::~CudaStream() {
  if (stream_ != nullptr && cudaStreamDestroy(stream_) != cudaSuccess)
    SF_LOG_WARN("cudaStreamDestroy failed on GPU ", device_);
}

void CudaStream::synchronize() {
  devices::CaptureGuard::check("CudaStream::synchronize");
  SF_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

namespace {
// The calling thread's event for stream-to-stream waits on `device`'s streams, created once:
// cudaStreamWaitEvent waits for the event's record at the time of the call, so the event may
// be recorded again at once (also under a capture, where each record/wait pair becomes a graph
// edge). Saves a cudaEventCreate and a cudaEventDestroy per wait (a copy between devices makes
// two waits).
cudaEvent_t thread_wait_event(int device) {
  struct Events {
    std::vector<cudaEvent_t> by_device;
    ~Events() {
      for (cudaEvent_t e : by_device)
        if (e != nullptr) (void)cudaEventDestroy(e);
    }
  };
  thread_local Events events;
  if (device < 0) throw InvalidArgumentError(str_cat("no CUDA device ", device));
  auto& v = events.by_device;
  if (v.size() <= static_cast<std::size_t>(device)) v.resize(static_cast<std::size_t>(device) + 1);
  cudaEvent_t& e = v[static_cast<std::size_t>(device)];
  if (e == nullptr) {
    DeviceGuard guard(device);
    SF_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  return e;
}
}  // namespace

void CudaStream::wait_for(devices::Stream& other) {
  auto* o = dynamic_cast<CudaStream*>(&other);
  if (o == nullptr || o == this) return;  // CPU streams have nothing pending
  cudaEvent_t ev = thread_wait_event(o->device());
  SF_CUDA_CHECK(cudaEventRecord(ev, o->get()));
  SF_CUDA_CHECK(cudaStreamWaitEvent(stream_, ev, 0));
}

CudaEvent::CudaEvent(int device, bool timing) : device_(device) {
  DeviceGuard guard(device);
  SF_CUDA_CHECK(
      cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() {
  if (event_ != nullptr) (void)cudaEventDestroy(event_);
}

void CudaEvent::record(devices::Stream& stream) {
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (s == nullptr) throw InvalidArgumentError("CudaEvent::record: not a CUDA stream");
  SF_CUDA_CHECK(cudaEventRecord(event_, s->get()));
  recorded_ = true;
}

bool CudaEvent::query() {
  if (!recorded_) return true;
  cudaError_t err = cudaEventQuery(event_);
  if (err == cudaErrorNotReady) return false;
  SF_CUDA_CHECK(err);
  return true;
}

void CudaEvent::synchronize() {
  devices::CaptureGuard::check("CudaEvent::synchronize");
  if (recorded_) SF_CUDA_CHECK(cudaEventSynchronize(event_));
}

void CudaEvent::wait_on(devices::Stream& stream) {
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (s == nullptr) {  // a CPU stream "waits" by blocking the host
    synchronize();
    return;
  }
  if (recorded_) SF_CUDA_CHECK(cudaStreamWaitEvent(s->get(), event_, 0));
}

float CudaEvent::elapsed_ms_since(devices::Event& start) {
  auto* s = dynamic_cast<CudaEvent*>(&start);
  if (s == nullptr) throw InvalidArgumentError("elapsed_ms_since: start is not a CUDA event");
  float ms = 0;
  SF_CUDA_CHECK(cudaEventElapsedTime(&ms, s->event_, event_));
  return ms;
}

// ---------------------------------------------------------------- the device
GpuDevice::GpuDevice(int index, int physical_id, std::int64_t memory_limit, int logical_rank,
                     int logical_count)
    : Device(devices::DeviceType::kGPU, index),
      physical_id_(physical_id),
      memory_limit_(memory_limit),
      logical_rank_(logical_rank),
      logical_count_(logical_count),
      pinned_("cuda_pinned_host", str_cat("pinned host memory of /device:GPU:", index),
              std::make_unique<PinnedBackend>(physical_id)) {
  DeviceGuard guard(physical_id);
  cudaDeviceProp prop{};
  SF_CUDA_CHECK(cudaGetDeviceProperties(&prop, physical_id));
  card_name_ = prop.name;
  compute_ = std::make_unique<CudaStream>(physical_id);
  allocator_ = std::make_unique<devices::CachingAllocator>(
      name(), std::make_unique<CudaBackend>(physical_id), memory_limit, compute_->id());
}

GpuDevice::~GpuDevice() {
  try {
    synchronize();
    if (h2d_) h2d_->synchronize();
    for (auto& [src, stream] : inbound_) stream->synchronize();
  } catch (const std::exception& e) {
    SF_LOG_WARN(name(), ": synchronize at shutdown: ", e.what());
  }
  // NOTE: cudaFreeHost synchronizes implicitly, which would break a CUDA graph being captured
  // on another thread (another session's): freed under a CaptureExclusion permit, else leaked.
  const bool may_free = devices::CaptureExclusion::try_begin_release();
  if (!may_free && (staging_[0] != nullptr || staging_[1] != nullptr))
    SF_LOG_WARN(name(), ": destroyed while a CUDA graph is being captured; its pinned staging ",
                "buffers are leaked");
  for (int i = 0; i < 2; ++i) {
    if (staging_[i] && may_free) (void)cudaFreeHost(staging_[i]);
    if (staging_done_[i]) (void)cudaEventDestroy(staging_done_[i]);
  }
  if (may_free) devices::CaptureExclusion::end_release();
}

std::string GpuDevice::description() const {
  std::string budget = memory_limit_ > 0 ? str_cat(memory_limit_ / (1 << 20), " MiB budget")
                                         : std::string("no memory budget");
  std::string split = logical_count_ > 1
                          ? str_cat(", logical ", logical_rank_ + 1, " of ", logical_count_)
                          : std::string();
  return str_cat(name(), ": ", card_name_, " (physical GPU ", physical_id_, split, "), ", budget);
}

std::unique_ptr<devices::Stream> GpuDevice::create_stream() {
  return std::make_unique<CudaStream>(physical_id_);
}

devices::Stream& GpuDevice::host_to_device_stream() {
  // NOTE: call_once (not a plain null check): the pipeline's producer thread and the
  // executor's threads may ask at the same time; a constructor that throws leaves it unset.
  std::call_once(h2d_once_, [this] { h2d_ = std::make_unique<CudaStream>(physical_id_); });
  return *h2d_;
}

devices::Stream& GpuDevice::inbound_stream(devices::Device& src_device) {
  if (src_device.type() != devices::DeviceType::kGPU || src_device.physical_id() != physical_id_ ||
      &src_device == this)
    return *compute_;
  std::lock_guard<std::mutex> lock(inbound_mu_);
  auto& s = inbound_[&src_device];
  if (!s) s = std::make_unique<CudaStream>(physical_id_);
  return *s;
}

std::unique_ptr<devices::Event> GpuDevice::create_event() {
  return std::make_unique<CudaEvent>(physical_id_);
}

void GpuDevice::synchronize() {
  devices::CaptureGuard::check("GpuDevice::synchronize");
  compute_->synchronize();
}

bool GpuDevice::is_pinned(const void* p) const {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

void GpuDevice::ensure_staging() {
  // NOTE: complete only when the last piece exists, and each piece made only when missing: a
  // failed cudaHostAlloc / cudaEventCreate used to leave staging_[0] set and staging_[1] (or
  // an event) null, which the next copy then used.
  if (staging_done_[1] != nullptr) return;
  DeviceGuard guard(physical_id_);
  for (int i = 0; i < 2; ++i) {
    if (staging_[i] == nullptr) {
      void* p = nullptr;
      SF_CUDA_CHECK(cudaHostAlloc(&p, kStagingBytes, cudaHostAllocPortable));
      staging_[i] = p;
    }
    if (staging_done_[i] == nullptr) {
      cudaEvent_t e = nullptr;
      SF_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      staging_done_[i] = e;
    }
  }
}

// Pageable host memory goes through two pinned buffers: the host copy into one overlaps
// the DMA out of the other. NOTE: on the compute stream, behind the work queued there, even
// from pinned memory: `dst` is usually a block of the compute stream's bin, which queued
// kernels may still use (stream-ordered reuse). Copies that must not wait for the step go
// through copy_from_host_async on the host-to-device stream into a block of that stream.
void GpuDevice::copy_from_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  devices::CaptureGuard::check("a host-to-GPU copy");
  DeviceGuard guard(physical_id_);
  cudaStream_t s = compute_->get();
  if (bytes <= (64 << 10) || is_pinned(src)) {
    SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
    SF_CUDA_CHECK(cudaStreamSynchronize(s));
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mu_);
  ensure_staging();
  int buf = 0;
  for (std::size_t off = 0; off < bytes; off += kStagingBytes, buf ^= 1) {
    const std::size_t n = std::min(kStagingBytes, bytes - off);
    SF_CUDA_CHECK(cudaEventSynchronize(staging_done_[buf]));  // buffer's previous DMA done
    std::memcpy(staging_[buf], static_cast<const char*>(src) + off, n);
    SF_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + off, staging_[buf], n,
                                  cudaMemcpyHostToDevice, s));
    SF_CUDA_CHECK(cudaEventRecord(staging_done_[buf], s));
  }
  SF_CUDA_CHECK(cudaStreamSynchronize(s));
}

void GpuDevice::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  devices::CaptureGuard::check("a GPU-to-host copy");
  DeviceGuard guard(physical_id_);
  cudaStream_t s = compute_->get();
  if (bytes <= (64 << 10) || is_pinned(dst)) {
    SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
    SF_CUDA_CHECK(cudaStreamSynchronize(s));
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mu_);
  ensure_staging();
  // Queue chunk k's DMA, then drain chunk k-1 from its buffer while chunk k is in flight.
  std::size_t prev_off = 0, prev_n = 0;
  int buf = 0;
  for (std::size_t off = 0; off < bytes; off += kStagingBytes, buf ^= 1) {
    const std::size_t n = std::min(kStagingBytes, bytes - off);
    SF_CUDA_CHECK(cudaMemcpyAsync(staging_[buf], static_cast<const char*>(src) + off, n,
                                  cudaMemcpyDeviceToHost, s));
    SF_CUDA_CHECK(cudaEventRecord(staging_done_[buf], s));
    if (prev_n) {
      SF_CUDA_CHECK(cudaEventSynchronize(staging_done_[buf ^ 1]));
      std::memcpy(static_cast<char*>(dst) + prev_off, staging_[buf ^ 1], prev_n);
    }
    prev_off = off;
    prev_n = n;
  }
  SF_CUDA_CHECK(cudaEventSynchronize(staging_done_[buf ^ 1]));
  std::memcpy(static_cast<char*>(dst) + prev_off, staging_[buf ^ 1], prev_n);
}

void GpuDevice::copy_from_device(void* dst, devices::Device& src_device, const void* src,
                                 std::size_t bytes) {
  if (bytes == 0) return;
  copy_from_device_async(dst, src_device, src, bytes);
  DeviceGuard guard(physical_id_);
  SF_CUDA_CHECK(cudaStreamSynchronize(compute_->get()));
}

void GpuDevice::copy_from_device_async(void* dst, devices::Device& src_device, const void* src,
                                       std::size_t bytes) {
  if (bytes == 0) return;
  devices::CaptureGuard::check("a copy on the compute stream");
  if (src_device.type() == devices::DeviceType::kCPU) {
    copy_from_host(dst, src, bytes);
    return;
  }
  DeviceGuard guard(physical_id_);
  cudaStream_t s = compute_->get();
  compute_->wait_for(src_device.compute_stream());
  if (src_device.physical_id() == physical_id_) {
    SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
  } else {
    SF_CUDA_CHECK(cudaMemcpyPeerAsync(dst, physical_id_, src, src_device.physical_id(), bytes, s));
  }
  // The source buffer may be freed (back to its stream's cache) once the copy is queued:
  // later work on the source stream waits for the copy.
  src_device.compute_stream().wait_for(*compute_);
}

void GpuDevice::copy_from_device_on_stream(void* dst, devices::Device& src_device, const void* src,
                                           std::size_t bytes, devices::Stream& stream) {
  if (bytes == 0) return;
  devices::CaptureGuard::check("a copy between devices of a card");
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (s == nullptr || s->device() != physical_id_ || src_device.physical_id() != physical_id_)
    throw InvalidArgumentError(str_cat(name(), ": copy_from_device_on_stream needs a source and a ",
                                       "CUDA stream of GPU ", physical_id_, ", got ",
                                       src_device.name()));
  DeviceGuard guard(physical_id_);
  SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s->get()));
}

void GpuDevice::copy_from_host_async(void* dst, const void* src, std::size_t bytes,
                                     devices::Stream& stream) {
  if (bytes == 0) return;
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (s == nullptr || s->device() != physical_id_)
    throw InvalidArgumentError(
        str_cat(name(), ": copy_from_host_async needs a CUDA stream of GPU ", physical_id_));
  DeviceGuard guard(physical_id_);
  SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s->get()));
}

void GpuDevice::memset(void* dst, int value, std::size_t bytes) {
  if (bytes == 0) return;
  devices::CaptureGuard::check("GpuDevice::memset");
  DeviceGuard guard(physical_id_);
  SF_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, compute_->get()));
  SF_CUDA_CHECK(cudaStreamSynchronize(compute_->get()));
}

}  // namespace scopeflow::cuda

// ---------------------------------------------------------------- platform hooks
namespace scopeflow::devices::platform {

GpuInventory probe_gpus() noexcept {
  GpuInventory inv;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (err == cudaErrorNoDevice)
      inv.unavailable_reason = "no CUDA device visible";
    else if (err == cudaErrorInsufficientDriver)
      inv.unavailable_reason =
          "no CUDA driver, or one older than the CUDA runtime (cudaErrorInsufficientDriver)";
    else
      inv.unavailable_reason =
          str_cat("CUDA unavailable: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    return inv;
  }
  if (count == 0) {
    inv.unavailable_reason = "no CUDA device visible";
    return inv;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    PhysicalGpu g;
    g.id = i;
    g.name = prop.name;
    g.total_memory = static_cast<std::int64_t>(prop.totalGlobalMem);
    g.cc_major = prop.major;
    g.cc_minor = prop.minor;
    g.multiprocessors = prop.multiProcessorCount;
    char bus[32] = {0};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), i) == cudaSuccess) g.pci_bus_id = bus;
    std::size_t free_b = 0, total_b = 0;
    int prev = 0;
    if (cudaGetDevice(&prev) == cudaSuccess && cudaSetDevice(i) == cudaSuccess &&
        cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
      g.free_memory = static_cast<std::int64_t>(free_b);
    else
      (void)cudaGetLastError();
    (void)cudaSetDevice(prev);
    inv.gpus.push_back(std::move(g));
  }
  if (inv.gpus.empty()) inv.unavailable_reason = "no CUDA device could be queried";
  return inv;
}

std::string library_versions() {
  int runtime = 0, driver = 0;
  (void)cudaRuntimeGetVersion(&runtime);
  (void)cudaDriverGetVersion(&driver);
  (void)cudaGetLastError();
  int blas_major = 0, blas_minor = 0, rand_ver = 0;
  (void)cublasGetProperty(MAJOR_VERSION, &blas_major);
  (void)cublasGetProperty(MINOR_VERSION, &blas_minor);
  (void)curandGetVersion(&rand_ver);
  std::string out =
      str_cat("CUDA runtime ", runtime / 1000, ".", (runtime % 1000) / 10, ", driver ",
              driver ? str_cat(driver / 1000, ".", (driver % 1000) / 10) : std::string("none"),
              ", cuBLAS ", blas_major, ".", blas_minor, ", cuRAND ", rand_ver);
#if SF_HAVE_CUDNN
  const std::size_t cudnn = cudnnGetVersion();
  out += str_cat(", cuDNN ", cudnn / 10000, ".", (cudnn % 10000) / 100, ".", cudnn % 100);
#else
  out += ", cuDNN not found";
#endif
#if SF_HAVE_NCCL
  int nccl = 0;
  if (ncclGetVersion(&nccl) == ncclSuccess)
    out += str_cat(", NCCL ", nccl / 10000, ".", (nccl % 10000) / 100, ".", nccl % 100);
#else
  out += ", NCCL not found";
#endif
  return out;
}

std::shared_ptr<Device> create_gpu_device(int index, int physical_id, std::int64_t memory_limit,
                                          int logical_rank, int logical_count) {
  return std::make_shared<cuda::GpuDevice>(index, physical_id, memory_limit, logical_rank,
                                           logical_count);
}

std::shared_ptr<Allocator> create_pinned_host_allocator(int physical_id, std::string name) {
  return std::make_shared<HostCachingAllocator>("cuda_pinned_host", std::move(name),
                                                std::make_unique<cuda::PinnedBackend>(physical_id));
}

}  // namespace scopeflow::devices::platform
