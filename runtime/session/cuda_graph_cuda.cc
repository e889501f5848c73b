// CapturedStep on CUDA: stream capture across the plan's GPU streams, instantiation, launch,
// and the pinned/device counter words of captured random kernels. See cuda_graph.h.
#include <cuda_runtime_api.h>

#include <algorithm>

#include "devices/base/logging.h"
#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "runtime/session/cuda_graph.h"

namespace scopeflow::cuda_graph {
namespace {

cudaStream_t raw(devices::Stream& s) {
  auto* cs = dynamic_cast<cuda::CudaStream*>(&s);
  if (cs == nullptr) throw InternalError("CUDA graph: a capture stream is not a CUDA stream");
  return cs->get();
}

}  // namespace

bool built_with_cuda_graphs() { return true; }

struct CapturedStep::Impl {
  std::vector<std::pair<devices::Device*, devices::Stream*>> devices;
  std::vector<cudaStream_t> streams;  // per device, same order; streams[0] owns the capture
  int card = 0;
  std::vector<std::uint64_t> holds;  // per device: its allocator's hold (0: none)
  std::size_t num_counters = 0;
  std::uint64_t* host_words = nullptr;    // pinned
  std::uint64_t* device_words = nullptr;  // cudaMalloc, outside the allocators
  mutable std::mutex mu;                  // counters, events
  std::vector<std::pair<const Node*, std::uint64_t>> counters;
  std::vector<cudaEvent_t> events;  // fork/join events of the capture, destroyed at the end
  bool capturing = false;
  bool excluding = false;  // inside CaptureExclusion::capture_begins() .. capture_ends()
  cudaGraphExec_t exec = nullptr;

  void leave_exclusion() noexcept {
    if (excluding) {
      excluding = false;
      devices::CaptureExclusion::capture_ends();
    }
  }

  // An event recorded on `from` that `to` waits for (inside the capture: a graph edge).
  void order(cudaStream_t from, cudaStream_t to) {
    cudaEvent_t ev = nullptr;
    SF_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(ev);
    }
    SF_CUDA_CHECK(cudaEventRecord(ev, from));
    SF_CUDA_CHECK(cudaStreamWaitEvent(to, ev, 0));
  }
  void destroy_events() noexcept {
    std::lock_guard<std::mutex> lock(mu);
    for (cudaEvent_t ev : events) (void)cudaEventDestroy(ev);
    events.clear();
  }
  void close_holds() noexcept {
    for (std::size_t i = 0; i < devices.size(); ++i)
      if (holds[i] != 0) {
        try {
          devices[i].first->allocator().close_hold(holds[i]);
        } catch (const std::exception& e) {
          SF_LOG_WARN("CUDA graph: close_hold: ", e.what());
        }
      }
  }
};

CapturedStep::CapturedStep(std::vector<std::pair<devices::Device*, devices::Stream*>> devices,
                           std::size_t num_counters)
    : impl_(std::make_unique<Impl>()) {
  if (devices.empty()) throw InternalError("CUDA graph: a capture needs a GPU");
  impl_->devices = std::move(devices);
  impl_->card = impl_->devices[0].first->physical_id();
  for (auto& [d, s] : impl_->devices) {
    if (d->type() != devices::DeviceType::kGPU || d->physical_id() != impl_->card)
      throw InternalError(
          str_cat("CUDA graph: ", d->name(), " is not a GPU of card ", impl_->card));
    impl_->streams.push_back(raw(*s));
  }
  impl_->holds.assign(impl_->devices.size(), 0);
  impl_->num_counters = num_counters;
  if (num_counters > 0) {
    cuda::DeviceGuard guard(impl_->card);
    const std::size_t bytes = num_counters * sizeof(std::uint64_t);
    SF_CUDA_CHECK(
        cudaHostAlloc(reinterpret_cast<void**>(&impl_->host_words), bytes, cudaHostAllocPortable));
    std::fill(impl_->host_words, impl_->host_words + num_counters, std::uint64_t{0});
    cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&impl_->device_words), bytes);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      (void)cudaFreeHost(impl_->host_words);
      impl_->host_words = nullptr;
      SF_CUDA_CHECK(err);
    }
  }
}

