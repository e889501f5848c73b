// ScopeFlow's fused all-reduce kernel (logical GPUs sharing a card, or staged through one card
// when NCCL is missing) and the lone NcclAllReduce GPU kernel. See collective.h; host
// reference: collective_cpu.cc (all_reduce_host_buffers).
#include <cuda_runtime_api.h>

#include <algorithm>

#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "kernels/collective/collective.h"
#include "kernels/common/cuda_types.cuh"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

// The participants' pointers, passed by value as a kernel parameter (1 KiB for 64 of them,
// well under the 4 KiB parameter limit).
template <class D>
struct FusedPointers {
  const D* in[kMaxFusedParticipants];
  D* out[kMaxFusedParticipants];
};

// ---------------------------------------------------------------- kernels
// Each thread reduces element i over the k inputs (in participant order, in compute_t<D>) and
// stores the rounded result to the k_out outputs (1 <= k_out <= k: participants sharing a
// card share one output); a grid-stride loop with int64 indices, so any n fits a 1-D grid of
// at most grid_size()'s cap.
template <AllReduceOp Op, class D>
__global__ void all_reduce_fused_kernel(FusedPointers<D> p, int k, int k_out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    compute_t<D> acc = load_compute(p.in[0][i]);
    for (int j = 1; j < k; ++j) acc = reduce_combine<Op>(acc, load_compute(p.in[j][i]));
    const D v = store_compute<D>(acc);
    for (int j = 0; j < k_out; ++j) p.out[j][i] = v;
  }
}

template <AllReduceOp Op>
__device__ __forceinline__ float4 combine4(float4 a, float4 b) {
  return make_float4(reduce_combine<Op>(a.x, b.x), reduce_combine<Op>(a.y, b.y),
                     reduce_combine<Op>(a.z, b.z), reduce_combine<Op>(a.w, b.w));
}

// float32 with every pointer 16-byte aligned: each thread handles four elements per float4
// (one 16-byte load per input, one store per output) over n4 = n / 4 vectors; block 0 then
// does the n % 4 tail elements scalar. Same order of operations as the scalar kernel.
template <AllReduceOp Op>
__global__ void all_reduce_fused_vec4_kernel(FusedPointers<float> p, int k, int k_out,
                                             std::int64_t n) {
  const std::int64_t n4 = n / 4;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n4;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    float4 acc = reinterpret_cast<const float4*>(p.in[0])[i];
    for (int j = 1; j < k; ++j)
      acc = combine4<Op>(acc, reinterpret_cast<const float4*>(p.in[j])[i]);
    for (int j = 0; j < k_out; ++j) reinterpret_cast<float4*>(p.out[j])[i] = acc;
  }
  const std::int64_t tail = n - 4 * n4;
  if (blockIdx.x == 0 && threadIdx.x < tail) {
    const std::int64_t i = 4 * n4 + threadIdx.x;
    float acc = p.in[0][i];
    for (int j = 1; j < k; ++j) acc = reduce_combine<Op>(acc, p.in[j][i]);
    for (int j = 0; j < k_out; ++j) p.out[j][i] = acc;
  }
}

// ---------------------------------------------------------------- launchers
constexpr int kBlock = 256;

bool aligned16(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; }

