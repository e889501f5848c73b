// version(). See version.h.
#include "scope/version.h"

#include "runtime/build_info.h"

namespace scopeflow {

std::string version() { return build_info().version; }

}  // namespace scopeflow
