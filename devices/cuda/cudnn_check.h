// SF_CUDNN_CHECK: a failed cuDNN call becomes InternalError (ResourceExhaustedError for
// CUDNN_STATUS_ALLOC_FAILED) with "file:line: call: cuDNN status: text".
#pragma once

#include <cudnn.h>

#include "devices/cuda/cuda_check.h"

#define SF_CUDNN_CHECK(call)                                                                 \
  do {                                                                                       \
    const cudnnStatus_t sf_st_ = (call);                                                     \
    if (sf_st_ != CUDNN_STATUS_SUCCESS)                                                      \
      ::scopeflow::cuda::throw_library_error("cuDNN", static_cast<int>(sf_st_),              \
                                             cudnnGetErrorString(sf_st_), #call, __FILE__,   \
                                             __LINE__, sf_st_ == CUDNN_STATUS_ALLOC_FAILED); \
  } while (0)
