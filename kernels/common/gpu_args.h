// Argument helpers for the GPU kernel adapters (CUDA builds only): inputs checked to live on
// a GPU, outputs allocated on the kernel's GPU (or a matching preallocated one reused), scratch
// buffers safe for the kernel's stream, and the CUDA device made current for the launch.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <string>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/cuda_stream.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

// Input i, which must be an initialized tensor in GPU memory. Throws InvalidArgumentError
// naming the node otherwise (a host pointer in a kernel would fault the whole context).
inline const Tensor& gpu_input(const KernelContext& c, std::size_t i) {
  if (i >= c.inputs.size())
    throw InvalidArgumentError(
        str_cat(c.node_name, ": expects at least ", i + 1, " inputs, got ", c.inputs.size()));
  const Tensor& t = c.inputs[i];
  if (!t.initialized() || t.on_host())
    throw InvalidArgumentError(str_cat(c.node_name, ": input ", i, " must live on a GPU, got ",
                                       t.initialized() ? t.device() : std::string("no tensor")));
  return t;
}

// Output i with `dtype` and `shape` on the kernel's GPU. A preallocated output of that dtype
// and shape in GPU memory is written in place (tests poison it to catch unwritten elements);
// otherwise a new one comes from the device's caching allocator. Throws InvalidArgumentError
// when the context names no GPU device to allocate on.
inline Tensor& gpu_output(KernelContext& c, std::size_t i, DType dtype, const Shape& shape) {
  if (i < c.outputs.size()) {
    Tensor& t = c.outputs[i];
    if (t.initialized() && !t.on_host() && t.dtype() == dtype && t.shape() == shape) return t;
  }
  if (!c.device_ptr || c.device_ptr->type() != devices::DeviceType::kGPU)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": a GPU kernel needs KernelContext::device_ptr set to its GPU"));
  return c.allocate_output(i, dtype, shape);
}

// A temporary buffer on the kernel's GPU. NOTE: it may be freed (returned to the cache) as
// soon as the adapter returns, while kernels using it are still queued; the allocator keeps
// it from other streams until the kernel's stream has passed this point.
inline Tensor gpu_scratch(KernelContext& c, DType dtype, const Shape& shape) {
  if (!c.device_ptr || c.device_ptr->type() != devices::DeviceType::kGPU)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": a GPU kernel needs KernelContext::device_ptr set to its GPU"));
  Tensor t(dtype, shape, c.device_ptr);
  devices::Stream& s = c.get_stream();
  if (t.raw_data() != nullptr && s.id() != c.device_ptr->compute_stream().id())
    c.device_ptr->allocator().record_stream(t.raw_data(), s.id());
  return t;
}

// Launchers of gpu_check.cu. words[0] is a GpuCheck's failing element (all bits: none).
// check_value: words[1] = values[words[0]] when one failed (values: int32 or int64).
// range_check: words[0] lowered by atomicMin to the first e with values[e] outside [lo, hi).
void launch_check_value(unsigned long long* words, const void* values, bool int64, cudaStream_t s);
void launch_range_check(unsigned long long* words, const void* values, bool int64, std::int64_t n,
                        std::int64_t lo, std::int64_t hi, cudaStream_t s);

// A DeferredCheck (kernel.h) for a GPU kernel: two device words, set to "none failed" (all bits)
// on the kernel's stream; the kernel lowers words[0] by atomicMin to the first failing element;
// finish(values) has a one-thread kernel read that element's value (an index, a label) into
// words[1] and copies both to the check's pinned host words on the same stream, which the
// session reads after the step. (Kernels never write host memory themselves: device atomics
// over PCIe depend on the platform.) Construct it after GpuLaunchScope, launch the kernel with
// word(), call finish() after the launch. Memsets, kernels and the copy are stream work, so CUDA
// graphs capture and replay them.
class GpuCheck {
 public:
  GpuCheck(KernelContext& c, std::function<std::string(std::int64_t, std::int64_t)> message)
      : host_(c.defer_check(std::move(message)).at),
        words_(gpu_scratch(c, DType::kInt64, Shape{2})),
        stream_(cuda_stream(c.get_stream(), c.node_name)) {
    SF_CUDA_CHECK(cudaMemsetAsync(words_.raw_data(), 0xFF, 2 * sizeof(std::int64_t), stream_));
  }
  unsigned long long* word() { return static_cast<unsigned long long*>(words_.raw_data()); }
  // `values`: the int32/int64 tensor the failing element indexes (device memory).
  void finish(const Tensor& values) {
    launch_check_value(word(), values.raw_data(), values.dtype() == DType::kInt64, stream_);
    copy_back();
  }

 private:
  void copy_back() {
    // NOTE: no record_stream on the pinned words: every holder frees them only after the
    // stream's work is complete (the session after its synchronization, a graph entry after
    // ~CapturedStep's; a caller outside a Session synchronizes before dropping the context, as
    // raise_failed_checks needs anyway). In session 7's second H200 run, with record_stream, the
    // xent kernel's host time per call with four towers was 100-230 us (39 us before it had a
    // check); the likely part is the CUDA event each freed block then costs (created, recorded,
    // queried and destroyed under the pinned allocator's lock). Not yet re-measured without.
    SF_CUDA_CHECK(cudaMemcpyAsync(host_, words_.raw_data(), 2 * sizeof(std::int64_t),
                                  cudaMemcpyDeviceToHost, stream_));
  }
  std::int64_t* host_;  // the DeferredCheck's pinned words (it owns them)
  Tensor words_;
  cudaStream_t stream_;
};

// Makes the kernel's physical GPU current for the scope (launches and cuBLAS calls go to
// the current device; logical GPUs share their card's ordinal).
class GpuLaunchScope {
 public:
  explicit GpuLaunchScope(const KernelContext& c)
      : guard_(c.device != nullptr && c.device->physical_id() >= 0 ? c.device->physical_id()
                                                                   : current_device()) {}
  static int current_device() {
    int d = 0;
    SF_CUDA_CHECK(cudaGetDevice(&d));
    return d;
  }

 private:
  cuda::DeviceGuard guard_;
};

}  // namespace scopeflow::kernels
