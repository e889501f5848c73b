// CapturedStep in CPU-only builds: no plan is eligible there ("no GPU step"), so none of this
// runs; constructing one says why. See cuda_graph.h.
#include "devices/base/errors.h"
#include "runtime/session/cuda_graph.h"

namespace scopeflow::cuda_graph {

bool built_with_cuda_graphs() { return false; }

struct CapturedStep::Impl {};

CapturedStep::CapturedStep(std::vector<std::pair<devices::Device*, devices::Stream*>>,
                           std::size_t) {
  throw UnavailableError("CUDA graphs need a CUDA build (this one is CPU-only)");
}
CapturedStep::~CapturedStep() = default;
void CapturedStep::begin() {}
devices::Stream& CapturedStep::stream(const devices::Device& device) {
  throw UnavailableError(str_cat("CUDA graphs: no capture stream for ", device.name()));
}
void CapturedStep::copy(devices::Device&, void*, devices::Device&, const void*, std::size_t) {}
const std::uint64_t* CapturedStep::bind_counter(const Node*, std::uint64_t, devices::Stream&) {
  return nullptr;
}
void CapturedStep::note_advance(const Node*, std::uint64_t) {}
std::vector<std::pair<const Node*, std::uint64_t>> CapturedStep::counters() const { return {}; }
void CapturedStep::end() {}
void CapturedStep::abort() noexcept {}
void CapturedStep::set_counter(std::size_t, std::uint64_t) {}
void CapturedStep::launch() {}

}  // namespace scopeflow::cuda_graph
