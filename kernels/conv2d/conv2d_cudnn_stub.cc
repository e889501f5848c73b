// The "cudnn" conv2d label in builds without cuDNN (CPU-only ones included): nothing is
// registered, and the cuDNN entry points of conv2d_cuda.h throw UnavailableError. The real
// one: conv2d_cudnn.cc.
#include "kernels/conv2d/conv2d_cuda.h"

namespace scopeflow::kernels {
namespace {
[[noreturn]] void no_cudnn() { throw UnavailableError("conv2d: this build has no cuDNN"); }
}  // namespace

bool cudnn_available() { return false; }
void conv2d_forward_cudnn(const Conv2DGeom&, const float*, const float*, float*, devices::Device&,
                          devices::Stream&) {
  no_cudnn();
}
void conv2d_backward_input_cudnn(const Conv2DGeom&, const float*, const float*, float*,
                                 devices::Device&, devices::Stream&) {
  no_cudnn();
}
void conv2d_backward_filter_cudnn(const Conv2DGeom&, const float*, const float*, float*,
                                  devices::Device&, devices::Stream&) {
  no_cudnn();
}
void register_conv2d_cudnn_kernels(KernelRegistry&) {}

}  // namespace scopeflow::kernels
