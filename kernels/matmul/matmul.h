// MatMul (float32; float16 and bfloat16 with float accumulation; transpose flags). CPU:
// matmul_cpu.cc (reference, double accumulation), matmul_openblas.cc; GPU: matmul_cublas.cc.
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
void register_matmul_onednn_kernels(KernelRegistry& r);  // builds with oneDNN

// The product's dimensions from a MatMul node's inputs 0 and 1 and its transpose_a /
// transpose_b attrs; throws InvalidArgumentError naming the node (every label checks here).
struct MatMulDims {
  std::int64_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
};
MatMulDims matmul_dims(const KernelContext& c);

// Device memory, queued on `stream` (its GPU current), through cuBLAS: the row-major product
// as the column-major c^T = op(b)^T op(a)^T. FP32 compute for every T (no TF32; float16 and
// bfloat16 accumulate in float and round once). k == 0 writes zeros. `workspace` holds
// kCublasWorkspaceBytes (common/cublas_handle.h) of stream-ordered device memory. Throws
// InvalidArgumentError when a dimension exceeds cuBLAS's int range. T: float, half, bfloat16_t.
template <class T>
void matmul_forward_cublas(const T* a, const T* b, T* c, const MatMulDims& d, void* workspace,
                           devices::Stream& stream);
void register_matmul_cublas_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
