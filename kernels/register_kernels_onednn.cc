// The explicit list of oneDNN-backed CPU kernel families (builds with oneDNN).
// Without oneDNN: register_kernels_onednn_stub.cc.
#include "kernels/conv2d/conv2d.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_onednn_kernels(KernelRegistry& r) {
  register_conv2d_onednn_kernels(r);
  // NOTE: "onednn" is first in the CPU order (kernel.h), which wins for Conv2D and
  // Conv2DBackpropFilter on the benchmark shapes (benchmarks/RESULTS.md); for
  // Conv2DBackpropInput OpenBLAS was as fast in total and 6x faster at 1 input channel
  // (oneDNN pads C=1 to a 16-channel block), so it keeps "openblas" first when built.
  r.set_label_preference(devices::DeviceType::kCPU, "Conv2DBackpropInput", {"openblas", "onednn"});
}
bool built_with_onednn() { return true; }

}  // namespace scopeflow::kernels