CapturedStep::~CapturedStep() {
  if (impl_->capturing) abort();
  {
    cuda::DeviceGuard guard(impl_->card);
    // Nothing of ours may run while the held blocks go back: wait for the last launch.
    if (cudaStreamSynchronize(impl_->streams[0]) != cudaSuccess) {
      (void)cudaGetLastError();
      SF_LOG_WARN("CUDA graph: synchronize before release failed");
    }
    if (impl_->exec != nullptr) (void)cudaGraphExecDestroy(impl_->exec);
    // NOTE: cudaFree and cudaFreeHost synchronize implicitly, which would break a capture in
    // progress on another thread (another plan or session): freed under a CaptureExclusion
    // permit, else leaked (a few words per random node).
    const bool may_free = devices::CaptureExclusion::try_begin_release();
    if (!may_free && (impl_->device_words != nullptr || impl_->host_words != nullptr))
      SF_LOG_WARN("CUDA graph: dropped while another graph is being captured; its ",
                  impl_->num_counters, " counter words are leaked");
    if (may_free) {
      if (impl_->device_words != nullptr) (void)cudaFree(impl_->device_words);
      if (impl_->host_words != nullptr) (void)cudaFreeHost(impl_->host_words);
      devices::CaptureExclusion::end_release();
    }
  }
  impl_->destroy_events();
  for (std::size_t i = 0; i < impl_->devices.size(); ++i)
    if (impl_->holds[i] != 0) {
      try {
        impl_->devices[i].first->allocator().release_hold(impl_->holds[i]);
      } catch (const std::exception& e) {
        SF_LOG_WARN("CUDA graph: release_hold: ", e.what());
      }
    }
}

void CapturedStep::begin() {
  cuda::DeviceGuard guard(impl_->card);
  // No thread frees pinned host memory (cudaFreeHost synchronizes implicitly, which would
  // break the capture) from here until the capture ends; waits for a free in progress.
  devices::CaptureExclusion::capture_begins();
  impl_->excluding = true;
  try {
    // The allocators' holds: from here on nothing allocated or freed is reused.
    for (std::size_t i = 0; i < impl_->devices.size(); ++i) {
      bool shared = false;  // two entries never share an allocator, but be safe
      for (std::size_t j = 0; j < i; ++j)
        shared = shared ||
                 &impl_->devices[j].first->allocator() == &impl_->devices[i].first->allocator();
      if (!shared) impl_->holds[i] = impl_->devices[i].first->allocator().open_hold();
    }
  } catch (...) {
    impl_->leave_exclusion();
    throw;
  }
  try {
    SF_CUDA_CHECK(cudaStreamBeginCapture(impl_->streams[0], cudaStreamCaptureModeRelaxed));
    impl_->capturing = true;
    for (std::size_t i = 1; i < impl_->streams.size(); ++i)
      impl_->order(impl_->streams[0], impl_->streams[i]);  // joins stream i to the capture
  } catch (...) {
    abort();
    throw;
  }
}

devices::Stream& CapturedStep::stream(const devices::Device& device) {
  for (auto& [d, s] : impl_->devices)
    if (d == &device) return *s;
  throw InternalError(str_cat("CUDA graph: ", device.name(), " is not part of the capture"));
}

void CapturedStep::copy(devices::Device& dst_device, void* dst, devices::Device& src_device,
                        const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  const cudaStream_t d = raw(stream(dst_device));
  const cudaStream_t s = raw(stream(src_device));
  cuda::DeviceGuard guard(impl_->card);
  if (d != s) impl_->order(s, d);  // the copy after the source's producers
  SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, d));
  if (d != s) impl_->order(d, s);  // the source's later work after the copy
}

