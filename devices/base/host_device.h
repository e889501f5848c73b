// SF_HOST_DEVICE: marks inline math that both g++ and nvcc compile (STYLE.md 3.2).
#pragma once

#if defined(__CUDACC__)
#define SF_HOST_DEVICE __host__ __device__
#else
#define SF_HOST_DEVICE
#endif
