// cuBLAS handles per GPU, pooled. See cublas_handle.h.
#include "kernels/common/cublas_handle.h"

#include <map>
#include <memory>
#include <vector>

#include "devices/cuda/cuda_check.h"

namespace scopeflow::kernels {

struct CublasCall::Pooled {
  cublasHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;  // bound by cublasSetStream
  bool bound = false;
  void* workspace = nullptr;  // bound by cublasSetWorkspace
  std::size_t workspace_bytes = 0;
};

namespace {

struct DevicePool {
  std::mutex mu;
  std::vector<std::unique_ptr<CublasCall::Pooled>> all;
  std::vector<CublasCall::Pooled*> idle;
};

// NOTE: never destroyed: the handles live until the process exits (destroying them from a
// static destructor could run after the CUDA runtime has shut down).
DevicePool& pool_for(int device) {
  static std::mutex registry_mu;
  static auto* pools = new std::map<int, std::unique_ptr<DevicePool>>();
  std::lock_guard<std::mutex> lock(registry_mu);
  auto& p = (*pools)[device];
  if (!p) p = std::make_unique<DevicePool>();
  return *p;
}

}  // namespace

CublasCall::CublasCall(int device, cudaStream_t stream, void* workspace,
                       std::size_t workspace_bytes)
    : device_(device) {
  DevicePool& pool = pool_for(device);
  {
    // An idle handle already bound to this stream, else any idle one (rebound below).
    std::lock_guard<std::mutex> lock(pool.mu);
    auto it = pool.idle.begin();
    for (; it != pool.idle.end(); ++it)
      if ((*it)->bound && (*it)->stream == stream) break;
    if (it == pool.idle.end() && !pool.idle.empty()) it = pool.idle.end() - 1;
    if (it != pool.idle.end()) {
      pooled_ = *it;
      pool.idle.erase(it);
    }
  }
  if (pooled_ == nullptr) {
    auto fresh = std::make_unique<Pooled>();
    SF_CUBLAS_CHECK(cublasCreate(&fresh->handle));
    // NOTE: FP32 GEMMs stay FP32, no TF32 tensor-core math: the default math mode, set
    // explicitly so that nobody's later change of the default leaks in. And no reduced-
    // precision reductions: by default cuBLAS may split k and keep each slice's partial sum in
    // the output type, so a float16 / bfloat16 GEMM rounds every partial sum to 16 bits before
    // adding them (the first H200 run: MatMul<float16> 64x10, k = 784 off by up to 3 float16
    // units in the last place; its values match, bit for bit, float partials of 8 or of 104 k
    // each rounded to float16 then summed). The flag makes those reductions use the compute
    // type (FP32), so 16-bit outputs are rounded once, as matmul.h promises (PyTorch sets the
    // same flag when its allow_fp16_reduced_precision_reduction is off).
    cublasStatus_t st = cublasSetMathMode(
        fresh->handle, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                                 CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    if (st != CUBLAS_STATUS_SUCCESS) cublasDestroy(fresh->handle);
    SF_CUBLAS_CHECK(st);
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.all.push_back(std::move(fresh));
    pooled_ = pool.all.back().get();
  }
  try {
    // NOTE: keyed on the raw cudaStream_t. A stream destroyed and a new one created at the same
    // address find the handle "already bound"; cuBLAS keeps the stream as that value, and the
    // workspace is always the caller's (set below), so nothing per-stream is left stale.
    if (!pooled_->bound || pooled_->stream != stream) {
      pooled_->bound = false;
      SF_CUBLAS_CHECK(cublasSetStream(pooled_->handle, stream));  // resets the workspace
      pooled_->stream = stream;
      pooled_->bound = true;
      pooled_->workspace = nullptr;
      pooled_->workspace_bytes = 0;
    }
    if (pooled_->workspace != workspace || pooled_->workspace_bytes != workspace_bytes) {
      pooled_->workspace_bytes = 0;
      SF_CUBLAS_CHECK(cublasSetWorkspace(pooled_->handle, workspace, workspace_bytes));
      pooled_->workspace = workspace;
      pooled_->workspace_bytes = workspace_bytes;
    }
  } catch (...) {
    release();
    throw;
  }
}

CublasCall::~CublasCall() { release(); }

cublasHandle_t CublasCall::get() const { return pooled_->handle; }

void CublasCall::release() noexcept {
  if (pooled_ == nullptr) return;
  DevicePool& pool = pool_for(device_);
  std::lock_guard<std::mutex> lock(pool.mu);
  pool.idle.push_back(pooled_);
  pooled_ = nullptr;
}

}  // namespace scopeflow::kernels
