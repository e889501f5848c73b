// The sf::Error hierarchy shared by every layer (DESIGN.md "Errors"), and sf::str_cat.
// Graph-construction mistakes throw ValueError; runtime failures throw an Error
// subclass carrying a Code. Nothing a user can trigger aborts the process.
#pragma once

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace scopeflow {

namespace detail {
// Appends one piece: strings and characters directly, integers through to_chars, anything
// else through operator<< (which is slow: it builds a stream).
template <class T>
void append_piece(std::string& out, const T& v) {
  using U = std::decay_t<T>;
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(v));
  } else if constexpr (std::is_same_v<U, char>) {
    out.push_back(v);
  } else if constexpr (std::is_integral_v<U> && !std::is_same_v<U, bool>) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, r.ptr);
  } else {
    std::ostringstream os;
    os << v;
    out.append(os.str());
  }
}
}  // namespace detail

// Concatenates its arguments (TF's StrCat). No <format> in g++ 12.
template <class... Args>
std::string str_cat(const Args&... args) {
  std::string out;
  (detail::append_piece(out, args), ...);
  return out;
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

// TF's InaccessibleTensorError (a ValueError): fetching an op TF marked not fetchable (the
// inside of a tf.cond branch).
class InaccessibleTensorError : public ValueError {
 public:
  explicit InaccessibleTensorError(const std::string& message) : ValueError(message) {}
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
