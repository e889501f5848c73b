// Element-wise broadcasting kernels on CUDA: out[i] = fn(a[ia], b[ib]) over a BroadcastPlan
// (broadcast_plan.h), with the cheapest indexing the plan allows: flat offsets i * stride for
// a merged rank <= 1 (same shapes, a scalar against anything), one division for rank 2 (a
// row or a column against a matrix, an outer sum), a per-dimension decode otherwise; int32
// offsets when broadcast_fits_int32 (cheaper divisions), else int64. One thread per element,
// grid-stride. Users: binary_cuda.cu (Add/Sub/Mul/RealDiv, BroadcastTo), compare_cuda.cu.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/math/broadcast_plan.h"

namespace scopeflow::kernels::broadcast {

template <class Fn, class A, class B, class Out>
__global__ void flat_kernel(Fn fn, const A* a, std::int64_t sa, const B* b, std::int64_t sb,
                            Out* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    out[i] = fn(a[i * sa], b[i * sb]);
}

template <class Fn, class A, class B, class Out, class I>
__global__ void rank2_kernel(Fn fn, const A* a, const B* b, Out* out, BroadcastPlan p) {
  const I n = static_cast<I>(p.n), cols = static_cast<I>(p.dims[1]);
  const I sa0 = static_cast<I>(p.stride_a[0]), sa1 = static_cast<I>(p.stride_a[1]);
  const I sb0 = static_cast<I>(p.stride_b[0]), sb1 = static_cast<I>(p.stride_b[1]);
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const I r = i / cols, c = i - r * cols;
    out[i] = fn(a[r * sa0 + c * sa1], b[r * sb0 + c * sb1]);
  }
}

template <class Fn, class A, class B, class Out, class I>
__global__ void strided_kernel(Fn fn, const A* a, const B* b, Out* out, BroadcastPlan p) {
  const I n = static_cast<I>(p.n);
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I ia, ib;
    broadcast_offsets<I>(p, i, ia, ib);
    out[i] = fn(a[ia], b[ib]);
  }
}

// Queues out = fn(a, b) over `p` on `stream`; nothing for an empty output.
template <class Fn, class A, class B, class Out>
void launch(Fn fn, const A* a, const B* b, Out* out, const BroadcastPlan& p, cudaStream_t stream) {
  constexpr int kBlock = 256;
  if (p.n == 0) return;
  const unsigned grid = grid_size(p.n, kBlock);
  const bool i32 = broadcast_fits_int32(p);
  if (p.rank <= 1) {
    const std::int64_t sa = p.rank == 0 ? 0 : p.stride_a[0];
    const std::int64_t sb = p.rank == 0 ? 0 : p.stride_b[0];
    flat_kernel<<<grid, kBlock, 0, stream>>>(fn, a, sa, b, sb, out, p.n);
  } else if (p.rank == 2) {
    if (i32)
      rank2_kernel<Fn, A, B, Out, std::int32_t><<<grid, kBlock, 0, stream>>>(fn, a, b, out, p);
    else
      rank2_kernel<Fn, A, B, Out, std::int64_t><<<grid, kBlock, 0, stream>>>(fn, a, b, out, p);
  } else {
    if (i32)
      strided_kernel<Fn, A, B, Out, std::int32_t><<<grid, kBlock, 0, stream>>>(fn, a, b, out, p);
    else
      strided_kernel<Fn, A, B, Out, std::int64_t><<<grid, kBlock, 0, stream>>>(fn, a, b, out, p);
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace scopeflow::kernels::broadcast
