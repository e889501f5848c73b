// DeviceManager: logical CPU devices, lookups by name and spec, GPU reporting.
#include "devices/device_manager.h"

#include <gtest/gtest.h>

#include "devices/base/errors.h"
#include "devices/cpu_device.h"
#include "devices/tensor.h"

namespace sf = scopeflow;
using sf::devices::DeviceManager;
using sf::devices::DeviceManagerOptions;

TEST(DeviceManagerTest, DefaultHasCpu0) {
  DeviceManager m;
  ASSERT_GE(m.devices().size(), 1u);
  EXPECT_EQ(m.num_cpus(), 1);
  EXPECT_EQ(m.cpu(0)->name(), "/device:CPU:0");
  EXPECT_EQ(m.cpu(0)->full_name(), "/job:localhost/replica:0/task:0/device:CPU:0");
  EXPECT_EQ(m.num_gpus(), static_cast<int>(sf::devices::gpu_inventory().gpus.size()));
  EXPECT_EQ(m.cpu(0)->allocator().name(), "cpu_caching");  // host memory, not "gpu_caching"
}

TEST(DeviceManagerTest, KLogicalCpuDevices) {
  DeviceManager m(DeviceManagerOptions{.num_cpus = 4});
  EXPECT_EQ(m.num_cpus(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(m.cpu(i)->index(), i);
    EXPECT_EQ(m.cpu(i)->type(), sf::devices::DeviceType::kCPU);
  }
  EXPECT_EQ(m.find("/device:CPU:3"), m.cpu(3));
  EXPECT_EQ(m.find("/cpu:2"), m.cpu(2));
  EXPECT_EQ(m.find("CPU:1"), m.cpu(1));
  EXPECT_EQ(m.find("/job:localhost/replica:0/task:0/device:CPU:0"), m.cpu(0));
  EXPECT_EQ(m.find("/device:CPU:4"), nullptr);
  EXPECT_EQ(m.find("/job:ps/device:CPU:0"), nullptr);
  EXPECT_EQ(m.find("/job:localhost"), nullptr);
  EXPECT_THROW(m.find("/foo:0"), sf::ValueError);
}

TEST(DeviceManagerTest, LookupErrorsListTheDevices) {
  DeviceManager m(DeviceManagerOptions{.num_cpus = 2});
  try {
    m.lookup("/device:GPU:7");
    FAIL();
  } catch (const sf::NotFoundError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'/device:GPU:7'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/device:CPU:0, /device:CPU:1"), std::string::npos) << msg;
  }
  EXPECT_THROW(m.cpu(2), sf::NotFoundError);
  EXPECT_THROW(m.gpu(m.num_gpus()), sf::NotFoundError);
}

TEST(DeviceManagerTest, BadOptionsAreInvalidArgument) {
  EXPECT_THROW(DeviceManager(DeviceManagerOptions{.num_cpus = 0}), sf::InvalidArgumentError);
  DeviceManagerOptions o;
  o.logical_gpus[99] = {{}, {}};
  try {
    DeviceManager m(o);
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("physical GPU 99"), std::string::npos) << e.what();
  }
}

// pin_cpu_memory: without a GPU the CPU devices keep their own allocator; with a budget it is
// refused (the pinned allocator would not enforce it).
TEST(DeviceManagerTest, PinCpuMemoryNeedsAGpuAndNoBudget) {
  DeviceManagerOptions o{.num_cpus = 2, .pin_cpu_memory = true};
  DeviceManager m(o);
  if (m.num_gpus() == 0) {
    EXPECT_EQ(m.cpu(0)->allocator().name(), "cpu_caching");
    EXPECT_EQ(m.cpu(0)->description().find("allocated from"), std::string::npos);
  } else {
    // One cache of their own for the CPU devices, not GPU:0's (which a fetched CPU tensor
    // would then keep alive, GPU memory and all).
    EXPECT_EQ(&m.cpu(1)->allocator(), &m.cpu(0)->allocator());
    EXPECT_NE(&m.cpu(0)->allocator(), &m.gpu(0)->host_allocator());
    EXPECT_EQ(m.cpu(0)->allocator().name(), "cuda_pinned_host");
    EXPECT_NE(m.cpu(0)->description().find("allocated from cuda_pinned_host"), std::string::npos);
  }
  o.cpu_memory_limit = 1 << 20;
  try {
    DeviceManager bad(o);
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("pin_cpu_memory with a cpu_memory_limit"),
              std::string::npos)
        << e.what();
  }
}

