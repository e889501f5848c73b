// Builds without oneDNN (not installed, or SF_ONEDNN=OFF): conv2d.h's oneDNN entry points
// throw UnavailableError, and no "onednn" label is registered. With oneDNN: conv2d_onednn.cc.
#include "kernels/conv2d/conv2d.h"

namespace scopeflow::kernels {
namespace {
[[noreturn]] void unavailable() {
  throw UnavailableError(
      "oneDNN conv2d: this ScopeFlow build has no oneDNN (SF_ONEDNN=OFF or "
      "libdnnl-dev not found at configure time)");
}
}  // namespace

void conv2d_onednn(Conv2DPass, OneDnnLayout, const Conv2DGeom&, const float*, const float*,
                   float*) {
  unavailable();
}
OneDnnLayout conv2d_onednn_layout(Conv2DPass) { return OneDnnLayout::kPlain; }
void conv2d_forward_onednn(const Conv2DGeom&, const float*, const float*, float*) { unavailable(); }
void conv2d_backward_input_onednn(const Conv2DGeom&, const float*, const float*, float*) {
  unavailable();
}
void conv2d_backward_filter_onednn(const Conv2DGeom&, const float*, const float*, float*) {
  unavailable();
}
std::string conv2d_onednn_implementation(Conv2DPass, OneDnnLayout, const Conv2DGeom&) {
  unavailable();
}
std::size_t conv2d_onednn_cached_plans() { return 0; }
void register_conv2d_onednn_kernels(KernelRegistry&) {}

}  // namespace scopeflow::kernels
