// The GPU conv2d entry points: the native implicit-GEMM kernels of conv2d_cuda.cu (label
// "cuda"), the cuDNN calls of conv2d_cudnn.cc (label "cudnn"), and the small layout kernels
// the cuDNN path needs. Reference: conv2d_cpu.cc. Declared in every build; without CUDA
// (conv2d_cuda_stub.cc) or cuDNN (conv2d_cudnn_stub.cc) they throw UnavailableError.
//
// Every pointer is device memory of `device` (a GPU device); NHWC x/y/dx/dy, HWIO f/df,
// float32. Work is queued on `stream` (no host synchronization, except for cuDNN's
// algorithm search the first time a shape is seen). Temporary buffers come from the
// device's allocator, stream-ordered. Outputs are fully overwritten (never accumulated).
// Throws InvalidArgumentError for shapes the kernels cannot index, InternalError /
// ResourceExhaustedError for CUDA or cuDNN failures.
#pragma once

#include <cstdint>

#include "kernels/conv2d/conv2d.h"
#include "kernels/conv2d/conv2d_igemm.h"

namespace scopeflow::kernels {

// ---------------------------------------------------------------- native (conv2d_cuda.cu)
void conv2d_forward_cuda(const Conv2DGeom& g, const float* x, const float* f, float* y,
                         devices::Device& device, devices::Stream& stream);
void conv2d_backward_input_cuda(const Conv2DGeom& g, const float* f, const float* dy, float* dx,
                                devices::Device& device, devices::Stream& stream);
void conv2d_backward_filter_cuda(const Conv2DGeom& g, const float* x, const float* dy, float* df,
                                 devices::Device& device, devices::Stream& stream);
// The plan the native kernel uses for `pass` on `device` (for benchmarks and logs).
igemm::GemmPlan conv2d_plan_cuda(igemm::Pass pass, const Conv2DGeom& g, devices::Device& device);
// One pass with operands in GEMM order (forward: a = x, b = f, c = y; backward_input: a = dy,
// b = f, c = dx; backward_filter: a = x, b = dy, c = df), with `plan` when given (tests run
// every tile and split count through it; it must come from igemm::make_plan for this pass's
// GEMM sizes, with the 64x64 tile when the pass cannot use vector loads), else the planned one.
void conv2d_igemm_cuda(igemm::Pass pass, const Conv2DGeom& g, const float* a, const float* b,
                       float* c, devices::Device& device, devices::Stream& stream,
                       const igemm::GemmPlan* plan = nullptr);

// out[cols x rows] = in[rows x cols]^T (HWIO <-> OHWI filters as [KH*KW*C] x [O] matrices).
void transpose2d_cuda(const float* in, float* out, std::int64_t rows, std::int64_t cols,
                      devices::Stream& stream);
// dst[b, 0..h+extra_h, 0..w+extra_w, c] = src[b, h, w, c], zero in the extra rows/columns.
void pad_nhwc_cuda(const float* src, float* dst, std::int64_t n, std::int64_t h, std::int64_t w,
                   std::int64_t c, int extra_h, int extra_w, devices::Stream& stream);
// dst[b, h, w, c] = src[b, h, w, c] with src of size [n, h+extra_h, w+extra_w, c].
void crop_nhwc_cuda(const float* src, float* dst, std::int64_t n, std::int64_t h, std::int64_t w,
                    std::int64_t c, int extra_h, int extra_w, devices::Stream& stream);

// A chain of dependent FMAs on every thread: `iters` x 8 independent chains x 2 FLOP per
// thread; the benchmarks' measured FP32 peak. `out` receives one float per thread.
void fma_peak_cuda(float* out, int blocks, int threads, int iters, devices::Stream& stream);

// ---------------------------------------------------------------- cuDNN (conv2d_cudnn.cc)
// cuDNN's legacy convolution API with FMA math only (never TF32), the algorithm found by
// measurement once per shape and GPU (cached), asymmetric SAME padding handled by padding
// the input explicitly. cudnn_available() is false in builds without cuDNN.
bool cudnn_available();
void conv2d_forward_cudnn(const Conv2DGeom& g, const float* x, const float* f, float* y,
                          devices::Device& device, devices::Stream& stream);
void conv2d_backward_input_cudnn(const Conv2DGeom& g, const float* f, const float* dy, float* dx,
                                 devices::Device& device, devices::Stream& stream);
void conv2d_backward_filter_cudnn(const Conv2DGeom& g, const float* x, const float* dy, float* df,
                                  devices::Device& device, devices::Stream& stream);

// Registers Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter on the GPU under `label`
// with the given implementations (argument checks shared by every GPU label). Output 0 is
// reused when the caller preallocated it with the right dtype, shape and device.
using Conv2DGpuFn = void (*)(const Conv2DGeom&, const float*, const float*, float*,
                             devices::Device&, devices::Stream&);
void register_conv2d_gpu_family(KernelRegistry& r, const std::string& label, Conv2DGpuFn forward,
                                Conv2DGpuFn backward_input, Conv2DGpuFn backward_filter);

void register_conv2d_cuda_kernels(KernelRegistry& r);
// Label "cudnn": cuDNN, except for shape classes routed to the native kernel by
// igemm::native_preferred. Registers nothing in builds without cuDNN.
void register_conv2d_cudnn_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
