// spdlog-backed logging. See logging.h.
#include "devices/base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>

namespace scopeflow {
namespace {

std::shared_ptr<spdlog::logger> make_logger() {
  auto logger = spdlog::stderr_color_mt("scopeflow");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ scopeflow] %v");
  logger->set_level(spdlog::level::trace);  // filtering happens in log_enabled()
  return logger;
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    if (auto existing = spdlog::get("scopeflow")) return existing;
    return make_logger();
  }();
  return *instance;
}

LogLevel initial_level() {
  const char* env = std::getenv("SF_LOG_LEVEL");
  if (env == nullptr || *env == '\0') return LogLevel::kInfo;
  try {
    return parse_log_level(env);
  } catch (const ValueError& e) {
    logger().warn("{} (using info)", e.what());
    return LogLevel::kInfo;
  }
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{static_cast<int>(initial_level())};
  return level;
}

}  // namespace

LogLevel parse_log_level(const std::string& text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "trace") return LogLevel::kTrace;
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  if (lower == "critical" || lower == "fatal") return LogLevel::kCritical;
  if (lower == "off") return LogLevel::kOff;
  throw ValueError(str_cat("SF_LOG_LEVEL: unknown level '", text,
                           "', expected one of trace, debug, info, warn, error, critical, off"));
}

LogLevel log_level() { return static_cast<LogLevel>(level_storage().load()); }

void set_log_level(LogLevel level) { level_storage().store(static_cast<int>(level)); }

void log_message(LogLevel level, const std::string& message) {
  static const spdlog::level::level_enum kMap[] = {
      spdlog::level::trace, spdlog::level::debug,    spdlog::level::info, spdlog::level::warn,
      spdlog::level::err,   spdlog::level::critical, spdlog::level::off};
  logger().log(kMap[static_cast<int>(level)], "{}", message);
}

}  // namespace scopeflow
