// Logging through spdlog, kept out of this header so that nvcc-compiled files can log.
// Level from SF_LOG_LEVEL (trace, debug, info, warn, error, critical, off); default info.
#pragma once

#include <string>

#include "devices/base/errors.h"

namespace scopeflow {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// The current level (read from SF_LOG_LEVEL on first use).
LogLevel log_level();
void set_log_level(LogLevel level);
// Parses "trace".."off" (case-insensitive); throws ValueError naming the bad value.
LogLevel parse_log_level(const std::string& text);
void log_message(LogLevel level, const std::string& message);
inline bool log_enabled(LogLevel level) { return level >= log_level(); }

}  // namespace scopeflow

#define SF_LOG(level, ...)                                                                       \
  do {                                                                                           \
    if (::scopeflow::log_enabled(::scopeflow::LogLevel::level))                                  \
      ::scopeflow::log_message(::scopeflow::LogLevel::level, ::scopeflow::str_cat(__VA_ARGS__)); \
  } while (0)
#define SF_LOG_TRACE(...) SF_LOG(kTrace, __VA_ARGS__)
#define SF_LOG_DEBUG(...) SF_LOG(kDebug, __VA_ARGS__)
#define SF_LOG_INFO(...) SF_LOG(kInfo, __VA_ARGS__)
#define SF_LOG_WARN(...) SF_LOG(kWarn, __VA_ARGS__)
#define SF_LOG_ERROR(...) SF_LOG(kError, __VA_ARGS__)
