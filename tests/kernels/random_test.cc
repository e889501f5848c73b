// Random initializer kernels: Philox known answers, the deterministic float math, the
// distributions' statistics, independence from launch shape, and bit-identical CPU/GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "devices/device_manager.h"
#include "kernels/init/philox.h"
#include "kernels/init/random.h"
#include "kernels/init/random_units.h"
#include "kernels/kernel.h"
#include "tests/support/devices.h"

namespace sf = scopeflow;
namespace philox = sf::kernels::philox;
using sf::kernels::RandomDist;

TEST(PhiloxTest, KnownAnswersFromRandom123) {
  auto b = philox::philox4x32_10(0, 0, 0, 0, 0, 0);
  EXPECT_EQ(b.v[0], 0x6627e8d5u);
  EXPECT_EQ(b.v[1], 0xe169c58du);
  EXPECT_EQ(b.v[2], 0xbc57ac4cu);
  EXPECT_EQ(b.v[3], 0x9b00dbd8u);
  b = philox::philox4x32_10(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
  EXPECT_EQ(b.v[0], 0x408f276du);
  EXPECT_EQ(b.v[1], 0x41c83b0eu);
  EXPECT_EQ(b.v[2], 0xa20bc7c6u);
  EXPECT_EQ(b.v[3], 0x6d5451fdu);
  b = philox::philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u,
                            0x299f31d0u);
  EXPECT_EQ(b.v[0], 0xd16cfe09u);
  EXPECT_EQ(b.v[1], 0x94fdccebu);
  EXPECT_EQ(b.v[2], 0x5001e420u);
  EXPECT_EQ(b.v[3], 0x24126ea1u);
}

TEST(PhiloxTest, PortableLogAndSinCosAreAccurate) {
  for (std::uint32_t i = 0; i < 100000; ++i) {
    const auto b = philox::philox4x32_10(i, 0, 0, 0, 1, 2);
    const double x = philox::uint32_to_open_unit(b.v[0]);
    EXPECT_NEAR(philox::log_unit(x), std::log(x), 1e-14 * std::max(1.0, std::abs(std::log(x))));
    const double u = b.v[1] * (1.0 / 4294967296.0);
    double s, c;
    philox::sincos_2pi(u, &s, &c);
    ASSERT_NEAR(s, std::sin(2 * M_PI * u), 1e-13) << u;
    ASSERT_NEAR(c, std::cos(2 * M_PI * u), 1e-13) << u;
  }
  EXPECT_EQ(philox::log_unit(1.0), 0.0);
  EXPECT_EQ(philox::uint32_to_float(0), 0.0f);
  EXPECT_LT(philox::uint32_to_float(~0u), 1.0f);
}

namespace {
std::vector<float> draw(RandomDist d, std::int64_t n, std::uint64_t offset = 0,
                        philox::Key key = philox::make_key(1234, 5678)) {
  std::vector<float> out(static_cast<std::size_t>(n));
  sf::kernels::random_forward_ref({d, key, offset, out.data(), n});
  return out;
}
void moments(const std::vector<float>& v, double* mean, double* stddev) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += static_cast<double>(x) * x;
  }
  *mean = s / static_cast<double>(v.size());
  *stddev = std::sqrt(s2 / static_cast<double>(v.size()) - *mean * *mean);
}
}  // namespace

TEST(RandomTest, DistributionsHaveTheirMoments) {
  const std::int64_t n = 1 << 20;
  double m, s;
  auto u = draw(RandomDist::kUniform, n);
  moments(u, &m, &s);
  EXPECT_NEAR(m, 0.5, 0.002);
  EXPECT_NEAR(s, std::sqrt(1.0 / 12), 0.002);
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0f);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0f);
  auto z = draw(RandomDist::kNormal, n);
  moments(z, &m, &s);
  EXPECT_NEAR(m, 0.0, 0.005);
  EXPECT_NEAR(s, 1.0, 0.005);
  auto t = draw(RandomDist::kTruncatedNormal, n);
  moments(t, &m, &s);
  EXPECT_NEAR(m, 0.0, 0.005);
  EXPECT_NEAR(s, 0.87962566103423978, 0.005);
  EXPECT_LE(*std::max_element(t.begin(), t.end()), 2.0f);
  EXPECT_GE(*std::min_element(t.begin(), t.end()), -2.0f);
}

