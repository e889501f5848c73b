// sf::Tensor on the host: construction, values, dtypes, strings, copies, errors.
#include "devices/tensor.h"

#include <gtest/gtest.h>

#include "devices/device_manager.h"

namespace sf = scopeflow;

TEST(TensorTest, FromVectorToVector) {
  auto t = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.dtype(), sf::float32);
  EXPECT_EQ(t.shape(), sf::Shape({2, 3}));
  EXPECT_EQ(t.num_elements(), 6);
  EXPECT_EQ(t.bytes(), 24u);
  EXPECT_EQ(t.device(), "/device:CPU:0");
  EXPECT_TRUE(t.on_host());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sf::Tensor::from_vector<std::int32_t>({7, 8}).shape(), sf::Shape({2}));
}

TEST(TensorTest, Scalars) {
  auto t = sf::Tensor::from_scalar(2.5f);
  EXPECT_EQ(t.shape(), sf::Shape{});
  EXPECT_EQ(t.scalar<float>(), 2.5f);
  EXPECT_EQ(sf::Tensor::from_scalar(std::int64_t{9}).scalar<std::int64_t>(), 9);
  EXPECT_THROW(sf::Tensor::from_vector<float>({1, 2}).scalar<float>(), sf::InvalidArgumentError);
}

TEST(TensorTest, EveryDType) {
  EXPECT_EQ(sf::Tensor::from_vector<bool>({true, false, true}).to_vector<bool>(),
            (std::vector<bool>{true, false, true}));
  auto h = sf::Tensor::from_vector<sf::half>({sf::half(1.5f), sf::half(-2.0f)});
  EXPECT_EQ(h.dtype(), sf::float16);
  EXPECT_EQ(static_cast<float>(h.to_vector<sf::half>()[1]), -2.0f);
  auto b = sf::Tensor::from_vector<sf::bfloat16_t>({sf::bfloat16_t(3.0f)});
  EXPECT_EQ(b.dtype(), sf::bfloat16);
  EXPECT_EQ(static_cast<float>(b.scalar<sf::bfloat16_t>()), 3.0f);
  EXPECT_EQ(sf::Tensor::from_vector<std::int64_t>({1LL << 40}).scalar<std::int64_t>(), 1LL << 40);
  EXPECT_EQ(sf::Tensor::from_vector<double>({0.25}).dtype(), sf::float64);
}

TEST(TensorTest, Strings) {
  auto t = sf::Tensor::from_strings({"vs/v", "", "conv1/weights"}, {3});
  EXPECT_EQ(t.dtype(), sf::string);
  EXPECT_EQ(t.to_strings(), (std::vector<std::string>{"vs/v", "", "conv1/weights"}));
  sf::Tensor empty_strings(sf::string, {2});
  EXPECT_EQ(empty_strings.to_strings(), (std::vector<std::string>{"", ""}));
  auto copy = t.to(sf::devices::host_device());
  EXPECT_FALSE(copy.shares_buffer_with(t));
  EXPECT_EQ(copy.to_strings()[2], "conv1/weights");
  EXPECT_THROW(t.to_vector<float>(), sf::InvalidArgumentError);
}

TEST(TensorTest, CopiesShareTheBufferAndToCopies) {
  auto t = sf::Tensor::from_vector<float>({1, 2, 3});
  sf::Tensor alias = t;
  EXPECT_TRUE(alias.shares_buffer_with(t));
  alias.data<float>()[0] = 10;
  EXPECT_EQ(t.to_vector<float>()[0], 10);
  sf::devices::DeviceManager m(sf::devices::DeviceManagerOptions{.num_cpus = 2});
  auto moved = t.to(m.cpu(1));
  EXPECT_EQ(moved.device(), "/device:CPU:1");
  EXPECT_FALSE(moved.shares_buffer_with(t));
  EXPECT_EQ(moved.to_vector<float>(), (std::vector<float>{10, 2, 3}));
  EXPECT_EQ(m.cpu(1)->allocator().stats().bytes_in_use, 512);  // one 512-byte block
}

TEST(TensorTest, BufferFreedWithTheLastReference) {
  sf::devices::DeviceManager m;
  auto dev = m.cpu(0);
  {
    sf::Tensor t(sf::float32, {256}, dev);
    sf::Tensor u = t;
    EXPECT_EQ(dev->allocator().stats().bytes_in_use, 1024);
  }
  EXPECT_EQ(dev->allocator().stats().bytes_in_use, 0);
}

TEST(TensorTest, Reshaped) {
  auto t = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto r = t.reshaped({3, 2});
  EXPECT_TRUE(r.shares_buffer_with(t));
  EXPECT_EQ(r.shape(), sf::Shape({3, 2}));
  EXPECT_THROW(t.reshaped({4}), sf::InvalidArgumentError);
}

TEST(TensorTest, BadInputIsAClearError) {
  EXPECT_THROW(sf::Tensor::from_vector<float>({1, 2, 3}, {2, 2}), sf::InvalidArgumentError);
  EXPECT_THROW(sf::Tensor(sf::float32, sf::Shape({-1, 2})), sf::InvalidArgumentError);
  EXPECT_THROW(sf::Tensor(sf::float32, sf::Shape::unknown()), sf::InvalidArgumentError);
  EXPECT_THROW(sf::Tensor(sf::DType::kInvalid, {1}), sf::InvalidArgumentError);
  EXPECT_THROW(sf::Tensor(sf::complex64, {1}), sf::InvalidArgumentError);
  EXPECT_THROW(sf::Tensor(sf::float32, {1 << 21, 1 << 20, 1 << 20}), sf::ResourceExhaustedError);
  EXPECT_THROW(sf::Tensor(sf::float32, {1 << 30, 1 << 30, 1 << 30}), sf::InvalidArgumentError);
  sf::Tensor empty;
  EXPECT_FALSE(empty.initialized());
  EXPECT_THROW(empty.to_vector<float>(), sf::FailedPreconditionError);
  EXPECT_THROW(empty.to(sf::devices::host_device()), sf::FailedPreconditionError);
  auto t = sf::Tensor::from_vector<float>({1});
  try {
    t.data<std::int32_t>();
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_STREQ(e.what(), "Tensor::data<int32>: the tensor holds float32");
  }
}

TEST(TensorTest, DebugString) {
  EXPECT_EQ(sf::Tensor::from_vector<float>({1, 2.5}, {2}).debug_string(),
            "Tensor<float32 [2] on /device:CPU:0>: [1, 2.5]");
  EXPECT_EQ(sf::Tensor::from_vector<std::int32_t>({1, 2, 3}).debug_string(2),
            "Tensor<int32 [3] on /device:CPU:0>: [1, 2, ...]");
  EXPECT_EQ(sf::Tensor().debug_string(), "Tensor<empty>");
}
