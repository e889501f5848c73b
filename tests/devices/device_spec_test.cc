// DeviceSpec: every parse (P*), error (E*) and merge (M*) case of CONFORMANCE.md section 3.
// The merge cases run through a device-scope stack walked as TF's _apply_device_functions
// does; the graph's own stack (sf::device) is tested again in the scope tests.
#include "devices/device_spec.h"

#include <gtest/gtest.h>

#include <functional>
#include <variant>
#include <vector>

#include "devices/base/errors.h"

namespace sf = scopeflow;

namespace {

std::string canon(const std::string& s) { return sf::DeviceSpec::from_string(s).to_string(); }

std::string error_of(const std::string& s) {
  try {
    sf::DeviceSpec::from_string(s);
  } catch (const sf::ValueError& e) {
    return e.what();
  }
  return "no error";
}

// A device-scope stack entry: a string scope (parsed on entry), a device function, or a
// cut (device(nullptr)). An empty string scope is pushed as a spec that changes nothing.
struct Cut {};
using Fn = std::function<std::string(const std::string&)>;
using Entry = std::variant<sf::DeviceSpec, Fn, Cut>;

// Newest entry first; each string fills only fields the inner ones left unset; a function's
// result is taken raw; a cut stops the walk.
std::string apply(const std::vector<Entry>& stack) {
  std::string device;
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    if (std::holds_alternative<Cut>(*it)) break;
    if (auto* fn = std::get_if<Fn>(&*it)) {
      device = (*fn)(device);
    } else {
      device = sf::merge_device(std::get<sf::DeviceSpec>(*it), device);
    }
  }
  return device;
}

sf::DeviceSpec s(const std::string& text) { return sf::DeviceSpec::from_string(text); }

}  // namespace

TEST(DeviceSpecTest, P1_ShortGpu) { EXPECT_EQ(canon("/gpu:0"), "/device:GPU:0"); }

TEST(DeviceSpecTest, P2_UpperCaseAndNoSlash) {
  EXPECT_EQ(canon("/GPU:1"), "/device:GPU:1");
  EXPECT_EQ(canon("gpu:1"), "/device:GPU:1");
}

TEST(DeviceSpecTest, P3_TypeWithoutIndexPrintsStar) {
  EXPECT_EQ(canon("/cpu"), "/device:CPU:*");
  EXPECT_FALSE(s("/cpu").device_index().has_value());
}

TEST(DeviceSpecTest, P4_StarIndex) {
  EXPECT_EQ(canon("/device:GPU:*"), "/device:GPU:*");
  EXPECT_FALSE(s("/device:GPU:*").device_index().has_value());
}

TEST(DeviceSpecTest, P5_LongFormLowerCaseGpuIsUpperCased) {
  EXPECT_EQ(canon("/device:gpu:1"), "/device:GPU:1");
}

TEST(DeviceSpecTest, P6_JobTaskDeviceUnchanged) {
  EXPECT_EQ(canon("/job:ps/task:0/device:CPU:0"), "/job:ps/task:0/device:CPU:0");
}

TEST(DeviceSpecTest, P8_ReplicaTaskShortCpu) {
  auto d = s("/replica:1/task:0/cpu:0");
  EXPECT_EQ(d.to_string(), "/replica:1/task:0/device:CPU:0");
  EXPECT_EQ(d.replica(), 1);
  EXPECT_EQ(d.task(), 0);
  EXPECT_EQ(d.device_type(), "CPU");
  EXPECT_EQ(d.device_index(), 0);
  EXPECT_FALSE(d.job().has_value());
}

TEST(DeviceSpecTest, P9_AnyTypeInLongForm) {
  EXPECT_EQ(canon("/job:muu/device:MyFunnyDevice:2"), "/job:muu/device:MyFunnyDevice:2");
}

TEST(DeviceSpecTest, P10_EmptySpecs) {
  EXPECT_EQ(canon(""), "");
  EXPECT_EQ(canon("/"), "");
  EXPECT_TRUE(s("").empty());
}

TEST(DeviceSpecTest, P13_FromFields) {
  sf::DeviceSpec d("foo", 12, 3, "GPU");
  EXPECT_EQ(d.to_string(), "/job:foo/replica:12/task:3/device:GPU:*");
  EXPECT_EQ(sf::DeviceSpec(std::nullopt, std::nullopt, std::nullopt, "gpu", 1).to_string(),
            "/device:GPU:1");
}

TEST(DeviceSpecTest, RepeatedJobReplicaTaskOverwrite) {
  EXPECT_EQ(canon("/job:a/job:b/task:1/task:2"), "/job:b/task:2");
}

