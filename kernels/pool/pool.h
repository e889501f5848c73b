// MaxPool / MaxPoolGrad / MaxPoolGradGrad / AvgPool / AvgPoolGrad, NHWC float32, TF's window
// geometry (kernels/conv2d/conv2d.h). CPU: pool_cpu.cc ("ref" and multi-threaded "cpu"); CUDA:
// pool_cuda.cu.
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
// TF's MaxPoolGradGrad (the gradient of MaxPoolGrad with respect to its `grad` input):
// y[o] = ddx[argmax(o)], the argmax being MaxPoolGrad's (the window's first maximum of x);
// ddx has x's shape, y the pooled shape. 0 for a window with no input element.
void max_pool_grad_grad_ref(const PoolGeom& g, const float* x, const float* ddx, float* y);
// The same on the intra-op thread pool (label "cpu"), equal to the reference bit for bit.
void max_pool_forward_cpu(const PoolGeom& g, const float* x, float* y);
void max_pool_backward_cpu(const PoolGeom& g, const float* x, const float* dy, float* dx);
void avg_pool_forward_cpu(const PoolGeom& g, const float* x, float* y);
void avg_pool_backward_cpu(const PoolGeom& g, const float* dy, float* dx);
// Registers MaxPool, MaxPoolGrad, AvgPool and AvgPoolGrad under "ref" and "cpu", and
// MaxPoolGradGrad under "ref".
void register_pool_cpu_kernels(KernelRegistry& r);

// The geometry of a pooling node from its NHWC input shape and its ksize/strides/padding
// attrs (every implementation reads them here). Throws InvalidArgumentError naming the node.
PoolGeom pool_geometry(const KernelContext& c, const Shape& in);

// Device memory, queued on `stream`; the same results as the reference, bit for bit: the
// same tap order, the same first-maximum rule, gradients gathered per input element in the
// reference's accumulation order (no atomics). Every element of y / dx is written.
void max_pool_forward_cuda(const PoolGeom& g, const float* x, float* y, devices::Stream& stream);
void max_pool_backward_cuda(const PoolGeom& g, const float* x, const float* dy, float* dx,
                            devices::Stream& stream);
void avg_pool_forward_cuda(const PoolGeom& g, const float* x, float* y, devices::Stream& stream);
void avg_pool_backward_cuda(const PoolGeom& g, const float* dy, float* dx, devices::Stream& stream);
void max_pool_grad_grad_cuda(const PoolGeom& g, const float* x, const float* ddx, float* y,
                             devices::Stream& stream);
void register_pool_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
