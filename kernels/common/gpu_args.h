// Argument helpers for the GPU kernel adapters (CUDA builds only): inputs checked to live on
// a GPU, outputs allocated on the kernel's GPU (or a matching preallocated one reused), scratch
// buffers safe for the kernel's stream, and the CUDA device made current for the launch.
#pragma once

#include <string>

#include "devices/cuda/cuda_check.h"
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