TEST(DeviceSpecTest, RoundTripsCanonicalForms) {
  for (const char* text :
       {"/job:ps/replica:0/task:1/device:GPU:3", "/device:CPU:*", "/task:4", "/job:worker"})
    EXPECT_EQ(canon(canon(text)), canon(text)) << text;
}

TEST(DeviceSpecTest, E1_MultipleTypes) {
  EXPECT_EQ(error_of("/job:muu/device:GPU:2/cpu:0"),
            "Cannot specify multiple device types: /job:muu/device:GPU:2/cpu:0");
}

TEST(DeviceSpecTest, E2_TwoGpus) {
  EXPECT_EQ(error_of("/gpu:0/gpu:1"), "Cannot specify multiple device types: /gpu:0/gpu:1");
}

TEST(DeviceSpecTest, E3_UnknownAttribute) {
  EXPECT_EQ(error_of("/foo:0"), "Unknown attribute: 'foo' in '/foo:0'");
}

TEST(DeviceSpecTest, E4_DeviceWithoutIndex) {
  EXPECT_EQ(error_of("/device:GPU"), "Unknown attribute: 'device' in '/device:GPU'");
}

TEST(DeviceSpecTest, E6_InvalidIndex) {
  EXPECT_EQ(error_of("/gpu:x"), "Invalid device index 'x' in '/gpu:x'");
  EXPECT_EQ(error_of("/task:x"), "Invalid device index 'x' in '/task:x'");
  EXPECT_EQ(error_of("/replica:-1"), "Invalid device index '-1' in '/replica:-1'");
  EXPECT_EQ(error_of("/device:GPU:99999999999"),
            "Invalid device index '99999999999' in '/device:GPU:99999999999'");
}

TEST(DeviceSpecTest, E7_XlaGpuShortFormIsUnknown) {
  EXPECT_EQ(error_of("/xla_gpu:0"), "Unknown attribute: 'xla_gpu' in '/xla_gpu:0'");
  EXPECT_EQ(canon("/device:XLA_GPU:0"), "/device:XLA_GPU:0");
}

TEST(DeviceSpecTest, M1_JobOuterGpuInner) {
  EXPECT_EQ(apply({s("/job:ps"), s("/gpu:1")}), "/job:ps/device:GPU:1");
}

TEST(DeviceSpecTest, M2_InnermostFieldWins) {
  EXPECT_EQ(apply({s("/device:GPU:0"), s("/job:worker")}), "/job:worker/device:GPU:0");
  EXPECT_EQ(apply({s("/device:GPU:0"), s("/job:worker"), s("/device:CPU:0")}),
            "/job:worker/device:CPU:0");
  EXPECT_EQ(apply({s("/device:GPU:0"), s("/job:worker"), s("/device:CPU:0"), s("/job:ps")}),
            "/job:ps/device:CPU:0");
}

TEST(DeviceSpecTest, M5_InnerTypeReplacesOuter) {
  EXPECT_EQ(apply({s("/device:CPU:0"), s("/device:GPU:1")}), "/device:GPU:1");
}

TEST(DeviceSpecTest, M6_CutStopsTheWalk) {
  EXPECT_EQ(apply({s("/gpu:1"), Cut{}}), "");
  EXPECT_EQ(apply({s("/job:ps"), Cut{}, s("/cpu:0")}), "/device:CPU:0");
}

TEST(DeviceSpecTest, M7_EmptyScopeChangesNothing) {
  EXPECT_EQ(apply({s("/gpu:1"), s("")}), "/device:GPU:1");
  EXPECT_EQ(apply({s(""), s("/task:1/cpu:0")}), "/task:1/device:CPU:0");
  EXPECT_EQ(apply({s(""), s("/task:1/cpu:0"), s("/job:boo/device:GPU:0")}),
            "/job:boo/task:1/device:GPU:0");
  EXPECT_EQ(apply({s(""), s("/task:1/cpu:0"), s("/job:muu/cpu:2")}),
            "/job:muu/task:1/device:CPU:2");
}

TEST(DeviceSpecTest, M9_FunctionResultIsRawThenMerged) {
  Fn fn = [](const std::string&) { return std::string("/gpu:0"); };
  EXPECT_EQ(apply({fn}), "/gpu:0");
  EXPECT_EQ(apply({s("/job:ps"), fn}), "/job:ps/device:GPU:0");
}

TEST(DeviceSpecTest, M12_BadStringFailsWhenParsed) { EXPECT_THROW(s("/foo:0"), sf::ValueError); }
