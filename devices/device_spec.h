// sf::DeviceSpec: "/job:ps/replica:0/task:1/device:GPU:0" parsed into fields, printed in
// TF's canonical form, and merged field by field (CONFORMANCE.md section 3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scopeflow {

class DeviceSpec {
 public:
  DeviceSpec() = default;
  DeviceSpec(std::optional<std::string> job, std::optional<int> replica, std::optional<int> task,
             std::optional<std::string> device_type, std::optional<int> device_index = {});

  // Parses "/gpu:0", "gpu:1", "/device:GPU:*", "/job:ps/task:0/cpu:0", "" ...
  // Throws ValueError: "Cannot specify multiple device types: S",
  // "Unknown attribute: 'A' in 'S'", "Invalid device index 'X' in 'S'".
  static DeviceSpec from_string(std::string_view spec);

  // "/job:J/replica:R/task:T/device:TYPE:IDX", absent fields left out, "*" for an unset
  // index when the type is set; "" for an empty spec.
  std::string to_string() const;

  // Fields set in `other` replace this spec's (TF's merge_from).
  void merge_from(const DeviceSpec& other);
  // A copy of `outer` with the fields of `inner` laid over it.
  static DeviceSpec merged(const DeviceSpec& outer, const DeviceSpec& inner);

  const std::optional<std::string>& job() const { return job_; }
  const std::optional<int>& replica() const { return replica_; }
  const std::optional<int>& task() const { return task_; }
  const std::optional<std::string>& device_type() const { return device_type_; }
  const std::optional<int>& device_index() const { return device_index_; }
  bool empty() const { return !job_ && !replica_ && !task_ && !device_type_ && !device_index_; }

  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;

 private:
  std::optional<std::string> job_;
  std::optional<int> replica_;
  std::optional<int> task_;
  std::optional<std::string> device_type_;
  std::optional<int> device_index_;
};

// How a device scope's string combines with the device an op already has (TF's
// merge_device): `current` (the op's request so far, set by inner scopes) takes
// precedence; `outer` only fills the fields it leaves unset. Returns canonical text.
std::string merge_device(const DeviceSpec& outer, std::string_view current);

// Canonical form of a device string ("/gpu:0" -> "/device:GPU:0"). Throws like from_string.
std::string canonical_device(std::string_view spec);

}  // namespace scopeflow
