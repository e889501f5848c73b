// Completeness of this build's registries (STYLE.md 3.2): every op in the op registry has a
// shape function, a CPU reference kernel ("ref") unless the session runs it itself, and a
// gradient function unless it is marked not differentiable; every kernel belongs to an op.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "kernels/kernel.h"
#include "runtime/op_registry.h"

namespace sf = scopeflow;
using sf::devices::DeviceType;

namespace {
// The ops the session runs itself, with no kernel (runtime/session/session.cc,
// is_runtime_op; the Apply* ops it also special-cases do have "ref" kernels).
const std::set<std::string> kSessionOps{
    "Const",  "Placeholder", "NoOp",      "VariableV2",
    "Assign", "AssignAdd",   "AssignSub", "IsVariableInitialized"};

bool has_cpu_ref_kernel(const std::string& op) {
  for (const auto& [key, fn] : sf::kernels::kernel_registry().entries())
    if (key.op == op && key.device == DeviceType::kCPU && key.label == "ref") return true;
  return false;
}
}  // namespace

TEST(RegistryCompletenessTest, EveryOpHasAShapeFunction) {
  const auto names = sf::op_registry().names();
  ASSERT_FALSE(names.empty());
  for (const auto& name : names)
    EXPECT_TRUE(static_cast<bool>(sf::op_registry().find(name)->shape))
        << name << " has no shape function";
}

TEST(RegistryCompletenessTest, EveryOpHasACpuReferenceKernel) {
  for (const auto& name : sf::op_registry().names()) {
    if (kSessionOps.count(name)) continue;
    EXPECT_TRUE(has_cpu_ref_kernel(name)) << name << " has no CPU \"ref\" kernel";
  }
  for (const auto& op : kSessionOps)
    EXPECT_NE(sf::op_registry().find(op), nullptr) << op << " is not an op any more";
}

TEST(RegistryCompletenessTest, EveryOpIsDifferentiableOrMarkedNot) {
  for (const auto& name : sf::op_registry().names()) {
    const sf::OpDef* def = sf::op_registry().find(name);
    EXPECT_TRUE(def->grad || def->not_differentiable)
        << name << " has no gradient function and is not marked not differentiable";
    EXPECT_FALSE(def->grad && def->not_differentiable)
        << name << " has a gradient function but is marked not differentiable";
  }
}

TEST(RegistryCompletenessTest, EveryKernelBelongsToAnOp) {
  for (const auto& [key, fn] : sf::kernels::kernel_registry().entries())
    EXPECT_NE(sf::op_registry().find(key.op), nullptr)
        << to_string(key) << " is registered for an op the op registry does not know";
}
