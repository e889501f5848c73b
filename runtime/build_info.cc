// build_info(). See build_info.h.
#include "runtime/build_info.h"

#include "devices/base/config.h"
#include "devices/base/errors.h"
#include "devices/device_manager.h"

#ifndef SF_BUILD_TYPE
#define SF_BUILD_TYPE "unknown"
#endif

namespace scopeflow {

BuildInfo build_info() {
  BuildInfo b;
  b.version = SF_VERSION;
  b.cuda = devices::built_with_cuda();
  b.cuda_architectures = SF_CUDA_ARCHITECTURES;
  b.gpu_libraries = devices::gpu_library_versions();
#if defined(__clang__)
  b.compiler =
      str_cat("clang++ ", __clang_major__, ".", __clang_minor__, ".", __clang_patchlevel__);
#elif defined(__GNUC__)
  b.compiler = str_cat("g++ ", __GNUC__, ".", __GNUC_MINOR__, ".", __GNUC_PATCHLEVEL__);
#else
  b.compiler = "unknown compiler";
#endif
  b.build_type = SF_BUILD_TYPE;
  return b;
}

std::string build_info_string() {
  const BuildInfo b = build_info();
  return str_cat(
      "ScopeFlow ", b.version, " (",
      b.cuda ? str_cat("CUDA sm_", b.cuda_architectures, "; ") : std::string("CPU-only; "),
      b.gpu_libraries, "; ", b.compiler, ", ", b.build_type, ")");
}

}  // namespace scopeflow
