// CpuDevice: inline streams and events, host memcpy. See cpu_device.h.
#include "devices/cpu_device.h"

#include <sys/mman.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "devices/base/errors.h"
#include "devices/device_spec.h"

namespace scopeflow::devices {
namespace {

// CPU work runs inline, so a CPU stream is always idle.
class CpuStream final : public Stream {
 public:
  StreamId id() const override { return 0; }
  void synchronize() override {}
  void wait_for(Stream&) override {}
};

class CpuEvent final : public Event {
 public:
  void record(Stream&) override {}
  bool query() override { return true; }
  void synchronize() override {}
  void wait_on(Stream&) override {}
  float elapsed_ms_since(Event&) override {
    throw InvalidArgumentError("Event timing is only available on GPU devices");
  }
};

// Host memory for the caching allocator: page-aligned segments, no streams to wait for.
class HostBackend final : public CachingBackend {
  static constexpr std::size_t kHuge = 2 << 20;

 public:
  void* raw_alloc(std::size_t bytes) override {
    if (bytes < kHuge) return std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    // Large segments on 2 MiB boundaries, asking for transparent huge pages (with THP in
    // "madvise" mode, the kernel's default on many distributions, nothing else gets them):
    // a tensor of tens of MB streamed by a conv2d reorder then misses the TLB every 2 MiB
    // instead of every 4 KiB.
    const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, rounded);
#ifdef MADV_HUGEPAGE
    if (p != nullptr) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    return p;
  }
  void raw_free(void* p) noexcept override { std::free(p); }
  void* record_event(StreamId) override { return nullptr; }
  bool query_event(void*) override { return true; }
  void destroy_event(void*) noexcept override {}
  void synchronize() override {}
};

}  // namespace

std::string_view device_type_name(DeviceType type) {
  return type == DeviceType::kCPU ? "CPU" : "GPU";
}

Device::Device(DeviceType type, int index)
    : type_(type), index_(index), name_(str_cat("/device:", device_type_name(type), ":", index)) {}

std::string Device::full_name() const { return "/job:localhost/replica:0/task:0" + name_; }

CpuDevice::CpuDevice(int index, std::int64_t memory_limit)
    : Device(DeviceType::kCPU, index),
      memory_limit_(memory_limit),
      allocator_(str_cat("/device:CPU:", index), std::make_unique<HostBackend>(), memory_limit, 0,
                 "cpu_caching"),
      stream_(std::make_unique<CpuStream>()) {}

std::string CpuDevice::description() const {
  return str_cat(name(), ": host memory, ", std::thread::hardware_concurrency(),
                 " hardware threads",
                 memory_limit_ > 0 ? str_cat(", budget ", memory_limit_, " bytes") : std::string(),
                 other_ ? str_cat(", allocated from ", other_->name()) : std::string());
}

void CpuDevice::allocate_from(std::shared_ptr<Allocator> allocator) {
  if (!allocator || allocator.get() == &allocator_)
    throw InvalidArgumentError(str_cat(name(), ": allocate_from needs another allocator"));
  if (memory_limit_ > 0)
    throw InvalidArgumentError(str_cat(name(), " has a memory budget (", memory_limit_,
                                       " bytes), which ", allocator->name(), " would not enforce"));
  if (other_)
    throw FailedPreconditionError(
        str_cat(name(), " already allocates from ", other_->name(), ": allocate_from is once"));
  if (allocator_.stats().bytes_in_use > 0)
    throw FailedPreconditionError(
        str_cat(name(), ": allocate_from after tensors were allocated here"));
  other_ = std::move(allocator);
}

Stream& CpuDevice::compute_stream() { return *stream_; }
std::unique_ptr<Stream> CpuDevice::create_stream() { return std::make_unique<CpuStream>(); }
std::unique_ptr<Event> CpuDevice::create_event() { return std::make_unique<CpuEvent>(); }

void CpuDevice::copy_from_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuDevice::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuDevice::copy_from_device(void* dst, Device& src_device, const void* src,
                                 std::size_t bytes) {
  if (src_device.type() == DeviceType::kCPU) {
    if (bytes) std::memcpy(dst, src, bytes);
  } else {
    src_device.copy_to_host(dst, src, bytes);
  }
}
void CpuDevice::memset(void* dst, int value, std::size_t bytes) {
  if (bytes) std::memset(dst, value, bytes);
}

