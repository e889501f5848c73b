// NCCL all-reduce across distinct physical GPUs (label "nccl"): communicators per device list,
// created once and kept; one grouped ncclAllReduce per participant on its compute stream. See
// collective.h. Builds without NCCL: collective_nccl_stub.cc.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <map>
#include <mutex>

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

// The communicators of one ordered list of physical GPUs, and the lock that keeps each group
// of calls on them whole (a communicator is not thread-safe, and every rank must see the
// collectives in the same order).
struct Clique {
  std::vector<ncclComm_t> comms;
  std::mutex mu;
};

// NOTE: cliques live until the process exits and are never destroyed: ncclCommDestroy during
// static destruction would race the CUDA runtime's own teardown.
Clique& clique_for(const std::vector<int>& cards) {
  static std::mutex mu;
  static auto* cliques = new std::map<std::vector<int>, std::unique_ptr<Clique>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*cliques)[cards];
  if (!slot) {
    auto c = std::make_unique<Clique>();
    c->comms.resize(cards.size());
    SF_NCCL_CHECK(ncclCommInitAll(c->comms.data(), static_cast<int>(cards.size()), cards.data()));
    slot = std::move(c);
  }
  return *slot;
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
  Clique& clique = clique_for(cards);
  std::lock_guard<std::mutex> lock(clique.mu);
  // Each participant's input was made on its device's compute stream (kernels and incoming
  // copies queue there), and its output is read there next: NCCL on that stream needs no events.
  SF_NCCL_CHECK(ncclGroupStart());
  for (std::size_t j = 0; j < k; ++j) {
    auto* gpu = dynamic_cast<cuda::GpuDevice*>(r.devices[j].get());
    if (gpu == nullptr) {
      (void)ncclGroupEnd();
      throw InvalidArgumentError(
          str_cat("all-reduce ", r.name, ": ", r.devices[j]->name(), " is not a CUDA device"));
    }
    const ncclResult_t st = ncclAllReduce(r.inputs[j].raw_data(), out[j].raw_data(), count, type,
                                          nccl_op(r.op), clique.comms[j], gpu->stream());
    if (st != ncclSuccess) {
      (void)ncclGroupEnd();
      SF_NCCL_CHECK(st);
    }
  }
  SF_NCCL_CHECK(ncclGroupEnd());
  return out;
}

}  // namespace scopeflow::kernels
