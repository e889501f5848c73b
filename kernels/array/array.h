// Array ops with simple reference kernels: Identity (aliases its input), Pack (stack along
// axis 0), LogicalNot, BooleanMask (1-D mask over the first dimension). CPU: array_cpu.cc.
#pragma once

#include "kernels/kernel.h"

namespace scopeflow::kernels {

void register_array_cpu_kernels(KernelRegistry& r);
// Identity forwards its input's buffer, so the same code serves GPUs (label "cuda").
void register_array_gpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
