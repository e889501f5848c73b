// The library version as a string ("0.1.0"), for programs that link scopeflow::scopeflow.
#pragma once

#include <string>

namespace scopeflow {

std::string version();

}  // namespace scopeflow
