// Array ops with simple reference kernels: Identity (aliases its input), Pack (stack along
// axis 0), LogicalNot, BooleanMask (1-D mask over the first dimension). CPU: array_cpu.cc;
// CUDA: array_cuda.cu (Pack, BooleanMask, LogicalNot; every dtype but string, which lives in
// host memory).
#pragma once

#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_array_cpu_kernels(KernelRegistry& r);
// Identity forwards its input's buffer, so the same code serves GPUs (label "cuda").
void register_array_gpu_kernels(KernelRegistry& r);
// Pack, BooleanMask (reads the mask back to size its output: a synchronization) and
// LogicalNot on CUDA (label "cuda"); CUDA builds only.
void register_array_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
