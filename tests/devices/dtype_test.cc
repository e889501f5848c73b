// DType names and sizes; float16/bfloat16 conversions round to nearest even.
#include "devices/base/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "devices/base/errors.h"

namespace sf = scopeflow;

TEST(DTypeTest, NamesPrintAsTfDoes) {
  EXPECT_EQ(sf::dtype_name(sf::float32), "float32");
  EXPECT_EQ(sf::dtype_name(sf::float16), "float16");
  EXPECT_EQ(sf::dtype_name(sf::bfloat16), "bfloat16");
  EXPECT_EQ(sf::dtype_name(sf::int32), "int32");
  EXPECT_EQ(sf::dtype_name(sf::int64), "int64");
  EXPECT_EQ(sf::dtype_name(sf::bool_), "bool");
  EXPECT_EQ(sf::dtype_name(sf::string), "string");
  EXPECT_EQ(sf::dtype_name(sf::float64), "float64");
  for (auto d : {sf::float32, sf::float64, sf::float16, sf::bfloat16, sf::int8, sf::uint8,
                 sf::int32, sf::int64, sf::bool_, sf::string, sf::complex64})
    EXPECT_EQ(sf::dtype_from_name(sf::dtype_name(d)), d);
  EXPECT_THROW(sf::dtype_from_name("float128"), sf::ValueError);
}

TEST(DTypeTest, SizesAndKinds) {
  EXPECT_EQ(sf::dtype_size(sf::float32), 4u);
  EXPECT_EQ(sf::dtype_size(sf::float16), 2u);
  EXPECT_EQ(sf::dtype_size(sf::bfloat16), 2u);
  EXPECT_EQ(sf::dtype_size(sf::int64), 8u);
  EXPECT_EQ(sf::dtype_size(sf::bool_), 1u);
  EXPECT_TRUE(sf::is_floating(sf::bfloat16));
  EXPECT_FALSE(sf::is_floating(sf::int32));
  EXPECT_TRUE(sf::is_integer(sf::int64));
  EXPECT_EQ(sf::dtype_of<float>, sf::float32);
  EXPECT_EQ(sf::dtype_of<std::int64_t>, sf::int64);
  EXPECT_EQ(sf::dtype_of<sf::half>, sf::float16);
}

TEST(DTypeTest, HalfExactValuesAndSpecials) {
  EXPECT_EQ(sf::half(1.0f).bits, 0x3c00);
  EXPECT_EQ(sf::half(-2.0f).bits, 0xc000);
  EXPECT_EQ(sf::half(65504.0f).bits, 0x7bff);        // largest finite
  EXPECT_EQ(sf::half(65520.0f).bits, 0x7c00);        // rounds to inf
  EXPECT_EQ(sf::half(5.9604645e-08f).bits, 0x0001);  // smallest subnormal
  EXPECT_EQ(sf::half(0.0f).bits, 0x0000);
  EXPECT_EQ(sf::half(-0.0f).bits, 0x8000);
  EXPECT_EQ(sf::half(std::numeric_limits<float>::infinity()).bits, 0x7c00);
  EXPECT_TRUE(std::isnan(static_cast<float>(sf::half(std::nanf("")))));
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
  EXPECT_EQ(sf::half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even): rounds up.
  EXPECT_EQ(sf::half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);
}

TEST(DTypeTest, HalfRoundTripsEveryFiniteValue) {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    sf::half h;
    h.bits = static_cast<std::uint16_t>(b);
    const float f = static_cast<float>(h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(sf::half(f).bits, h.bits) << "bits " << b;
  }
}

TEST(DTypeTest, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(sf::bfloat16_t(1.0f).bits, 0x3f80);
  EXPECT_EQ(static_cast<float>(sf::bfloat16_t(3.0f)), 3.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(sf::bfloat16_t(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);
  EXPECT_EQ(sf::bfloat16_t(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);
  EXPECT_TRUE(std::isnan(static_cast<float>(sf::bfloat16_t(std::nanf("")))));
}
