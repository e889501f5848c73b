// OpRegistry. See op_registry.h.
#include "runtime/op_registry.h"

#include "devices/base/errors.h"

namespace scopeflow {

void OpRegistry::add(OpDef def) {
  if (defs_.count(def.name)) throw InternalError(str_cat("Op ", def.name, " registered twice"));
  defs_.emplace(def.name, std::move(def));
}

void OpRegistry::set_grad(const std::string& op, GradFn grad) {
  auto it = defs_.find(op);
  if (it == defs_.end()) throw InternalError(str_cat("set_grad: op ", op, " is not registered"));
  it->second.grad = std::move(grad);
}

void OpRegistry::set_not_differentiable(const std::string& op) {
  auto it = defs_.find(op);
  if (it == defs_.end())
    throw InternalError(str_cat("set_not_differentiable: op ", op, " is not registered"));
  it->second.not_differentiable = true;
}

void OpRegistry::set_host_memory_inputs(const std::string& op, std::vector<int> inputs) {
  auto it = defs_.find(op);
  if (it == defs_.end())
    throw InternalError(str_cat("set_host_memory_inputs: op ", op, " is not registered"));
  it->second.host_memory_inputs = std::move(inputs);
}

bool OpDef::is_host_memory_input(std::size_t k, std::size_t num_inputs) const {
  for (int i : host_memory_inputs) {
    if (i == kHostMemoryFirstHalf) {
      if (k < num_inputs / 2) return true;
    } else if (i >= 0 ? static_cast<std::size_t>(i) == k : k + 1 == num_inputs) {
      return true;
    }
  }
  return false;
}

const OpDef* OpRegistry::find(const std::string& name) const {
  auto it = defs_.find(name);
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : defs_) out.push_back(k);
  return out;
}

const OpRegistry& op_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_core_ops(r);
    register_nn_ops(r);
    register_math_ops(r);
    register_collective_ops(r);
    register_gradients(r);
    return r;
  }();
  return registry;
}

}  // namespace scopeflow
