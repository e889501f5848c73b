// Fill on every device against the reference, with poisoned outputs and sizes that do not
// divide the block. Also the tiny kernel that proves a GPU build runs on the GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "devices/device_manager.h"
#include "kernels/fill/fill.h"
#include "kernels/kernel.h"
#include "tests/support/devices.h"

namespace sf = scopeflow;

class FillTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SF_SKIP_UNLESS_DEVICE(GetParam()); }
};

TEST_P(FillTest, MatchesReferenceOnEveryElement) {
  sf::devices::DeviceManager m;
  auto device = m.lookup(GetParam());
  const auto& registry = sf::kernels::kernel_registry();
  for (std::int64_t n :
       {std::int64_t{1}, std::int64_t{255}, std::int64_t{257}, std::int64_t{1'000'003}}) {
    for (float value : {0.0f, -0.0f, 3.25f, INFINITY, NAN}) {
      // Poison: NaN-free sentinel so an unwritten element fails the comparison.
      auto poison = sf::Tensor::from_vector<float>(
          std::vector<float>(static_cast<std::size_t>(n), -7777.0f), {n});
      sf::kernels::KernelContext c;
      c.device = device.get();
      c.inputs = {sf::Tensor::from_vector<std::int64_t>({n}), sf::Tensor::from_scalar(value)};
      c.outputs = {poison.to(device)};
      registry.find("Fill", device->type(), sf::float32)(c);
      device->compute_stream().synchronize();
      std::vector<float> want(static_cast<std::size_t>(n));
      sf::kernels::fill_forward_ref(want.data(), n, value);
      auto got = c.outputs[0].to_vector<float>();
      for (std::int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        ASSERT_TRUE(std::memcmp(&got[k], &want[k], 4) == 0)
            << "n=" << n << " value=" << value << " element " << i << " = " << got[k];
      }
    }
  }
}

TEST_P(FillTest, IntegerTypes) {
  sf::devices::DeviceManager m;
  auto device = m.lookup(GetParam());
  sf::kernels::KernelContext c;
  c.device = device.get();
  c.inputs = {sf::Tensor::from_vector<std::int64_t>({5}),
              sf::Tensor::from_scalar(std::int64_t{-3})};
  c.outputs = {sf::Tensor(sf::int64, {5}, device)};
  sf::kernels::kernel_registry().find("Fill", device->type(), sf::int64)(c);
  device->compute_stream().synchronize();
  EXPECT_EQ(c.outputs[0].to_vector<std::int64_t>(), std::vector<std::int64_t>(5, -3));
}

TEST_P(FillTest, WrongArityIsInvalidArgument) {
  sf::devices::DeviceManager m;
  auto device = m.lookup(GetParam());
  sf::kernels::KernelContext c;
  c.device = device.get();
  c.outputs = {sf::Tensor(sf::float32, {5}, device)};
  EXPECT_THROW(sf::kernels::kernel_registry().find("Fill", device->type(), sf::float32)(c),
               sf::InvalidArgumentError);
}

INSTANTIATE_TEST_SUITE_P(Devices, FillTest, SF_TEST_DEVICES, sf::testing::device_param_name);
