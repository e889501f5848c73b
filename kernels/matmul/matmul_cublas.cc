// MatMul on GPUs through cuBLAS (label "cublas"). Reference: matmul_cpu.cc. Row-major
// c = op(a) op(b) is computed as the column-major c^T = op(b)^T op(a)^T, which is the same
// memory: swap the operands, keep the flags.
#include <climits>

#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "kernels/common/cublas_handle.h"
#include "kernels/common/cuda_stream.h"
#include "kernels/common/gpu_args.h"
#include "kernels/matmul/matmul.h"

namespace scopeflow::kernels {
namespace {

template <class T>
constexpr cudaDataType_t cuda_data_type() {
  if constexpr (std::is_same_v<T, half>)
    return CUDA_R_16F;
  else if constexpr (std::is_same_v<T, bfloat16_t>)
    return CUDA_R_16BF;
  else
    return CUDA_R_32F;
}

int checked_int(std::int64_t v, const char* what) {
  if (v > INT_MAX)
    throw InvalidArgumentError(
        str_cat("MatMul: ", what, " = ", v, " exceeds cuBLAS's limit ", INT_MAX));
  return static_cast<int>(v);
}

}  // namespace

template <class T>
void matmul_forward_cublas(const T* a, const T* b, T* c, const MatMulDims& d, void* workspace,
                           devices::Stream& stream) {
  if (d.m == 0 || d.n == 0) return;
  const cudaStream_t s = cuda_stream(stream, "MatMul (cuBLAS)");
  if (d.k == 0) {  // an empty sum: zeros (cuBLAS may leave c alone when k == 0)
    SF_CUDA_CHECK(cudaMemsetAsync(c, 0, static_cast<std::size_t>(d.m * d.n) * sizeof(T), s));
    return;
  }
  const int m = checked_int(d.m, "m"), n = checked_int(d.n, "n"), k = checked_int(d.k, "k");
  // Leading dimensions of the row-major operands (the column-major view's rows).
  const int lda = d.transpose_a ? m : k;
  const int ldb = d.transpose_b ? k : n;
  const cublasOperation_t op_a = d.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = d.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  int device = 0;
  SF_CUDA_CHECK(cudaGetDevice(&device));
  CublasCall call(device, s, workspace, workspace ? kCublasWorkspaceBytes : 0);
  const float alpha = 1.0f, beta = 0.0f;
  constexpr cudaDataType_t type = cuda_data_type<T>();
  // NOTE: CUBLAS_COMPUTE_32F (not _FAST_TF32 / _FAST_16F): FP32 products and sums.
  SF_CUBLAS_CHECK(cublasGemmEx(call.get(), op_b, op_a, n, m, k, &alpha, b, type, ldb, a, type, lda,
                               &beta, c, type, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

template void matmul_forward_cublas<float>(const float*, const float*, float*, const MatMulDims&,
                                           void*, devices::Stream&);
template void matmul_forward_cublas<half>(const half*, const half*, half*, const MatMulDims&, void*,
                                          devices::Stream&);
template void matmul_forward_cublas<bfloat16_t>(const bfloat16_t*, const bfloat16_t*, bfloat16_t*,
                                                const MatMulDims&, void*, devices::Stream&);

// ---------------------------------------------------------------- registration
namespace {
template <class T>
void matmul_gpu_kernel(KernelContext& c) {
  const Tensor& a = gpu_input(c, 0);
  const Tensor& b = gpu_input(c, 1);
  if (a.dtype() != dtype_of<T> || b.dtype() != dtype_of<T>)
    throw InvalidArgumentError(str_cat(c.node_name, ": MatMul inputs must be ",
                                       dtype_name(dtype_of<T>), ", got ", dtype_name(a.dtype()),
                                       " and ", dtype_name(b.dtype())));
  const MatMulDims d = matmul_dims(c);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, dtype_of<T>, Shape{d.m, d.n});
  Tensor workspace;
  if (d.m > 0 && d.n > 0 && d.k > 0)
    workspace =
        gpu_scratch(c, DType::kUInt8, Shape{static_cast<std::int64_t>(kCublasWorkspaceBytes)});
  matmul_forward_cublas<T>(a.data<T>(), b.data<T>(), out.data<T>(), d,
                           workspace.initialized() ? workspace.raw_data() : nullptr,
                           c.get_stream());
}
}  // namespace

void register_matmul_cublas_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"MatMul", DeviceType::kGPU, DType::kFloat32, "cublas"}, matmul_gpu_kernel<float>);
  r.add({"MatMul", DeviceType::kGPU, DType::kFloat16, "cublas"}, matmul_gpu_kernel<half>);
  r.add({"MatMul", DeviceType::kGPU, DType::kBFloat16, "cublas"}, matmul_gpu_kernel<bfloat16_t>);
}

}  // namespace scopeflow::kernels
