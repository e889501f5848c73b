// sf::Error helpers. See errors.h.
#include "devices/base/errors.h"

namespace scopeflow {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kUnknown: return "Unknown";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kInternal: return "Internal";
    case Code::kUnavailable: return "Unavailable";
  }
  return "Unknown";
}

void throw_error(Code code, const std::string& message) {
  switch (code) {
    case Code::kInvalidArgument: throw InvalidArgumentError(message);
    case Code::kNotFound: throw NotFoundError(message);
    case Code::kFailedPrecondition: throw FailedPreconditionError(message);
    case Code::kResourceExhausted: throw ResourceExhaustedError(message);
    case Code::kInternal: throw InternalError(message);
    case Code::kUnavailable: throw UnavailableError(message);
    case Code::kUnknown: break;
  }
  throw Error(code, message);
}

}  // namespace scopeflow
