// What this build of ScopeFlow is: version, CUDA on/off and architectures, libraries,
// compiler. Printed by the programs and written into their JSON reports.
#pragma once

#include <string>

namespace scopeflow {

struct BuildInfo {
  std::string version;
  bool cuda = false;
  std::string cuda_architectures;  // "90"
  std::string gpu_libraries;  // "CUDA runtime 13.0, ..., cuDNN 9.x, NCCL 2.x" or "CPU-only build"
  std::string compiler;       // "g++ 12.2.0"
  std::string build_type;     // "RelWithDebInfo"
};

BuildInfo build_info();
// One line: "ScopeFlow 0.1.0 (CUDA sm_90; CUDA runtime 13.0, ...; g++ 12.2.0, RelWithDebInfo)".
std::string build_info_string();

}  // namespace scopeflow