TEST(RandomTest, ElementIDependsOnlyOnSeedAndI) {
  for (auto d : {RandomDist::kUniform, RandomDist::kNormal, RandomDist::kTruncatedNormal}) {
    const auto whole = draw(d, 1001);
    std::vector<float> pieces;
    for (std::int64_t start : {0, 3, 250, 251, 700}) {
      const std::int64_t end = start == 700 ? 1001
                                            : (start == 0     ? 3
                                               : start == 3   ? 250
                                               : start == 250 ? 251
                                                              : 700);
      auto part = draw(d, end - start, static_cast<std::uint64_t>(start));
      pieces.insert(pieces.end(), part.begin(), part.end());
    }
    ASSERT_EQ(pieces.size(), whole.size());
    EXPECT_EQ(std::memcmp(pieces.data(), whole.data(), whole.size() * 4), 0);
    EXPECT_NE(draw(d, 16, 0, philox::make_key(1, 2)), draw(d, 16, 0, philox::make_key(1, 3)));
  }
}

// The CUDA kernels' unit of work, run here in reverse order (as threads might), must give the
// reference's bits for every offset alignment and ragged length.
TEST(RandomTest, GpuUnitsMatchTheReferenceInAnyOrder) {
  const auto key = philox::make_key(99, 100);
  for (std::uint64_t offset : {0ull, 1ull, 2ull, 3ull, 12345ull}) {
    for (std::int64_t n : {1, 2, 3, 4, 5, 7, 257}) {
      std::vector<float> u(static_cast<std::size_t>(n), -1.0f),
          z(static_cast<std::size_t>(n), -1.0f);
      for (std::int64_t j = sf::kernels::uniform_units(offset, n) - 1; j >= 0; --j)
        sf::kernels::uniform_unit(key, offset, u.data(), n, j);
      for (std::int64_t j = sf::kernels::normal_units(offset, n) - 1; j >= 0; --j)
        sf::kernels::normal_unit(key, offset, z.data(), n, j);
      EXPECT_EQ(u, draw(RandomDist::kUniform, n, offset, key)) << offset << " " << n;
      EXPECT_EQ(z, draw(RandomDist::kNormal, n, offset, key)) << offset << " " << n;
    }
  }
}

class RandomDeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SF_SKIP_UNLESS_DEVICE(GetParam()); }
};

TEST_P(RandomDeviceTest, BitIdenticalToTheReference) {
  sf::devices::DeviceManager m;
  auto device = m.lookup(GetParam());
  const auto& registry = sf::kernels::kernel_registry();
  const std::pair<const char*, RandomDist> ops[] = {
      {"RandomUniform", RandomDist::kUniform},
      {"RandomStandardNormal", RandomDist::kNormal},
      {"TruncatedNormal", RandomDist::kTruncatedNormal}};
  for (const auto& [op, dist] : ops) {
    for (std::int64_t n : {std::int64_t{1}, std::int64_t{257}, std::int64_t{1 << 20}}) {
      sf::AttrMap attrs;
      attrs.set("seed", std::int64_t{87654321});
      attrs.set("seed2", std::int64_t{42});
      sf::kernels::KernelContext c;
      c.device = device.get();
      c.device_ptr = device;
      c.attrs = &attrs;
      c.node_name = op;
      c.rng_offset = 12345;
      c.inputs = {sf::Tensor::from_vector<std::int64_t>({n})};
      registry.find(op, device->type(), sf::float32)(c);
      device->compute_stream().synchronize();
      const auto got = c.outputs[0].to_vector<float>();
      const auto want = draw(dist, n, 12345, philox::make_key(87654321, 42));
      ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0) << op << " n=" << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, RandomDeviceTest, SF_TEST_DEVICES,
                         sf::testing::device_param_name);
