// SF_NCCL_CHECK: a failed NCCL call becomes InternalError (UnavailableError for a
// remote/system failure) with "file:line: call: NCCL result: text".
#pragma once

#include <nccl.h>

#include "devices/cuda/cuda_check.h"

#define SF_NCCL_CHECK(call)                                                               \
  do {                                                                                    \
    const ncclResult_t sf_st_ = (call);                                                   \
    if (sf_st_ != ncclSuccess)                                                            \
      ::scopeflow::cuda::throw_library_error("NCCL", static_cast<int>(sf_st_),            \
                                             ncclGetErrorString(sf_st_), #call, __FILE__, \
                                             __LINE__, false);                            \
  } while (0)
