// Element-wise binary ops on the CPU: broadcasting against a direct computation, errors.
#include <gtest/gtest.h>

#include "kernels/kernel.h"
#include "kernels/math/binary.h"

namespace sf = scopeflow;
using sf::devices::DeviceType;

namespace {
sf::Tensor run(const char* op, const sf::Tensor& a, const sf::Tensor& b) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.node_name = op;
  c.inputs = {a, b};
  sf::kernels::kernel_registry().find(op, DeviceType::kCPU, a.dtype())(c);
  return c.outputs[0];
}
}  // namespace

TEST(BinaryTest, BroadcastShapes) {
  EXPECT_EQ(sf::kernels::broadcast_shapes({2, 3}, {3}, "x"), sf::Shape({2, 3}));
  EXPECT_EQ(sf::kernels::broadcast_shapes({2, 1}, {1, 3}, "x"), sf::Shape({2, 3}));
  EXPECT_EQ(sf::kernels::broadcast_shapes({}, {4}, "x"), sf::Shape({4}));
  EXPECT_EQ(sf::kernels::broadcast_shapes({-1, 3}, {3}, "x"), sf::Shape({-1, 3}));
  EXPECT_THROW(sf::kernels::broadcast_shapes({2}, {3}, "x"), sf::InvalidArgumentError);
}

TEST(BinaryTest, BroadcastingMatchesDirectComputation) {
  auto a = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto col = sf::Tensor::from_vector<float>({10, 20}, {2, 1});
  auto row = sf::Tensor::from_vector<float>({100, 200, 300}, {3});
  EXPECT_EQ(run("AddV2", a, col).to_vector<float>(), (std::vector<float>{11, 12, 13, 24, 25, 26}));
  EXPECT_EQ(run("Mul", a, row).to_vector<float>(),
            (std::vector<float>{100, 400, 900, 400, 1000, 1800}));
  EXPECT_EQ(run("Sub", col, row).shape(), sf::Shape({2, 3}));
  EXPECT_EQ(run("Sub", col, row).to_vector<float>(),
            (std::vector<float>{-90, -190, -290, -80, -180, -280}));
  EXPECT_EQ(run("RealDiv", a, sf::Tensor::from_scalar(2.0f)).to_vector<float>(),
            (std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3}));
  EXPECT_EQ(run("Add", sf::Tensor::from_vector<std::int64_t>({1, 2}),
                sf::Tensor::from_scalar(std::int64_t{5}))
                .to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{6, 7}));
}

TEST(BinaryTest, ErrorsNameTheNode) {
  auto a = sf::Tensor::from_vector<float>({1, 2});
  EXPECT_THROW(run("AddV2", a, sf::Tensor::from_vector<float>({1, 2, 3})),
               sf::InvalidArgumentError);
  EXPECT_THROW(run("RealDiv", sf::Tensor::from_vector<std::int32_t>({1}),
                   sf::Tensor::from_vector<std::int32_t>({0})),
               sf::InvalidArgumentError);
}
