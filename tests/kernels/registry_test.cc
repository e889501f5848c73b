// KernelRegistry: keys, label preference, errors; completeness of this build's registry.
#include "kernels/kernel.h"

#include <gtest/gtest.h>

#include "devices/device_manager.h"

namespace sf = scopeflow;
using sf::devices::DeviceType;
using sf::kernels::KernelContext;
using sf::kernels::KernelRegistry;

TEST(KernelRegistryTest, FindsByKeyAndPrefersLabels) {
  KernelRegistry r;
  int which = 0;
  r.add({"Conv2D", DeviceType::kGPU, sf::float32, "cuda"}, [&](KernelContext&) { which = 1; });
  r.add({"Conv2D", DeviceType::kGPU, sf::float32, "cudnn"}, [&](KernelContext&) { which = 2; });
  KernelContext c;
  r.find("Conv2D", DeviceType::kGPU, sf::float32)(c);
  EXPECT_EQ(which, 2) << "cudnn is preferred on GPUs by default";
  r.find("Conv2D", DeviceType::kGPU, sf::float32, "cuda")(c);
  EXPECT_EQ(which, 1);
  EXPECT_EQ(r.labels("Conv2D", DeviceType::kGPU, sf::float32),
            (std::vector<std::string>{"cudnn", "cuda"}));
  r.set_label_preference(DeviceType::kGPU, {"cuda", "cudnn"});
  r.find("Conv2D", DeviceType::kGPU, sf::float32)(c);
  EXPECT_EQ(which, 1);
}

TEST(KernelRegistryTest, PerOpPreferenceOverridesTheDeviceOrderForThatOpOnly) {
  KernelRegistry r;
  for (const char* op : {"Conv2D", "Conv2DBackpropInput"})
    for (const char* label : {"ref", "openblas", "onednn"})
      r.add({op, DeviceType::kCPU, sf::float32, label}, [](KernelContext&) {});
  const std::vector<std::string> device_order{"onednn", "openblas", "ref"};
  EXPECT_EQ(r.labels("Conv2DBackpropInput", DeviceType::kCPU, sf::float32), device_order);
  r.set_label_preference(DeviceType::kCPU, "Conv2DBackpropInput", {"openblas"});
  EXPECT_EQ(r.labels("Conv2DBackpropInput", DeviceType::kCPU, sf::float32),
            (std::vector<std::string>{"openblas", "onednn", "ref"}));
  EXPECT_EQ(r.labels("Conv2D", DeviceType::kCPU, sf::float32), device_order);
  EXPECT_TRUE(r.contains("Conv2DBackpropInput", DeviceType::kCPU, sf::float32));
  r.set_label_preference(DeviceType::kGPU, "Conv2DBackpropInput", {"ref"});  // other device
  EXPECT_EQ(r.labels("Conv2DBackpropInput", DeviceType::kCPU, sf::float32).front(), "openblas");
  r.set_label_preference(DeviceType::kCPU, "Conv2DBackpropInput", {"ref", "onednn"});  // replaces
  EXPECT_EQ(r.labels("Conv2DBackpropInput", DeviceType::kCPU, sf::float32),
            (std::vector<std::string>{"ref", "onednn", "openblas"}));
}

TEST(KernelRegistryTest, MissingKernelNamesTheKeyAndWhatExists) {
  KernelRegistry r;
  r.add({"Relu", DeviceType::kCPU, sf::float32, "ref"}, [](KernelContext&) {});
  try {
    r.find("Relu", DeviceType::kGPU, sf::float32);
    FAIL();
  } catch (const sf::NotFoundError& e) {
    EXPECT_STREQ(e.what(),
                 "No kernel for Relu[GPU, float32]; registered: Relu[CPU, float32, label=ref]");
  }
  EXPECT_FALSE(r.contains("Relu", DeviceType::kCPU, sf::int32));
  EXPECT_THROW(r.add({"Relu", DeviceType::kCPU, sf::float32, "ref"}, [](KernelContext&) {}),
               sf::InternalError);
}

TEST(KernelRegistryTest, EveryCpuKernelHasARefImplementation) {
  const auto& r = sf::kernels::kernel_registry();
  ASSERT_FALSE(r.entries().empty());
  for (const auto& [key, fn] : r.entries()) {
    EXPECT_TRUE(r.contains(key.op, DeviceType::kCPU, key.dtype, "ref"))
        << to_string(key) << " has no CPU reference kernel";
  }
}

TEST(KernelRegistryTest, CudaBuildsRegisterGpuKernels) {
  const auto& r = sf::kernels::kernel_registry();
  const bool gpu = r.contains("Fill", DeviceType::kGPU, sf::float32);
  EXPECT_EQ(gpu, sf::devices::built_with_cuda());
}
