// The sf::Error hierarchy shared by every layer (DESIGN.md "Errors"), and sf::str_cat.
// Graph-construction mistakes throw ValueError; runtime failures throw an Error
// subclass carrying a Code. Nothing a user can trigger aborts the process.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace scopeflow {

// Concatenates its arguments with operator<< (TF's StrCat). No <format> in g++ 12.
template <class... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

enum class Code {
  kUnknown,
  kInvalidArgument,
  kNotFound,
  kFailedPrecondition,
  kResourceExhausted,
  kInternal,
  kUnavailable,
};

// "InvalidArgument", "NotFound", ... (TF's error_codes names).
std::string_view code_name(Code code);

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const noexcept { return code_; }

 private:
  Code code_;
};

// Misuse while building a graph (scopes, variables, device strings): TF's ValueError.
class ValueError : public Error {
 public:
  explicit ValueError(const std::string& message) : Error(Code::kInvalidArgument, message) {}
};

// A value of the wrong kind where the type system cannot say so (TF's TypeError).
class TypeError : public Error {
 public:
  explicit TypeError(const std::string& message) : Error(Code::kInvalidArgument, message) {}
};

#define SF_DEFINE_ERROR(Name, CodeValue)                                     \
  class Name : public Error {                                                \
   public:                                                                   \
    explicit Name(const std::string& message) : Error(CodeValue, message) {} \
  }
SF_DEFINE_ERROR(InvalidArgumentError, Code::kInvalidArgument);
SF_DEFINE_ERROR(NotFoundError, Code::kNotFound);
SF_DEFINE_ERROR(FailedPreconditionError, Code::kFailedPrecondition);
SF_DEFINE_ERROR(ResourceExhaustedError, Code::kResourceExhausted);
SF_DEFINE_ERROR(InternalError, Code::kInternal);
SF_DEFINE_ERROR(UnavailableError, Code::kUnavailable);
#undef SF_DEFINE_ERROR

// Throws the Error subclass that matches `code`.
[[noreturn]] void throw_error(Code code, const std::string& message);

}  // namespace scopeflow

namespace sf = scopeflow;

// Internal invariants that shape inference or the caller guarantees. Violations are
// bugs in ScopeFlow, reported as InternalError (never abort).
#define SF_CHECK(cond, ...)                                                       \
  do {                                                                            \
    if (!(cond))                                                                  \
      throw ::scopeflow::InternalError(::scopeflow::str_cat(                      \
          __FILE__, ":", __LINE__, ": check failed: " #cond " ", ##__VA_ARGS__)); \
  } while (0)
