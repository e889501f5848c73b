// cuBLAS handles per GPU. See cublas_handle.h.
#include "kernels/common/cublas_handle.h"

#include <map>
#include <memory>

#include "devices/cuda/cuda_check.h"

namespace scopeflow::kernels {
namespace {

struct HandleEntry {
  std::mutex mu;
  cublasHandle_t handle = nullptr;
};

// NOTE: never destroyed: the handles live until the process exits (destroying them from a
// static destructor could run after the CUDA runtime has shut down).
HandleEntry& entry_for(int device) {
  static std::mutex registry_mu;
  static auto* entries = new std::map<int, std::unique_ptr<HandleEntry>>();
  std::lock_guard<std::mutex> lock(registry_mu);
  auto& e = (*entries)[device];
  if (!e) e = std::make_unique<HandleEntry>();
  return *e;
}

}  // namespace

CublasCall::CublasCall(int device, cudaStream_t stream, void* workspace,
                       std::size_t workspace_bytes) {
  HandleEntry& e = entry_for(device);
  lock_ = std::unique_lock<std::mutex>(e.mu);
  if (e.handle == nullptr) {
    SF_CUBLAS_CHECK(cublasCreate(&e.handle));
    // NOTE: FP32 GEMMs stay FP32, no TF32 tensor-core math: the default math mode, set
    // explicitly so that nobody's later change of the default leaks in. And no reduced-
    // precision reductions: by default cuBLAS may split k and keep each slice's partial sum in
    // the output type, so a float16 / bfloat16 GEMM rounds every partial sum to 16 bits before
    // adding them (the first H200 run: MatMul<float16> 64x10, k = 784 off by up to 3 float16
    // units in the last place; its values match, bit for bit, float partials of 8 or of 104 k
    // each rounded to float16 then summed). The flag makes those reductions use the compute
    // type (FP32), so 16-bit outputs are rounded once, as matmul.h promises (PyTorch sets the
    // same flag when its allow_fp16_reduced_precision_reduction is off).
    SF_CUBLAS_CHECK(cublasSetMathMode(
        e.handle, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                            CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  }
  handle_ = e.handle;
  SF_CUBLAS_CHECK(cublasSetStream(handle_, stream));  // resets the workspace: set it after
  SF_CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace, workspace_bytes));
}

}  // namespace scopeflow::kernels
