// See output_file.h.
#include "samples/common/output_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "devices/base/errors.h"

namespace scopeflow::samples {
namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const std::string& flag, const std::string& path, const std::string& why) {
  throw InvalidArgumentError(str_cat(flag, ": cannot write ", path, ": ", why));
}

// The folder a file at `path` goes into ("." for a bare file name).
fs::path folder_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

void check_writable_folder(const std::string& flag, const std::string& path, const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(flag, path, str_cat("folder ", dir.string(), " does not exist"));
  if (!fs::is_directory(dir, ec)) fail(flag, path, str_cat(dir.string(), " is not a folder"));
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    fail(flag, path, str_cat("folder ", dir.string(), ": ", std::strerror(errno)));
}
}  // namespace

void check_output_file(const std::string& flag, const std::string& path) {
  if (path.empty()) fail(flag, "\"\"", "empty path");
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(flag, path, "it is a folder");
  check_writable_folder(flag, path, folder_of(path));
}

void check_output_dir(const std::string& flag, const std::string& dir) {
  if (dir.empty()) fail(flag, "\"\"", "empty path");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) fail(flag, dir, "not a folder");
  fs::create_directories(dir, ec);
  if (ec) fail(flag, dir, ec.message());
  check_writable_folder(flag, dir, fs::path(dir));
}

void write_file_atomically(const std::string& flag, const std::string& path,
                           const std::string& text) {
  check_output_file(flag, path);
  const std::string tmp = str_cat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(flag, path, str_cat("cannot create ", tmp, ": ", std::strerror(errno)));
    out << text;
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      fail(flag, path, str_cat("writing ", tmp, " failed"));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fail(flag, path, ec.message());
  }
}

}  // namespace scopeflow::samples
