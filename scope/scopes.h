// RAII scope guards on the default graph: name_scope, device, colocate_with,
// control_dependencies. Each
// restores the graph's state when it ends, on every exit path.
#pragma once

#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/graph.h"

namespace scopeflow {

// TF's name_scope: `name_scope ns("ns")` opens "ns/" (uniquified: "ns_1/", ...);
// a name ending in '/' re-enters that absolute scope; "" returns to the root.
// ValueError "'<name>' is not a valid scope name" for an invalid name.
class [[nodiscard]] name_scope {
 public:
  [[nodiscard]] explicit name_scope(std::string_view name, std::string_view default_name = "");
  ~name_scope();
  name_scope(const name_scope&) = delete;
  name_scope& operator=(const name_scope&) = delete;
  // "ns/" ("" at the root).
  const std::string& name() const { return name_; }

 private:
  Graph graph_;
  std::string old_;
  std::string name_;
};

// TF's device scope: a device string (parsed now; ValueError if malformed), a device
// function, nullptr (clears all outer device scopes) or "" (changes nothing).
class [[nodiscard]] device {
 public:
  [[nodiscard]] explicit device(std::string_view spec);
  [[nodiscard]] explicit device(const char* spec) : device(std::string_view(spec)) {}
  [[nodiscard]] explicit device(const std::string& spec) : device(std::string_view(spec)) {}
  [[nodiscard]] explicit device(DeviceFunction fn);
  [[nodiscard]] explicit device(std::nullptr_t);
  ~device();
  device(const device&) = delete;
  device& operator=(const device&) = delete;

 private:
  Graph graph_;
  std::size_t depth_ = 0;
};

// TF's ops.colocate_with(op), its colocation part: ops created while this lives are placed with
// the op named `op_name` ("loc:@<op>"). NOTE: the enclosing device scopes still apply (TF clears
// them); a caller that wants the op's own device adds device(nullptr) and device(its device).
class [[nodiscard]] colocate_with {
 public:
  [[nodiscard]] explicit colocate_with(std::string op_name);
  ~colocate_with();
  colocate_with(const colocate_with&) = delete;
  colocate_with& operator=(const colocate_with&) = delete;

 private:
  Graph graph_;
  std::size_t depth_ = 0;
};

// Anything that names an op: an Operation, an Output, a Variable.
struct ControlInput {
  Operation op;
  ControlInput(const Operation& o) : op(o) {}  // NOLINT(google-explicit-constructor)
  template <class T>
  requires requires(const T& t) {
    { t.op() } -> std::convertible_to<Operation>;
  }
  ControlInput(const T& t) : op(t.op()) {}  // NOLINT(google-explicit-constructor)
};

// TF's control_dependencies: ops created in the block run after `inputs`.
// control_dependencies(nullptr) clears the outer blocks' dependencies and, as TF's, leaves the
// tf.cond branch being built until it ends (what TF's init_scope does for variables).
class [[nodiscard]] control_dependencies {
 public:
  [[nodiscard]] explicit control_dependencies(std::initializer_list<ControlInput> inputs);
  [[nodiscard]] explicit control_dependencies(const std::vector<Operation>& inputs);
  [[nodiscard]] explicit control_dependencies(std::nullptr_t);
  ~control_dependencies();
  control_dependencies(const control_dependencies&) = delete;
  control_dependencies& operator=(const control_dependencies&) = delete;

 private:
  Graph graph_;
  std::size_t depth_ = 0;
};

// The current name scope without a trailing '/' (TF's get_name_scope()).
std::string get_name_scope();

}  // namespace scopeflow
