// MaxPool / MaxPoolGrad / AvgPool / AvgPoolGrad, NHWC float32, TF's window geometry
// (kernels/conv2d/conv2d.h). CPU: pool_cpu.cc ("ref" and multi-threaded "cpu").
#pragma once

#include "kernels/conv2d/conv2d.h"

namespace scopeflow::kernels {

struct PoolGeom {
  std::int64_t n = 0, c = 0;
  WindowDim h, w;
};

void max_pool_forward_ref(const PoolGeom& g, const float* x, float* y);
// NOTE: the gradient goes to the first maximum of each window (TF's MaxPoolGrad), so ties
// do not split it.
void max_pool_backward_ref(const PoolGeom& g, const float* x, const float* dy, float* dx);
// NOTE: averages over the window's elements inside the input (padding is not counted).
void avg_pool_forward_ref(const PoolGeom& g, const float* x, float* y);
void avg_pool_backward_ref(const PoolGeom& g, const float* dy, float* dx);
// The same on the intra-op thread pool (label "cpu"), equal to the reference bit for bit.
void max_pool_forward_cpu(const PoolGeom& g, const float* x, float* y);
void max_pool_backward_cpu(const PoolGeom& g, const float* x, const float* dy, float* dx);
void avg_pool_forward_cpu(const PoolGeom& g, const float* x, float* y);
void avg_pool_backward_cpu(const PoolGeom& g, const float* dy, float* dx);
// Registers MaxPool, MaxPoolGrad, AvgPool and AvgPoolGrad under "ref" and "cpu".
void register_pool_cpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
