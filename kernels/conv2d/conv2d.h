// Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter: NHWC input, HWIO filter, strides,
// dilations, SAME/VALID padding with TF's rule. CPU: conv2d_cpu.cc (reference loops with
// double accumulation: the test oracle). The window geometry is shared with pooling.
// GPU ("cuda" native implicit GEMM, "cudnn"): conv2d_cuda.h.
#pragma once

#include <cstdint>
#include <string>

#include "devices/base/host_device.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

// One spatial dimension of a window op: TF's GetWindowedOutputSize.
struct WindowDim {
  std::int64_t in = 0, out = 0, k = 1, stride = 1, dilation = 1, pad_before = 0;
};
// Throws InvalidArgumentError naming `what` for a bad padding string or window.
WindowDim window_dim(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation,
                     const std::string& padding, const std::string& what);

struct Conv2DGeom {
  std::int64_t n = 0, c = 0, o = 0;  // batch, in channels, out channels
  WindowDim h, w;
};

void conv2d_forward_ref(const Conv2DGeom& g, const float* x, const float* f, float* y);
void conv2d_backward_input_ref(const Conv2DGeom& g, const float* f, const float* dy, float* dx);
void conv2d_backward_filter_ref(const Conv2DGeom& g, const float* x, const float* dy, float* df);

// im2col + OpenBLAS sgemm (builds with OpenBLAS only): conv2d_openblas.cc.
void conv2d_forward_openblas(const Conv2DGeom& g, const float* x, const float* f, float* y);
void conv2d_backward_input_openblas(const Conv2DGeom& g, const float* f, const float* dy,
                                    float* dx);
void conv2d_backward_filter_openblas(const Conv2DGeom& g, const float* x, const float* dy,
                                     float* df);

// oneDNN primitives (builds with oneDNN only): conv2d_onednn.cc. Without oneDNN these are
// defined in conv2d_onednn_stub.cc and throw UnavailableError. Thread-safe: primitives are
// built once per geometry and kept in a bounded LRU cache (kConv2DOneDnnCacheCapacity);
// oneDNN's own threads come from OpenMP (OMP_NUM_THREADS), not from parallel_for's pool.
enum class Conv2DPass { kForward, kBackwardInput, kBackwardFilter };
// kPlain: the primitive reads and writes NHWC / HWIO in place. kBlocked: oneDNN picks its
// layouts (format_tag::any) and every operand is reordered to and from them on each call.
enum class OneDnnLayout { kPlain, kBlocked };
inline constexpr std::size_t kConv2DOneDnnCacheCapacity = 64;
// One pass with an explicit layout choice; operands as the label's functions below:
// kForward (x, f, y), kBackwardInput (f, dy, dx), kBackwardFilter (x, dy, df). Throws
// InternalError (naming the pass and geometry) when oneDNN rejects the geometry.
void conv2d_onednn(Conv2DPass pass, OneDnnLayout layout, const Conv2DGeom& g, const float* a,
                   const float* b, float* out);
// The layout the "onednn" label uses for `pass` (chosen by benchmark: see conv2d_onednn.cc).
OneDnnLayout conv2d_onednn_layout(Conv2DPass pass);
void conv2d_forward_onednn(const Conv2DGeom& g, const float* x, const float* f, float* y);
void conv2d_backward_input_onednn(const Conv2DGeom& g, const float* f, const float* dy, float* dx);
void conv2d_backward_filter_onednn(const Conv2DGeom& g, const float* x, const float* dy, float* df);
// oneDNN's name for the implementation it picked ("jit:avx2", "gemm:jit", ...), for benchmarks.
std::string conv2d_onednn_implementation(Conv2DPass pass, OneDnnLayout layout, const Conv2DGeom& g);
// Plans (primitives) currently cached; never above kConv2DOneDnnCacheCapacity.
std::size_t conv2d_onednn_cached_plans();

// Geometry from an NHWC input shape, an HWIO filter shape and the node's attrs; throws
// InvalidArgumentError naming the node.
Conv2DGeom conv2d_geometry(const KernelContext& c, const Shape& in, const Shape& filter);
// InvalidArgumentError naming the node unless `dy` has the convolution's output shape.
void check_conv_out_backprop(const KernelContext& c, const Conv2DGeom& g, const Tensor& dy);

// Registers Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter on the CPU under `label`
// with the given implementations (argument checks shared by every label).
using Conv2DFn = void (*)(const Conv2DGeom&, const float*, const float*, float*);
void register_conv2d_cpu_family(KernelRegistry& r, const std::string& label, Conv2DFn forward,
                                Conv2DFn backward_input, Conv2DFn backward_filter);

void register_conv2d_cpu_kernels(KernelRegistry& r);
void register_conv2d_openblas_kernels(KernelRegistry& r);
void register_conv2d_onednn_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