template <AllReduceOp Op, class T>
void launch_typed(const std::vector<const void*>& in, const std::vector<void*>& out, std::int64_t n,
                  cudaStream_t s) {
  using D = cuda_type_t<T>;
  const int k = static_cast<int>(in.size());
  const int k_out = static_cast<int>(out.size());
  FusedPointers<D> p{};
  for (int j = 0; j < k; ++j) p.in[j] = static_cast<const D*>(in[static_cast<std::size_t>(j)]);
  for (int j = 0; j < k_out; ++j) p.out[j] = static_cast<D*>(out[static_cast<std::size_t>(j)]);
  if constexpr (std::is_same_v<T, float>) {
    bool vec = true;
    for (int j = 0; j < k; ++j) vec = vec && aligned16(p.in[j]);
    for (int j = 0; j < k_out; ++j) vec = vec && aligned16(p.out[j]);
    if (vec) {
      // At least one block, so block 0 exists for the tail when n < 4.
      all_reduce_fused_vec4_kernel<Op><<<grid_size(n / 4, kBlock), kBlock, 0, s>>>(p, k, k_out, n);
      SF_CUDA_CHECK(cudaGetLastError());
      return;
    }
  }
  all_reduce_fused_kernel<Op, D><<<grid_size(n, kBlock), kBlock, 0, s>>>(p, k, k_out, n);
  SF_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void launch_op(AllReduceOp op, const std::vector<const void*>& in, const std::vector<void*>& out,
               std::int64_t n, cudaStream_t s) {
  switch (op) {
    case AllReduceOp::kSum: return launch_typed<AllReduceOp::kSum, T>(in, out, n, s);
    case AllReduceOp::kProd: return launch_typed<AllReduceOp::kProd, T>(in, out, n, s);
    case AllReduceOp::kMin: return launch_typed<AllReduceOp::kMin, T>(in, out, n, s);
    case AllReduceOp::kMax: return launch_typed<AllReduceOp::kMax, T>(in, out, n, s);
  }
}

// NcclAllReduce as a plain GPU kernel: a single participant (num_devices 1) reduces alone; the
// executor runs real groups as collective steps.
void lone_all_reduce_cuda_kernel(KernelContext& c) {
  const std::int64_t k = c.attr().get_or<std::int64_t>("num_devices", 1);
  if (k != 1)
    throw FailedPreconditionError(
        str_cat("NcclAllReduce node '", c.node_name, "' has num_devices ", k,
                ": it runs as one collective step with its peers, not as a lone kernel"));
  const Tensor& x = c.inputs.at(0);
  if (!c.device_ptr) throw InvalidArgumentError(str_cat(c.node_name, ": no GPU device"));
  c.outputs.resize(1);
  c.outputs[0] = Tensor(x.dtype(), x.shape(), c.device_ptr);
  if (x.bytes() > 0)
    devices::copy_bytes_async(*c.device_ptr, c.outputs[0].raw_data(), *x.device_ptr(), x.raw_data(),
                              x.bytes());
}

}  // namespace

void all_reduce_fused_cuda(AllReduceOp op, DType dtype, const std::vector<const void*>& in,
                           const std::vector<void*>& out, std::int64_t n, devices::Stream& stream) {
  if (in.empty() || out.empty() || out.size() > in.size() ||
      in.size() > static_cast<std::size_t>(kMaxFusedParticipants))
    throw InvalidArgumentError(str_cat("all_reduce_fused_cuda: need 1..", kMaxFusedParticipants,
                                       " inputs and 1..(as many) outputs, got ", in.size(), " and ",
                                       out.size()));
  if (n <= 0) return;
  const cudaStream_t s = cuda_stream(stream);
  switch (dtype) {
    case DType::kFloat32: return launch_op<float>(op, in, out, n, s);
    case DType::kFloat64: return launch_op<double>(op, in, out, n, s);
    case DType::kFloat16: return launch_op<half>(op, in, out, n, s);
    case DType::kBFloat16: return launch_op<bfloat16_t>(op, in, out, n, s);
    case DType::kInt32: return launch_op<std::int32_t>(op, in, out, n, s);
    case DType::kInt64: return launch_op<std::int64_t>(op, in, out, n, s);
    default:
      throw InvalidArgumentError(str_cat("all-reduce: unsupported dtype ", dtype_name(dtype)));
  }
}

