// Completeness of this build's registries (STYLE.md 3.2): every op in the op registry has a
// shape function, a CPU reference kernel ("ref") unless the session runs it itself, and a
// gradient function unless it is marked not differentiable; every kernel belongs to an op; in
// CUDA builds every (op, dtype) with a CPU kernel has a GPU kernel too (issue 4), save the
// host-only exemptions listed below.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "devices/device_manager.h"
#include "kernels/kernel.h"
#include "runtime/op_registry.h"

namespace sf = scopeflow;
using sf::devices::DeviceType;

namespace {
// The ops the session runs itself, with no kernel (runtime/session/session.cc,
// is_runtime_op; the Apply* ops it also special-cases do have "ref" kernels).
const std::set<std::string> kSessionOps{
    "Const",     "Placeholder",           "NoOp",   "VariableV2", "Assign", "AssignAdd",
    "AssignSub", "IsVariableInitialized", "Switch", "RefSwitch",  "Merge",  "RefMerge"};

// (op, dtype) pairs with a CPU kernel and, by design, no GPU kernel. Each needs a reason.
// string: string tensors hold std::string objects, which live in host memory only (TF keeps
// DT_STRING in host memory on GPUs as well); the session places these nodes on the CPU.
const std::set<std::pair<std::string, sf::DType>> kHostOnlyKernels{
    {"Fill", sf::DType::kString},         {"Identity", sf::DType::kString},
    {"Reshape", sf::DType::kString},      {"Pack", sf::DType::kString},
    {"BooleanMask", sf::DType::kString},  {"GatherV2", sf::DType::kString},
    {"StopGradient", sf::DType::kString}, {"ExpandDims", sf::DType::kString},
    {"Squeeze", sf::DType::kString},      {"Select", sf::DType::kString},
    {"Transpose", sf::DType::kString},    {"_InitializedValueOr", sf::DType::kString},
    {"Tile", sf::DType::kString},         {"DynamicStitch", sf::DType::kString},
};

// "Op[dtype]" for every (op, dtype) of `r` with a CPU kernel, not exempt, and no GPU kernel.
std::vector<std::string> missing_gpu_kernels(
    const sf::kernels::KernelRegistry& r,
    const std::set<std::pair<std::string, sf::DType>>& exempt) {
  std::set<std::pair<std::string, sf::DType>> seen;
  std::vector<std::string> missing;
  for (const auto& [key, fn] : r.entries()) {
    if (key.device != DeviceType::kCPU || !seen.insert({key.op, key.dtype}).second) continue;
    if (exempt.count({key.op, key.dtype})) continue;
    if (!r.contains(key.op, DeviceType::kGPU, key.dtype))
      missing.push_back(key.op + "[" + std::string(sf::dtype_name(key.dtype)) + "]");
  }
  return missing;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

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

// The check itself, on a registry made up here, so that it is known to catch a CPU-only op
// in every build.
TEST(RegistryCompletenessTest, MissingGpuKernelCheckFindsCpuOnlyKernels) {
  sf::kernels::KernelRegistry r;
  auto nop = [](sf::kernels::KernelContext&) {};
  r.add({"Both", DeviceType::kCPU, sf::DType::kFloat32, "ref"}, nop);
  r.add({"Both", DeviceType::kGPU, sf::DType::kFloat32, "cuda"}, nop);
  r.add({"Both", DeviceType::kCPU, sf::DType::kInt32, "ref"}, nop);  // GPU lacks int32
  r.add({"CpuOnly", DeviceType::kCPU, sf::DType::kFloat32, "ref"}, nop);
  r.add({"CpuOnly", DeviceType::kCPU, sf::DType::kFloat32, "cpu"}, nop);  // listed once
  r.add({"Exempt", DeviceType::kCPU, sf::DType::kString, "ref"}, nop);
  EXPECT_EQ(missing_gpu_kernels(r, {{"Exempt", sf::DType::kString}}),
            (std::vector<std::string>{"Both[int32]", "CpuOnly[float32]"}));
}

TEST(RegistryCompletenessTest, EveryCpuKernelHasAGpuKernelInCudaBuilds) {
  if (!sf::devices::built_with_cuda())
    GTEST_SKIP() << "CPU-only build: no GPU kernels are registered";
  const auto missing = missing_gpu_kernels(sf::kernels::kernel_registry(), kHostOnlyKernels);
  EXPECT_TRUE(missing.empty()) << "CPU kernels without a GPU kernel (add a CUDA kernel, or an "
                                  "exemption with its reason to kHostOnlyKernels): "
                               << join(missing);
}

// An exemption must name a CPU kernel that exists and has no GPU kernel: stale entries go.
TEST(RegistryCompletenessTest, HostOnlyExemptionsAreCurrent) {
  const auto& r = sf::kernels::kernel_registry();
  for (const auto& [op, dtype] : kHostOnlyKernels) {
    EXPECT_TRUE(r.contains(op, DeviceType::kCPU, dtype))
        << op << "[" << sf::dtype_name(dtype) << "] is exempt but has no CPU kernel";
    EXPECT_FALSE(r.contains(op, DeviceType::kGPU, dtype))
        << op << "[" << sf::dtype_name(dtype) << "] is exempt but has a GPU kernel";
  }
}

// TF's HostMemory declarations: every declared input exists for the op (an index past its
// fixed arity would silently never match), and the lookup the executor uses answers by index,
// with -1 meaning the last input (ConcatV2's axis after any number of values) and
// kHostMemoryFirstHalf the first half (DynamicStitch's indices).
TEST(RegistryCompletenessTest, HostMemoryInputsNameRealInputs) {
  const auto& r = sf::op_registry();
  int declared = 0;
  for (const auto& name : r.names()) {
    const auto* def = r.find(name);
    for (int i : def->host_memory_inputs) {
      ++declared;
      EXPECT_GE(i, sf::OpDef::kHostMemoryFirstHalf) << name;
      if (def->max_inputs >= 0) {
        EXPECT_LT(i, def->max_inputs) << name << " input " << i;
      }
    }
  }
  EXPECT_GE(declared, 14);
  const auto* stitch = r.find("DynamicStitch");
  ASSERT_NE(stitch, nullptr);
  EXPECT_TRUE(stitch->is_host_memory_input(0, 4));
  EXPECT_TRUE(stitch->is_host_memory_input(1, 4));
  EXPECT_FALSE(stitch->is_host_memory_input(2, 4));
  EXPECT_FALSE(stitch->is_host_memory_input(3, 4));
  const auto* fill = r.find("Fill");
  ASSERT_NE(fill, nullptr);
  EXPECT_TRUE(fill->is_host_memory_input(0, 2));
  EXPECT_TRUE(fill->is_host_memory_input(1, 2));
  const auto* concat = r.find("ConcatV2");
  ASSERT_NE(concat, nullptr);
  EXPECT_TRUE(concat->is_host_memory_input(4, 5));
  EXPECT_FALSE(concat->is_host_memory_input(0, 5));
  EXPECT_FALSE(r.find("Conv2D")->is_host_memory_input(1, 2));
  EXPECT_TRUE(r.find("Conv2DBackpropFilter")->is_host_memory_input(1, 3));
  EXPECT_TRUE(r.find("ArgMax")->is_host_memory_input(1, 2));
  EXPECT_FALSE(r.find("ArgMax")->is_host_memory_input(0, 2));
}
