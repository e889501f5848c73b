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
    // explicitly so that nobody's later change of the default leaks in.
    SF_CUBLAS_CHECK(cublasSetMathMode(e.handle, CUBLAS_DEFAULT_MATH));
  }
  handle_ = e.handle;
  SF_CUBLAS_CHECK(cublasSetStream(handle_, stream));  // resets the workspace: set it after
  SF_CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace, workspace_bytes));
}

}  // namespace scopeflow::kernels
