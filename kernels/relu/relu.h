// Relu / ReluGrad (float32). The per-element math is shared by every implementation.
// CPU: relu_cpu.cc ("ref" loops and "cpu" multi-threaded). (CUDA kernels: the kernels issue.)
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

}  // namespace scopeflow::kernels
