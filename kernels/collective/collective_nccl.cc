// NCCL all-reduce across distinct physical GPUs (label "nccl"): communicators per device list,
// created once and kept; one grouped ncclAllReduce per participant on its compute stream. See
// collective.h. Builds without NCCL: collective_nccl_stub.cc.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <map>
#include <mutex>
#include <vector>

#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "devices/cuda/nccl_check.h"
#include "kernels/collective/collective.h"

namespace scopeflow::kernels {
namespace {

ncclDataType_t nccl_type(DType t, const std::string& name) {
  switch (t) {
    case DType::kFloat32: return ncclFloat32;
    case DType::kFloat64: return ncclFloat64;
    case DType::kFloat16: return ncclFloat16;
    case DType::kBFloat16: return ncclBfloat16;
    case DType::kInt32: return ncclInt32;
    case DType::kInt64: return ncclInt64;
    default:
      throw InvalidArgumentError(
          str_cat("all-reduce ", name, ": NCCL does not reduce ", dtype_name(t)));
  }
}

ncclRedOp_t nccl_op(AllReduceOp op) {
  switch (op) {
    case AllReduceOp::kSum: return ncclSum;
    case AllReduceOp::kProd: return ncclProd;
    case AllReduceOp::kMin: return ncclMin;
    case AllReduceOp::kMax: return ncclMax;
  }
  return ncclSum;
}

// NCCL state for the process, all under ONE lock:
// - the communicators of each ordered list of physical GPUs (a communicator is not
//   thread-safe, and every rank must see the collectives in the same order);
// - one NCCL stream per card, shared by every communicator that has a rank there.
// NOTE (deadlocks): NCCL kernels spin until every rank's kernel runs. (1) They run on their own
// streams, not on the compute streams: another inter-op thread may make one compute stream wait
// for another card's compute stream (copy_from_device_async, the fused kernel's waits) between
// two of ncclGroupEnd's per-card launches; with the NCCL kernels on the compute streams that
// wait could land in front of rank 1's kernel and depend on rank 0's, which waits for rank 1.
// A NCCL stream only waits for an event its compute stream recorded before the group was
// launched, so no launch depends on a peer's kernel of the same group. (2) One lock for every
// clique (not one per clique) and one stream per card: two groups over overlapping cards (e.g.
// GPUs {0,1} and {0,1,2}) are queued in the same order on every card.
struct CardSide {
  cudaStream_t stream = nullptr;  // the card's NCCL stream
  cudaEvent_t inputs_ready = nullptr;
  cudaEvent_t done = nullptr;
};

struct NcclState {
  std::mutex mu;
  std::map<std::vector<int>, std::vector<ncclComm_t>> cliques;
  std::map<int, CardSide> cards;
};

// NOTE: never destroyed: ncclCommDestroy / cudaStreamDestroy during static destruction would
// race the CUDA runtime's own teardown.
NcclState& nccl_state() {
  static auto* state = new NcclState();
  return *state;
}

// Callers hold nccl_state().mu.
const std::vector<ncclComm_t>& clique_for(NcclState& st, const std::vector<int>& cards) {
  auto it = st.cliques.find(cards);
  if (it != st.cliques.end()) return it->second;
  std::vector<ncclComm_t> comms(cards.size());
  SF_NCCL_CHECK(ncclCommInitAll(comms.data(), static_cast<int>(cards.size()), cards.data()));
  return st.cliques.emplace(cards, std::move(comms)).first->second;
}

CardSide& card_side(NcclState& st, int card) {
  auto it = st.cards.find(card);
  if (it != st.cards.end()) return it->second;
  CardSide c;  // kept only once all three exist (a failure leaks at most these handles)
  cuda::DeviceGuard guard(card);
  SF_CUDA_CHECK(cudaEventCreateWithFlags(&c.inputs_ready, cudaEventDisableTiming));
  SF_CUDA_CHECK(cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming));
  SF_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  return st.cards.emplace(card, c).first->second;
}

}  // namespace

