// name_scope, device, control_dependencies. See scopes.h.
#include "scope/scopes.h"

#include "devices/base/errors.h"

namespace scopeflow {

name_scope::name_scope(std::string_view name, std::string_view default_name)
    : graph_(get_default_graph()), old_(graph_.name_stack()) {
  std::string n(name.empty() ? default_name : name);
  if (!n.empty()) {
    const bool ok = old_.empty() ? is_valid_op_name(n) : is_valid_scope_name(n);
    if (!ok) throw ValueError(str_cat("'", n, "' is not a valid scope name"));
  }
  std::string stack;
  if (n.empty()) {
    stack = "";
  } else if (n.back() == '/') {
    stack = n.substr(0, n.size() - 1);
  } else {
    stack = graph_.unique_name(n);
  }
  graph_.set_name_stack(stack);
  name_ = stack.empty() ? "" : stack + "/";
}

name_scope::~name_scope() { graph_.set_name_stack(old_); }

std::string get_name_scope() { return get_default_graph().name_stack(); }

device::device(std::string_view spec) : graph_(get_default_graph()) {
  DeviceScopeEntry e;
  e.kind = DeviceScopeEntry::Kind::kSpec;
  e.spec = DeviceSpec::from_string(spec);  // throws before anything is pushed
  graph_.device_stack().push_back(std::move(e));
  depth_ = graph_.device_stack().size();
}

device::device(DeviceFunction fn) : graph_(get_default_graph()) {
  DeviceScopeEntry e;
  e.kind = fn ? DeviceScopeEntry::Kind::kFunction : DeviceScopeEntry::Kind::kCut;
  e.fn = std::move(fn);
  graph_.device_stack().push_back(std::move(e));
  depth_ = graph_.device_stack().size();
}

device::device(std::nullptr_t) : graph_(get_default_graph()) {
  DeviceScopeEntry e;
  e.kind = DeviceScopeEntry::Kind::kCut;
  graph_.device_stack().push_back(std::move(e));
  depth_ = graph_.device_stack().size();
}

device::~device() {
  auto& s = graph_.device_stack();
  if (s.size() >= depth_) s.resize(depth_ - 1);
}

colocate_with::colocate_with(std::string op_name) : graph_(get_default_graph()) {
  graph_.colocation_stack().push_back(std::move(op_name));
  depth_ = graph_.colocation_stack().size();
}

colocate_with::~colocate_with() {
  auto& s = graph_.colocation_stack();
  if (s.size() >= depth_) s.resize(depth_ - 1);
}

control_dependencies::control_dependencies(std::initializer_list<ControlInput> inputs)
    : graph_(get_default_graph()) {
  Graph::ControlFrame f;
  for (const auto& in : inputs) {
    if (!in.op.valid()) throw ValueError("control_dependencies: an input is empty");
    f.controls.push_back(in.op);
  }
  graph_.control_frames().push_back(std::move(f));
  depth_ = graph_.control_frames().size();
}

control_dependencies::control_dependencies(const std::vector<Operation>& inputs)
    : graph_(get_default_graph()) {
  Graph::ControlFrame f;
  for (const auto& op : inputs) {
    if (!op.valid()) throw ValueError("control_dependencies: an input is empty");
    f.controls.push_back(op);
  }
  graph_.control_frames().push_back(std::move(f));
  depth_ = graph_.control_frames().size();
}

control_dependencies::control_dependencies(std::nullptr_t) : graph_(get_default_graph()) {
  Graph::ControlFrame f;
  f.reset = true;
  f.saved_context = graph_.control_flow_context();  // TF: it also leaves a cond's branch
  graph_.set_control_flow_context(nullptr);
  graph_.control_frames().push_back(std::move(f));
  depth_ = graph_.control_frames().size();
}

control_dependencies::~control_dependencies() {
  auto& s = graph_.control_frames();
  if (s.size() < depth_) return;
  const bool reset = s[depth_ - 1].reset;
  CondContext* saved = s[depth_ - 1].saved_context;
  s.resize(depth_ - 1);
  if (reset) graph_.set_control_flow_context(saved);
}

}  // namespace scopeflow
