// Relu / ReluGrad (float32; float16 and bfloat16 too). The per-element math is shared by
// every implementation. CPU: relu_cpu.cc ("ref" loops and "cpu" multi-threaded); CUDA:
// relu_cuda.cu.
#pragma once

#include <cstdint>

#include "devices/base/host_device.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

// NOTE: x < 0 ? 0 : x lets NaN through, as TF's Relu does (Eigen's max would too).
SF_HOST_DEVICE inline float relu(float x) { return x < 0.0f ? 0.0f : x; }
// NOTE: TF's ReluGrad passes the gradient only where the *input* is > 0 (0 at x == 0).
SF_HOST_DEVICE inline float relu_grad(float dy, float x) { return x > 0.0f ? dy : 0.0f; }

void relu_forward_ref(const float* x, float* y, std::int64_t n);
void relu_backward_ref(const float* dy, const float* x, float* dx, std::int64_t n);
// The same on the intra-op thread pool (label "cpu"; kernels/common/parallel_for.h).
void relu_forward_cpu(const float* x, float* y, std::int64_t n);
void relu_backward_cpu(const float* dy, const float* x, float* dx, std::int64_t n);
// Registers Relu and ReluGrad under "ref" and "cpu".
void register_relu_cpu_kernels(KernelRegistry& r);

// Device memory, queued on `stream`. T: float, half, bfloat16_t (16-bit values are compared
// as floats and passed through unchanged, so the result is exact). y may alias x, dx dy.
template <class T>
void relu_forward_cuda(const T* x, T* y, std::int64_t n, devices::Stream& stream);
template <class T>
void relu_backward_cuda(const T* dy, const T* x, T* dx, std::int64_t n, devices::Stream& stream);
void register_relu_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
