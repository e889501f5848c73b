// Kernel registration: a kernel is registered against (op, device type, dtype, label),
// TF's KernelDef key plus a label naming the implementation ("ref", "cuda", "cudnn").
// Light on purpose: nvcc-compiled files include it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "devices/base/dtype.h"
#include "devices/device.h"
#include "devices/tensor.h"
#include "kernels/attr.h"

namespace scopeflow::kernels {

// A check that a GPU kernel makes on the device and the session reports once the step's device
// work is complete: a kernel cannot raise without waiting for its stream (TF's GPU gather writes
// zeros for an out-of-range index instead, silently). `at` points to two int64 of pinned host
// memory that a copy queued after the kernel fills (GpuCheck, kernels/common/gpu_args.h): at[0]
// the first failing element (kNoFailure, all bits set: none failed), at[1] its value (an index,
// a label). `message(element, value)` says what failed; it holds no tensors (a held input would
// be a variable's buffer held past the step).
struct DeferredCheck {
  static constexpr std::int64_t kNoFailure = -1;
  Tensor words;  // owns at[0..1]
  std::int64_t* at = nullptr;
  std::function<std::string(std::int64_t, std::int64_t)> message;
  void reset() const { at[0] = kNoFailure; }  // NOTE: only while no copy can write it
};
// Throws InvalidArgumentError with the message of the first check (in `checks` order) that
// failed. Call it after the kernels' stream work is complete.
void raise_failed_checks(const std::vector<DeferredCheck>& checks);

// What a kernel sees for one execution of one node.
struct KernelContext {
  devices::Device* device = nullptr;
  std::shared_ptr<devices::Device> device_ptr;  // for kernels that allocate their outputs
  devices::Stream* stream = nullptr;            // the device's stream for this step
  const AttrMap* attrs = nullptr;
  std::string node_name;  // for error messages
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;  // kernels allocate them unless the caller preallocated
  // Random ops: the Philox counter where this execution starts (advanced by the session so
  // that repeated runs of one node draw fresh numbers, as TF's stateful random ops do).
  std::uint64_t rng_offset = 0;
  std::uint64_t rng_seed = 0;  // set by the session: the node's 64-bit key
  // CUDA-graph capture (runtime/session/cuda_graph.h): when set, GPU random kernels read their
  // starting counter from this device address at execution time (the session writes it before
  // each replay), not from rng_offset, which a captured launch would freeze.
  const std::uint64_t* rng_offset_device = nullptr;
  // True while the work is being captured into a CUDA graph: kernels must not wait for the
  // stream or read device memory on the host (checks that need it are skipped; see each kernel).
  bool capturing = false;
  const AttrMap& attr() const {
    static const AttrMap empty;
    return attrs ? *attrs : empty;
  }
  // Allocates output i with the given dtype and shape on this device. NOTE: it may grow
  // `outputs`, which invalidates references to earlier outputs: size `outputs` first when a
  // kernel holds several.
  Tensor& allocate_output(std::size_t i, DType dtype, const Shape& shape) {
    if (outputs.size() <= i) outputs.resize(i + 1);
    outputs[i] = Tensor(dtype, shape, device_ptr ? device_ptr : devices::host_device());
    return outputs[i];
  }
  devices::Stream& get_stream() const { return stream ? *stream : device->compute_stream(); }
  // The checks this execution deferred (DeferredCheck); the session raises them after the step.
  // A caller outside a Session synchronizes the stream, then calls raise_failed_checks, and
  // drops the context only after that synchronization (the copies write the checks' words).
  std::vector<DeferredCheck> deferred_checks;
  // A new deferred check (its pinned host words say kNoFailure until a copy writes them). The
  // reference is valid until the next defer_check.
  DeferredCheck& defer_check(std::function<std::string(std::int64_t, std::int64_t)> message);
};

using KernelFn = std::function<void(KernelContext&)>;

struct KernelKey {
  std::string op;
  devices::DeviceType device = devices::DeviceType::kCPU;
  DType dtype = DType::kFloat32;
  std::string label;
  friend bool operator==(const KernelKey&, const KernelKey&) = default;
};

std::string to_string(const KernelKey& key);

class KernelRegistry {
 public:
  // Throws InternalError when the same key is registered twice.
  void add(const KernelKey& key, KernelFn fn);
  // The kernel for (op, device, dtype) with `label`, or the first label in the device's
  // preference order when `label` is empty. Throws NotFoundError naming what was asked
  // for and the registered kernels of that op.
  const KernelFn& find(const std::string& op, devices::DeviceType device, DType dtype,
                       const std::string& label = "") const;
  bool contains(const std::string& op, devices::DeviceType device, DType dtype,
                const std::string& label = "") const;
  // Labels registered for (op, device, dtype), in preference order.
  std::vector<std::string> labels(const std::string& op, devices::DeviceType device,
                                  DType dtype) const;
  const std::vector<std::pair<KernelKey, KernelFn>>& entries() const { return entries_; }
  // Labels tried first, per device type (GPU: cudnn, cublas, cuda; CPU: onednn, ref).
  void set_label_preference(devices::DeviceType device, std::vector<std::string> order);
  // Per-op override for one op on one device: its labels rank by `order` first, then by the
  // device's order (labels in neither come last). Other ops keep the device's order.
  void set_label_preference(devices::DeviceType device, const std::string& op,
                            std::vector<std::string> order);

 private:
  const std::pair<KernelKey, KernelFn>* lookup(const std::string& op, devices::DeviceType device,
                                               DType dtype, const std::string& label) const;
  std::vector<std::pair<KernelKey, KernelFn>> entries_;
  std::vector<std::string> cpu_order_{"onednn", "openblas", "cpu", "ref"};
  std::vector<std::string> gpu_order_{"cudnn", "cublas", "cuda"};
  struct OpOrder {
    devices::DeviceType device;
    std::string op;
    std::vector<std::string> order;
  };
  std::vector<OpOrder> op_orders_;
};

// The process-wide registry with every kernel of this build registered (explicit lists
// in register_kernels.cc and register_kernels_cuda.cc; no static self-registration).
const KernelRegistry& kernel_registry();

void register_cpu_kernels(KernelRegistry& r);
// Registers nothing in CPU-only builds.
void register_cuda_kernels(KernelRegistry& r);
// The OpenBLAS-backed CPU kernels (label "openblas"); nothing when OpenBLAS is absent.
void register_openblas_kernels(KernelRegistry& r);
// True when this build has the OpenBLAS kernels.
bool built_with_openblas();
// The oneDNN-backed CPU kernels (label "onednn"); nothing when oneDNN is absent or SF_ONEDNN=OFF.
void register_onednn_kernels(KernelRegistry& r);
// True when this build has the oneDNN kernels.
bool built_with_onednn();

}  // namespace scopeflow::kernels