// CpuDevice::allocate_from: tensors come from the given allocator, kept alive by the device;
// refused for a null allocator or its own, with a budget, a second time (live tensors would be
// freed to the wrong cache), or once something was allocated here.
TEST(DeviceManagerTest, CpuDeviceAllocatesFromAnotherAllocator) {
  auto owner = std::make_shared<sf::devices::CpuDevice>(1);
  // An allocator that keeps its device alive (the aliasing shared_ptr).
  std::shared_ptr<sf::devices::Allocator> other(owner, &owner->allocator());
  auto cpu = std::make_shared<sf::devices::CpuDevice>(0);
  EXPECT_THROW(cpu->allocate_from(nullptr), sf::InvalidArgumentError);
  EXPECT_THROW(cpu->allocate_from(std::shared_ptr<sf::devices::Allocator>(cpu, &cpu->allocator())),
               sf::InvalidArgumentError);
  cpu->allocate_from(other);
  {
    sf::Tensor t(sf::DType::kFloat32, sf::Shape{1024}, cpu);
    EXPECT_GE(owner->allocator().stats().bytes_in_use, 4096);
    EXPECT_EQ(&cpu->host_allocator(), &owner->allocator());
    auto again = std::make_shared<sf::devices::CpuDevice>(4);
    EXPECT_THROW(
        cpu->allocate_from(std::shared_ptr<sf::devices::Allocator>(again, &again->allocator())),
        sf::FailedPreconditionError);
  }
  EXPECT_EQ(owner->allocator().stats().bytes_in_use, 0);
  auto budget = std::make_shared<sf::devices::CpuDevice>(2, 1 << 20);
  EXPECT_THROW(budget->allocate_from(other), sf::InvalidArgumentError);
  auto used = std::make_shared<sf::devices::CpuDevice>(3);
  void* q = used->allocator().allocate(64);
  EXPECT_THROW(used->allocate_from(other), sf::FailedPreconditionError);
  used->allocator().deallocate(q);
}

TEST(DeviceManagerTest, NoGpuMeansAReasonNotAFailure) {
  const auto& inv = sf::devices::gpu_inventory();
  if (!inv.gpus.empty()) GTEST_SKIP() << "this machine has GPUs";
  EXPECT_FALSE(inv.unavailable_reason.empty());
  EXPECT_FALSE(sf::devices::is_available("GPU:0"));
  EXPECT_EQ(sf::devices::why_unavailable("GPU:0"), inv.unavailable_reason);
  DeviceManager m;
  EXPECT_EQ(m.num_gpus(), 0);
  if (sf::devices::built_with_cuda()) {
    EXPECT_NE(inv.unavailable_reason, "CPU-only build");
  } else {
    EXPECT_EQ(inv.unavailable_reason, "CPU-only build");
  }
}

TEST(DeviceManagerTest, WhyUnavailable) {
  EXPECT_TRUE(sf::devices::is_available("CPU:0"));
  EXPECT_TRUE(sf::devices::is_available("/device:CPU:0"));
  EXPECT_EQ(sf::devices::why_unavailable("CPU:0"), "");
  const int n = static_cast<int>(sf::devices::gpu_inventory().gpus.size());
  if (n > 0) {
    EXPECT_EQ(sf::devices::why_unavailable(sf::str_cat("GPU:", n)),
              sf::str_cat("needs ", n + 1, " GPUs, found ", n));
  }
  EXPECT_THROW(sf::devices::why_unavailable("/foo:1"), sf::ValueError);
}

TEST(DeviceManagerTest, CpuCopiesAndMemset) {
  DeviceManager m(DeviceManagerOptions{.num_cpus = 2});
  auto& a = *m.cpu(0);
  auto& b = *m.cpu(1);
  std::vector<int> src{1, 2, 3, 4}, dst(4, 0);
  sf::devices::copy_bytes(b, dst.data(), a, src.data(), 16);
  EXPECT_EQ(dst, src);
  b.memset(dst.data(), 0, 8);
  EXPECT_EQ(dst, (std::vector<int>{0, 0, 3, 4}));
  EXPECT_THROW(sf::devices::copy_bytes(b, nullptr, a, src.data(), 4), sf::InvalidArgumentError);
  auto ev = a.create_event();
  ev->record(a.compute_stream());
  EXPECT_TRUE(ev->query());
  EXPECT_THROW(ev->elapsed_ms_since(*ev), sf::InvalidArgumentError);
}
