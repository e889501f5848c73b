// NcclAllReduce's reductions (sum, prod, min, max) over K participants' tensors, one per
// device, the result on every device. Implementations: the host reduction (collective_cpu.cc),
// ScopeFlow's fused CUDA kernel (collective_cuda.cu) and NCCL (collective_nccl.cc); the
// executor's collective step (runtime/session/collective.cc) picks one per participant set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devices/base/host_device.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

enum class AllReduceOp { kSum, kProd, kMin, kMax };

// "sum" | "prod" | "min" | "max"; InvalidArgumentError naming `node` otherwise.
AllReduceOp all_reduce_op_from_name(const std::string& name, const std::string& node);
const char* all_reduce_op_name(AllReduceOp op);
// The element types the all-reduce implementations support: float32, float64, float16,
// bfloat16, int32, int64.
bool all_reduce_supports(DType dtype);

// The per-element step, shared by the host loop and the CUDA kernel. NOTE: min and max
// propagate NaN (as TF's Eigen PropagateNaN does), whichever participant holds it.
template <AllReduceOp Op, class C>
SF_HOST_DEVICE inline C reduce_combine(C a, C b) {
  if constexpr (Op == AllReduceOp::kSum) {
    return a + b;
  } else if constexpr (Op == AllReduceOp::kProd) {
    return a * b;
  } else if constexpr (Op == AllReduceOp::kMin) {
    return a != a ? a : (b != b ? b : (b < a ? b : a));
  } else {
    return a != a ? a : (b != b ? b : (a < b ? b : a));
  }
}

// One all-reduce: `inputs[j]` lives on `devices[j]`; all have one dtype and shape.
// NOTE: every implementation reduces in participant order, ((x0 op x1) op x2) ..., float16 and
// bfloat16 in float with one rounding at the end, so the host reduction and the fused kernel
// agree bit for bit and every participant gets the same bits.
struct AllReduceRequest {
  std::string name;  // for messages: the participating nodes
  AllReduceOp op = AllReduceOp::kSum;
  std::vector<std::shared_ptr<devices::Device>> devices;
  std::vector<Tensor> inputs;
};

// Host reduction for CPU devices: one result in host memory, returned once per participant (the
// logical CPU devices share memory; the executor hands buffers between them the same way).
std::vector<Tensor> all_reduce_host(const AllReduceRequest& r);

// The fused-kernel reduction on raw host pointers (the reference the GPU tests compare with):
// out[j][i] = in[0][i] op ... op in[k-1][i] for every j.
void all_reduce_host_buffers(AllReduceOp op, DType dtype, const std::vector<const void*>& in,
                             const std::vector<void*>& out, std::int64_t n);

// At most this many participants per fused kernel launch (their pointers travel as kernel
// parameters).
inline constexpr int kMaxFusedParticipants = 64;

// ScopeFlow's fused CUDA kernel: one pass reads the K inputs and writes ONE result, held by
// devices[0] and returned to every participant on devices[0]'s card (logical GPUs share their
// card's memory, as the logical CPU devices share the host's: all_reduce_host does the same),
// so the pass moves (K + 1) buffers, not 2K. It runs on devices[0]'s compute stream after that
// stream waits for every participant's compute stream; every other participant's stream then
// waits for it (events, no device-wide sync), and the result's block is declared used by those
// streams (record_stream), so the allocator reuses it only after their work. A participant's
// input may be held by another logical GPU of its card. Participants on another card than
// devices[0] are staged: their input is copied to devices[0]'s card first and the result
// copied back into a buffer of their own (used when NCCL is missing, or when some participants
// share a card and others do not). CPU-only builds: UnavailableError.
std::vector<Tensor> all_reduce_fused_gpu(const AllReduceRequest& r);

// The fused kernel alone, on raw device pointers of the current CUDA device, queued on
// `stream`: out[j][i] = reduce over j' of in[j'][i], for k = in.size() <= kMaxFusedParticipants
// and 1 <= out.size() <= k outputs (each written with the same bits).
// float32 uses 16-byte vector loads when every pointer is 16-byte aligned.
void all_reduce_fused_cuda(AllReduceOp op, DType dtype, const std::vector<const void*>& in,
                           const std::vector<void*>& out, std::int64_t n, devices::Stream& stream);

// NCCL across distinct physical GPUs (one participant per card): a communicator per device
// list, created once (ncclCommInitAll) and kept for the process; ncclGroupStart, one
// ncclAllReduce per participant on its card's NCCL stream (which first waits for the device's
// compute stream; the compute stream then waits for it), ncclGroupEnd, all under one
// process-wide lock (see collective_nccl.cc on deadlocks).
// UnavailableError in builds without NCCL.
bool nccl_available();
std::vector<Tensor> all_reduce_nccl(const AllReduceRequest& r);

void register_collective_cpu_kernels(KernelRegistry& r);
void register_collective_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
