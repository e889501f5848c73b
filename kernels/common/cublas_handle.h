// One cuBLAS handle per physical GPU, created lazily and shared by every kernel on that GPU
// (CUDA builds only). A CublasCall holds the handle's lock for one call: the handle is bound
// to the caller's stream, to a workspace the caller owns, and to FP32 math (no TF32; split-k
// partial sums reduced in FP32, never in a 16-bit output type).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>

namespace scopeflow::kernels {

// cuBLAS's recommended workspace on Hopper.
inline constexpr std::size_t kCublasWorkspaceBytes = 32 << 20;

class CublasCall {
 public:
  // Locks the handle of `device` (a CUDA ordinal, which must be current) and binds it to
  // `stream` and to `workspace` (`workspace_bytes` of device memory that stays valid for the
  // work queued on `stream`; NOTE: a workspace shared by two streams could be overwritten by
  // one while the other's GEMM runs, so callers pass stream-ordered scratch). Throws
  // InternalError / ResourceExhaustedError when cuBLAS cannot start.
  CublasCall(int device, cudaStream_t stream, void* workspace, std::size_t workspace_bytes);
  CublasCall(const CublasCall&) = delete;
  CublasCall& operator=(const CublasCall&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  std::unique_lock<std::mutex> lock_;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace scopeflow::kernels
