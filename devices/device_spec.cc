// DeviceSpec parsing, printing and merging, after TF's device_spec.py (1.15).
#include "devices/device_spec.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "devices/base/errors.h"

namespace scopeflow {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

int parse_index(std::string_view text, std::string_view spec) {
  bool ok = !text.empty() && text.size() <= 9;
  for (char c : text) ok = ok && c >= '0' && c <= '9';
  if (!ok) throw ValueError(str_cat("Invalid device index '", text, "' in '", spec, "'"));
  return std::stoi(std::string(text));
}

}  // namespace

DeviceSpec::DeviceSpec(std::optional<std::string> job, std::optional<int> replica,
                       std::optional<int> task, std::optional<std::string> device_type,
                       std::optional<int> device_index)
    : job_(std::move(job)),
      replica_(replica),
      task_(task),
      device_type_(std::move(device_type)),
      device_index_(device_index) {
  if (device_type_ && (upper(*device_type_) == "CPU" || upper(*device_type_) == "GPU"))
    device_type_ = upper(*device_type_);
}

DeviceSpec DeviceSpec::from_string(std::string_view spec) {
  DeviceSpec out;
  auto set_type = [&](std::string_view type) {
    if (out.device_type_) throw ValueError(str_cat("Cannot specify multiple device types: ", spec));
    std::string u = upper(type);
    // NOTE: TF >= 1.14 upper-cases exactly cpu/gpu and keeps any other type as written.
    out.device_type_ = (u == "CPU" || u == "GPU") ? u : std::string(type);
  };
  for (std::string_view piece : split(spec, '/')) {
    if (piece.empty()) continue;
    std::vector<std::string_view> y = split(piece, ':');
    const std::size_t ly = y.size();
    const std::string head_upper = upper(y[0]);
    if (ly == 2 && y[0] == "job") {
      out.job_ = std::string(y[1]);
    } else if (ly == 2 && y[0] == "replica") {
      out.replica_ = parse_index(y[1], spec);
    } else if (ly == 2 && y[0] == "task") {
      out.task_ = parse_index(y[1], spec);
    } else if ((ly == 1 || ly == 2) && (head_upper == "CPU" || head_upper == "GPU")) {
      set_type(y[0]);
      out.device_index_.reset();
      if (ly == 2 && y[1] != "*") out.device_index_ = parse_index(y[1], spec);
    } else if (ly == 3 && y[0] == "device") {
      if (y[1].empty()) throw ValueError(str_cat("Unknown attribute: 'device' in '", spec, "'"));
      set_type(y[1]);
      out.device_index_.reset();
      if (y[2] != "*") out.device_index_ = parse_index(y[2], spec);
    } else if (!y[0].empty()) {
      throw ValueError(str_cat("Unknown attribute: '", y[0], "' in '", spec, "'"));
    } else {
      throw ValueError(str_cat("Unknown attribute: '", piece, "' in '", spec, "'"));
    }
  }
  return out;
}

std::string DeviceSpec::to_string() const {
  std::string out;
  if (job_) out += "/job:" + *job_;
  if (replica_) out += "/replica:" + std::to_string(*replica_);
  if (task_) out += "/task:" + std::to_string(*task_);
  if (device_type_) {
    out += "/device:" + *device_type_ + ":";
    out += device_index_ ? std::to_string(*device_index_) : std::string("*");
  }
  return out;
}

void DeviceSpec::merge_from(const DeviceSpec& other) {
  if (other.job_) job_ = other.job_;
  if (other.replica_) replica_ = other.replica_;
  if (other.task_) task_ = other.task_;
  if (other.device_type_) device_type_ = other.device_type_;
  if (other.device_index_) device_index_ = other.device_index_;
}

DeviceSpec DeviceSpec::merged(const DeviceSpec& outer, const DeviceSpec& inner) {
  DeviceSpec out = outer;
  out.merge_from(inner);
  return out;
}

std::string merge_device(const DeviceSpec& outer, std::string_view current) {
  return DeviceSpec::merged(outer, DeviceSpec::from_string(current)).to_string();
}

std::string canonical_device(std::string_view spec) {
  return DeviceSpec::from_string(spec).to_string();
}

}  // namespace scopeflow