namespace {
// Host memory from another device's host allocator (pinned for GPUs).
class PinnedHostDevice final : public Device {
 public:
  explicit PinnedHostDevice(std::shared_ptr<Device> owner)
      : Device(DeviceType::kCPU, 0),
        owner_(std::move(owner)),
        stream_(std::make_unique<CpuStream>()) {}
  std::string description() const override {
    return str_cat("host memory from ", owner_->name(), "'s ", owner_->host_allocator().name());
  }
  Allocator& allocator() override { return owner_->host_allocator(); }
  Allocator& host_allocator() override { return owner_->host_allocator(); }
  Stream& compute_stream() override { return *stream_; }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<CpuStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<CpuEvent>(); }
  void synchronize() override {}
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_from_device(void* dst, Device& src_device, const void* src,
                        std::size_t bytes) override {
    if (src_device.type() == DeviceType::kCPU) {
      if (bytes) std::memcpy(dst, src, bytes);
    } else {
      src_device.copy_to_host(dst, src, bytes);
    }
  }
  void memset(void* dst, int value, std::size_t bytes) override {
    if (bytes) std::memset(dst, value, bytes);
  }

 private:
  std::shared_ptr<Device> owner_;
  std::unique_ptr<Stream> stream_;
};
}  // namespace

std::shared_ptr<Device> pinned_host_device(const std::shared_ptr<Device>& device) {
  if (!device || device->type() == DeviceType::kCPU) return host_device();
  return std::make_shared<PinnedHostDevice>(device);
}

const std::shared_ptr<Device>& host_device() {
  static const std::shared_ptr<Device> host = std::make_shared<CpuDevice>(0);
  return host;
}

namespace {
thread_local int capture_guards = 0;
}  // namespace

CaptureGuard::CaptureGuard() { ++capture_guards; }
CaptureGuard::~CaptureGuard() { --capture_guards; }
bool CaptureGuard::active() { return capture_guards > 0; }
void CaptureGuard::check(const char* what) {
  if (capture_guards > 0)
    throw FailedPreconditionError(
        str_cat(what,
                " while a CUDA graph is being captured (it would wait for the GPU or use a stream "
                "outside the capture)"));
}

namespace {
std::mutex exclusion_mu;
std::condition_variable exclusion_cv;
int exclusion_captures = 0;
int exclusion_releases = 0;
}  // namespace

void CaptureExclusion::capture_begins() {
  std::unique_lock<std::mutex> lock(exclusion_mu);
  exclusion_cv.wait(lock, [] { return exclusion_releases == 0; });
  ++exclusion_captures;
}

void CaptureExclusion::capture_ends() noexcept {
  {
    std::lock_guard<std::mutex> lock(exclusion_mu);
    if (exclusion_captures > 0) --exclusion_captures;
  }
  exclusion_cv.notify_all();
}

bool CaptureExclusion::try_begin_release() {
  std::lock_guard<std::mutex> lock(exclusion_mu);
  if (exclusion_captures > 0) return false;
  ++exclusion_releases;
  return true;
}

void CaptureExclusion::end_release() noexcept {
  {
    std::lock_guard<std::mutex> lock(exclusion_mu);
    if (exclusion_releases > 0) --exclusion_releases;
  }
  exclusion_cv.notify_all();
}

int CaptureExclusion::captures_in_progress() {
  std::lock_guard<std::mutex> lock(exclusion_mu);
  return exclusion_captures;
}

void copy_bytes(Device& dst_device, void* dst, Device& src_device, const void* src,
                std::size_t bytes) {
  if (bytes == 0) return;
  if (dst == nullptr || src == nullptr)
    throw InvalidArgumentError(str_cat("copy_bytes: null pointer copying ", bytes, " bytes from ",
                                       src_device.name(), " to ", dst_device.name()));
  if (dst_device.type() == DeviceType::kCPU) {
    dst_device.copy_from_device(dst, src_device, src, bytes);
  } else if (src_device.type() == DeviceType::kCPU) {
    dst_device.copy_from_host(dst, src, bytes);
  } else {
    dst_device.copy_from_device(dst, src_device, src, bytes);
  }
}

void copy_bytes_async(Device& dst_device, void* dst, Device& src_device, const void* src,
                      std::size_t bytes) {
  if (bytes != 0 && dst != nullptr && src != nullptr && dst_device.type() == DeviceType::kGPU &&
      src_device.type() == DeviceType::kGPU) {
    dst_device.copy_from_device_async(dst, src_device, src, bytes);
    return;
  }
  copy_bytes(dst_device, dst, src_device, src, bytes);
}

}  // namespace scopeflow::devices
