// conv2d_cuda.h's native entry points in CPU-only builds: each throws UnavailableError, so that
// code and tests calling them build everywhere (and skip where no GPU is). The real ones:
// conv2d_cuda.cu.
#include "kernels/conv2d/conv2d_cuda.h"

namespace scopeflow::kernels {
namespace {
[[noreturn]] void no_cuda() { throw UnavailableError("conv2d: CPU-only build, no CUDA kernels"); }
}  // namespace

void conv2d_forward_cuda(const Conv2DGeom&, const float*, const float*, float*, devices::Device&,
                         devices::Stream&) {
  no_cuda();
}
void conv2d_backward_input_cuda(const Conv2DGeom&, const float*, const float*, float*,
                                devices::Device&, devices::Stream&) {
  no_cuda();
}
void conv2d_backward_filter_cuda(const Conv2DGeom&, const float*, const float*, float*,
                                 devices::Device&, devices::Stream&) {
  no_cuda();
}
igemm::GemmPlan conv2d_plan_cuda(igemm::Pass, const Conv2DGeom&, devices::Device&) { no_cuda(); }
void conv2d_igemm_cuda(igemm::Pass, const Conv2DGeom&, const float*, const float*, float*,
                       devices::Device&, devices::Stream&, const igemm::GemmPlan*) {
  no_cuda();
}
void transpose2d_cuda(const float*, float*, std::int64_t, std::int64_t, devices::Stream&) {
  no_cuda();
}
void pad_nhwc_cuda(const float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                   int, int, devices::Stream&) {
  no_cuda();
}
void crop_nhwc_cuda(const float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                    int, int, devices::Stream&) {
  no_cuda();
}
void fma_peak_cuda(float*, int, int, int, devices::Stream&) { no_cuda(); }
void register_conv2d_gpu_family(KernelRegistry&, const std::string&, Conv2DGpuFn, Conv2DGpuFn,
                                Conv2DGpuFn) {}
void register_conv2d_cuda_kernels(KernelRegistry&) {}

}  // namespace scopeflow::kernels
