// OpRegistry. See op_registry.h.
#include "runtime/op_registry.h"

#include "devices/base/errors.h"

namespace scopeflow {

void OpRegistry::add(OpDef def) {
  if (defs_.count(def.name)) throw InternalError(str_cat("Op ", def.name, " registered twice"));
  defs_.emplace(def.name, std::move(def));
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
    return r;
  }();
  return registry;
}

}  // namespace scopeflow