std::vector<Tensor> all_reduce_fused_gpu(const AllReduceRequest& r) {
  const std::size_t k = r.inputs.size();
  if (k == 0 || r.devices.size() != k)
    throw InvalidArgumentError(
        str_cat("all-reduce ", r.name, ": ", k, " inputs for ", r.devices.size(), " devices"));
  if (k > static_cast<std::size_t>(kMaxFusedParticipants))
    throw InvalidArgumentError(str_cat("all-reduce ", r.name, ": ", k,
                                       " participants; ScopeFlow's fused kernel takes at most ",
                                       kMaxFusedParticipants));
  const auto& home = r.devices[0];
  const int card = home->physical_id();
  const Tensor& x0 = r.inputs[0];
  const DType dtype = x0.dtype();
  const std::size_t bytes = x0.bytes();
  for (std::size_t j = 0; j < k; ++j) {
    const auto& d = r.devices[j];
    const Tensor& x = r.inputs[j];
    // A participant's tensor may be held by another logical GPU of its card (the shared
    // result of an earlier all-reduce, passed on by an Identity).
    if (d->type() != devices::DeviceType::kGPU || !x.initialized() || x.on_host() ||
        x.device_ptr()->physical_id() != d->physical_id())
      throw InvalidArgumentError(str_cat("all-reduce ", r.name, ": participant ", j,
                                         " must be a tensor on ", d->name(), "'s GPU, got ",
                                         x.initialized() ? x.device() : std::string("none")));
  }
  cuda::DeviceGuard guard(card);
  devices::Stream& s0 = home->compute_stream();

  // One result on `home`, written once by the kernel: the participants on home's card all
  // get it (the logical GPUs of a card share its memory, as the logical CPU devices share the
  // host's), each other card's participant a copy of it.
  Tensor result(dtype, x0.shape(), home);
  std::vector<Tensor> out(k);
  for (std::size_t j = 0; j < k; ++j)
    out[j] = r.devices[j]->physical_id() == card ? result : Tensor(dtype, x0.shape(), r.devices[j]);
  if (bytes == 0) return out;

  // Inputs: same-card participants' buffers are read in place once s0 has waited for their
  // streams; other cards' are copied to `home` first (on s0, after their stream's work).
  std::vector<const void*> in_ptrs(k);
  std::vector<Tensor> staged;  // kept until the end of this call; the allocator orders reuse
  for (std::size_t j = 0; j < k; ++j) {
    const auto& d = r.devices[j];
    if (d->physical_id() == card) {
      if (j != 0) s0.wait_for(d->compute_stream());
      in_ptrs[j] = r.inputs[j].raw_data();
    } else {
      staged.emplace_back(dtype, x0.shape(), home);
      devices::copy_bytes_async(*home, staged.back().raw_data(), *r.inputs[j].device_ptr(),
                                r.inputs[j].raw_data(), bytes);
      in_ptrs[j] = staged.back().raw_data();
    }
  }
  all_reduce_fused_cuda(r.op, dtype, in_ptrs, {result.raw_data()}, x0.num_elements(), s0);

  // Same-card participants' streams wait for the kernel and read `result` there, so its block
  // is declared used by them (the allocator reuses it only after their work); remote outputs
  // are copied off `home` (copy_bytes_async queues on the destination's stream after s0's
  // work, and makes s0 wait for the copy before `result` can be reused).
  auto done = home->create_event();
  done->record(s0);
  for (std::size_t j = 1; j < k; ++j) {
    const auto& d = r.devices[j];
    if (d->physical_id() == card) {
      done->wait_on(d->compute_stream());
      home->allocator().record_stream(result.raw_data(), d->compute_stream().id());
    } else {
      cuda::DeviceGuard remote_guard(d->physical_id());
      devices::copy_bytes_async(*d, out[j].raw_data(), *home, result.raw_data(), bytes);
    }
  }
  return out;
}

// ---------------------------------------------------------------- registration
void register_collective_cuda_kernels(KernelRegistry& r) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64})
    r.add({"NcclAllReduce", devices::DeviceType::kGPU, t, "cuda"}, lone_all_reduce_cuda_kernel);
}

}  // namespace scopeflow::kernels
