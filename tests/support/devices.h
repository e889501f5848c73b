// Test support: device-parameterized tests over a fixed device list, and the skip macro
// that turns a missing device into a visible "Skipped" with its reason (STYLE.md 3.6).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "devices/device_manager.h"

#define SF_SKIP_UNLESS_DEVICE(name)              \
  if (!::scopeflow::devices::is_available(name)) \
  GTEST_SKIP() << (name) << " unavailable: " << ::scopeflow::devices::why_unavailable(name)

// The fixed device list of device-parameterized tests: names stay the same on every machine.
#define SF_TEST_DEVICES ::testing::Values(std::string("CPU:0"), std::string("GPU:0"))

namespace scopeflow::testing {

// "GPU:0" -> "GPU_0" for test names.
inline std::string device_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == ':') c = '_';
  return s;
}

}  // namespace scopeflow::testing