const std::uint64_t* CapturedStep::bind_counter(const Node* key, std::uint64_t value,
                                                devices::Stream& stream) {
  std::size_t i = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& [k, adv] : impl_->counters)
      if (k == key) throw InternalError("CUDA graph: a random node was bound twice");
    if (impl_->counters.size() >= impl_->num_counters)
      throw InternalError(
          str_cat("CUDA graph: more random nodes than the ", impl_->num_counters, " counted"));
    i = impl_->counters.size();
    impl_->counters.emplace_back(key, 0);
  }
  impl_->host_words[i] = value;
  cuda::DeviceGuard guard(impl_->card);
  // Captured: each launch copies the host word (written by set_counter) to the device word.
  SF_CUDA_CHECK(cudaMemcpyAsync(impl_->device_words + i, impl_->host_words + i,
                                sizeof(std::uint64_t), cudaMemcpyHostToDevice, raw(stream)));
  return impl_->device_words + i;
}

void CapturedStep::note_advance(const Node* key, std::uint64_t advance) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto& [k, adv] : impl_->counters)
    if (k == key) {
      adv = advance;
      return;
    }
  throw InternalError("CUDA graph: note_advance for a random node never bound");
}

std::vector<std::pair<const Node*, std::uint64_t>> CapturedStep::counters() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counters;
}

void CapturedStep::end() {
  cuda::DeviceGuard guard(impl_->card);
  cudaGraph_t graph = nullptr;
  try {
    for (std::size_t i = 1; i < impl_->streams.size(); ++i)
      impl_->order(impl_->streams[i], impl_->streams[0]);  // rejoins stream i
  } catch (...) {
    abort();
    throw;
  }
  impl_->capturing = false;
  cudaError_t err = cudaStreamEndCapture(impl_->streams[0], &graph);
  impl_->leave_exclusion();
  impl_->close_holds();
  impl_->destroy_events();
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (graph != nullptr) (void)cudaGraphDestroy(graph);
    throw InternalError(
        str_cat("cudaStreamEndCapture: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err)));
  }
  err = cudaGraphInstantiate(&impl_->exec, graph, 0);
  (void)cudaGraphDestroy(graph);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    impl_->exec = nullptr;
    throw InternalError(
        str_cat("cudaGraphInstantiate: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err)));
  }
}

void CapturedStep::abort() noexcept {
  if (impl_->capturing) {
    impl_->capturing = false;
    cuda::DeviceGuard guard(impl_->card);
    // Rejoin what can be rejoined, end the capture and drop whatever it recorded.
    for (std::size_t i = 1; i < impl_->streams.size(); ++i) {
      cudaEvent_t ev = nullptr;
      if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess) {
        (void)cudaEventRecord(ev, impl_->streams[i]);
        (void)cudaStreamWaitEvent(impl_->streams[0], ev, 0);
        (void)cudaEventDestroy(ev);
      }
    }
    cudaGraph_t graph = nullptr;
    (void)cudaStreamEndCapture(impl_->streams[0], &graph);
    if (graph != nullptr) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    for (cudaStream_t s : impl_->streams) {
      cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
      if (cudaStreamIsCapturing(s, &status) != cudaSuccess) (void)cudaGetLastError();
      if (status != cudaStreamCaptureStatusNone)
        SF_LOG_ERROR("CUDA graph: a stream is still capturing after an aborted capture");
    }
  }
  impl_->leave_exclusion();
  impl_->close_holds();
  impl_->destroy_events();
}

void CapturedStep::set_counter(std::size_t i, std::uint64_t value) {
  if (i >= impl_->num_counters)
    throw InternalError(str_cat("CUDA graph: counter ", i, " of ", impl_->num_counters));
  impl_->host_words[i] = value;
}

void CapturedStep::launch() {
  if (impl_->exec == nullptr) throw InternalError("CUDA graph: launch before a successful end()");
  cuda::DeviceGuard guard(impl_->card);
  // After what the devices' compute streams hold (feeds copied there, earlier runs' work).
  for (auto& [d, s] : impl_->devices) s->wait_for(d->compute_stream());
  const cudaStream_t s0 = impl_->streams[0];
  for (std::size_t i = 1; i < impl_->devices.size(); ++i)
    impl_->devices[0].second->wait_for(*impl_->devices[i].second);
  SF_CUDA_CHECK(cudaGraphLaunch(impl_->exec, s0));
  SF_CUDA_CHECK(cudaStreamSynchronize(s0));
}

}  // namespace scopeflow::cuda_graph
