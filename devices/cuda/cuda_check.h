// Checked CUDA calls: SF_CUDA_CHECK, SF_CUBLAS_CHECK, SF_CURAND_CHECK (cudnn_check.h and
// nccl_check.h hold the cuDNN and NCCL ones). Out-of-memory becomes ResourceExhaustedError;
// any other failure InternalError with "file:line: call: error name: error string".
#pragma once

#include <cuda_runtime_api.h>

#include "devices/base/errors.h"

namespace scopeflow::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_library_error(const char* library, int status, const char* status_text,
                                      const char* call, const char* file, int line,
                                      bool out_of_memory);
const char* cublas_status_name(int status);
const char* curand_status_name(int status);

// Sets the current CUDA device for the scope and restores the previous one on exit.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace scopeflow::cuda

#define SF_CUDA_CHECK(call)                                                    \
  do {                                                                         \
    const cudaError_t sf_err_ = (call);                                        \
    if (sf_err_ != cudaSuccess)                                                \
      ::scopeflow::cuda::throw_cuda_error(sf_err_, #call, __FILE__, __LINE__); \
  } while (0)

// cuBLAS: 0 is CUBLAS_STATUS_SUCCESS, 3 CUBLAS_STATUS_ALLOC_FAILED.
#define SF_CUBLAS_CHECK(call)                                                                      \
  do {                                                                                             \
    const int sf_st_ = static_cast<int>(call);                                                     \
    if (sf_st_ != 0)                                                                               \
      ::scopeflow::cuda::throw_library_error("cuBLAS", sf_st_,                                     \
                                             ::scopeflow::cuda::cublas_status_name(sf_st_), #call, \
                                             __FILE__, __LINE__, sf_st_ == 3);                     \
  } while (0)

// cuRAND: 0 is CURAND_STATUS_SUCCESS, 102 CURAND_STATUS_ALLOCATION_FAILED.
#define SF_CURAND_CHECK(call)                                                                      \
  do {                                                                                             \
    const int sf_st_ = static_cast<int>(call);                                                     \
    if (sf_st_ != 0)                                                                               \
      ::scopeflow::cuda::throw_library_error("cuRAND", sf_st_,                                     \
                                             ::scopeflow::cuda::curand_status_name(sf_st_), #call, \
                                             __FILE__, __LINE__, sf_st_ == 102);                   \
  } while (0)
