// MatMul (float32, transpose flags). CPU: matmul_cpu.cc (reference, double accumulation).
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// c[m, n] = sum_k op(a)[m, k] * op(b)[k, n]; op transposes when the flag is set.
void matmul_forward_ref(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n,
                        std::int64_t k, bool transpose_a, bool transpose_b);
void matmul_forward_openblas(const float* a, const float* b, float* c, std::int64_t m,
                             std::int64_t n, std::int64_t k, bool transpose_a, bool transpose_b);
// Registers MatMul on the CPU under `label` with `fn` (argument checks shared by every label).
using MatMulFn = void (*)(const float*, const float*, float*, std::int64_t, std::int64_t,
                          std::int64_t, bool, bool);
void register_matmul_cpu_family(KernelRegistry& r, const std::string& label, MatMulFn fn);
void register_matmul_cpu_kernels(KernelRegistry& r);
void register_matmul_openblas_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