bool nccl_available() { return true; }

std::vector<Tensor> all_reduce_nccl(const AllReduceRequest& r) {
  const std::size_t k = r.inputs.size();
  if (k == 0 || r.devices.size() != k)
    throw InvalidArgumentError(
        str_cat("all-reduce ", r.name, ": ", k, " inputs for ", r.devices.size(), " devices"));
  std::vector<int> cards;
  for (std::size_t j = 0; j < k; ++j) {
    const auto& d = r.devices[j];
    const Tensor& x = r.inputs[j];
    if (d->type() != devices::DeviceType::kGPU || x.on_host() || x.device_ptr() != d)
      throw InvalidArgumentError(
          str_cat("all-reduce ", r.name, ": participant ", j, " must be a tensor on ", d->name()));
    for (int c : cards)
      if (c == d->physical_id())
        throw InvalidArgumentError(
            str_cat("all-reduce ", r.name, ": NCCL needs one participant per physical GPU; ",
                    d->name(), " shares GPU ", c, " with another participant"));
    cards.push_back(d->physical_id());
  }
  const Tensor& x0 = r.inputs[0];
  const ncclDataType_t type = nccl_type(x0.dtype(), r.name);
  std::vector<Tensor> out;
  out.reserve(k);
  for (std::size_t j = 0; j < k; ++j) out.emplace_back(x0.dtype(), x0.shape(), r.devices[j]);
  const auto count = static_cast<std::size_t>(x0.num_elements());
  if (count == 0) return out;
  std::vector<cuda::GpuDevice*> gpus(k);
  for (std::size_t j = 0; j < k; ++j) {
    gpus[j] = dynamic_cast<cuda::GpuDevice*>(r.devices[j].get());
    if (gpus[j] == nullptr)
      throw InvalidArgumentError(
          str_cat("all-reduce ", r.name, ": ", r.devices[j]->name(), " is not a CUDA device"));
  }
  NcclState& st = nccl_state();
  std::lock_guard<std::mutex> lock(st.mu);
  const std::vector<ncclComm_t>& comms = clique_for(st, cards);
  // Each participant's input was made on its device's compute stream (kernels and incoming
  // copies queue there), and its output is allocated there and read there next: the card's NCCL
  // stream waits for the compute stream's work so far, and the compute stream waits for the
  // all-reduce before anything queued after it (so freed inputs and outputs are reused in
  // order on the compute stream, which owns them in the allocator).
  std::vector<CardSide*> sides(k);
  for (std::size_t j = 0; j < k; ++j) {
    sides[j] = &card_side(st, cards[j]);
    cuda::DeviceGuard guard(cards[j]);
    SF_CUDA_CHECK(cudaEventRecord(sides[j]->inputs_ready, gpus[j]->stream()));
    SF_CUDA_CHECK(cudaStreamWaitEvent(sides[j]->stream, sides[j]->inputs_ready, 0));
  }
  SF_NCCL_CHECK(ncclGroupStart());
  for (std::size_t j = 0; j < k; ++j) {
    const ncclResult_t res = ncclAllReduce(r.inputs[j].raw_data(), out[j].raw_data(), count, type,
                                           nccl_op(r.op), comms[j], sides[j]->stream);
    if (res != ncclSuccess) {
      (void)ncclGroupEnd();
      SF_NCCL_CHECK(res);
    }
  }
  SF_NCCL_CHECK(ncclGroupEnd());
  for (std::size_t j = 0; j < k; ++j) {
    cuda::DeviceGuard guard(cards[j]);
    SF_CUDA_CHECK(cudaEventRecord(sides[j]->done, sides[j]->stream));
    SF_CUDA_CHECK(cudaStreamWaitEvent(gpus[j]->stream(), sides[j]->done, 0));
  }
  return out;
}

}  // namespace scopeflow::kernels
