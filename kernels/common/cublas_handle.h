// cuBLAS handles per physical GPU, pooled (CUDA builds only). A CublasCall takes an idle handle
// for one call -- one already bound to the caller's stream when there is one -- so kernels of
// several logical GPUs (one card, one stream each) call cuBLAS side by side, each handle bound
// once to its stream and rebound to a workspace only when the caller's scratch moves. Handles
// use FP32 math (no TF32; split-k partial sums reduced in FP32, never in a 16-bit output type).
// NOTE: a handle is created only when none is idle; a run's first GEMMs create them, so a
// CUDA-graph capture later finds idle ones.
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
  // Takes an idle handle of `device` (a CUDA ordinal, which must be current) and binds it to
  // `stream` and to `workspace` (`workspace_bytes` of device memory that stays valid for the
  // work queued on `stream`; NOTE: a workspace shared by two streams could be overwritten by
  // one while the other's GEMM runs, so callers pass stream-ordered scratch). Throws
  // InternalError / ResourceExhaustedError when cuBLAS cannot start.
  CublasCall(int device, cudaStream_t stream, void* workspace, std::size_t workspace_bytes);
  CublasCall(const CublasCall&) = delete;
  CublasCall& operator=(const CublasCall&) = delete;
  ~CublasCall();  // the handle goes back to the pool
  cublasHandle_t get() const;

  struct Pooled;  // a handle and what it is bound to

 private:
  void release() noexcept;
  int device_ = 0;
  Pooled* pooled_ = nullptr;
};

}  // namespace scopeflow::kernels
