// sf::Shape: printing, element counts, compatibility.
#include "devices/base/shape.h"

#include <gtest/gtest.h>

#include "devices/base/errors.h"

namespace sf = scopeflow;

TEST(ShapeTest, PrintsAsConformanceSays) {
  EXPECT_EQ(sf::Shape({2}).to_string(), "[2]");
  EXPECT_EQ(sf::Shape({1, 1}).to_string(), "[1,1]");
  EXPECT_EQ(sf::Shape{}.to_string(), "[]");
  EXPECT_EQ(sf::Shape::unknown().to_string(), "<unknown>");
  EXPECT_EQ(sf::Shape({-1, 3}).to_string(), "[?,3]");
}

TEST(ShapeTest, EmptyBracesAreTheScalarShape) {
  sf::Shape s = {};
  EXPECT_TRUE(s.has_rank());
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.num_elements(), 1);
}

TEST(ShapeTest, NumElementsNeedsAFullyDefinedShape) {
  EXPECT_EQ(sf::Shape({5, 5, 32, 32}).num_elements(), 25600);
  EXPECT_EQ(sf::Shape({3, 0}).num_elements(), 0);
  EXPECT_THROW(sf::Shape({-1, 2}).num_elements(), sf::ValueError);
  EXPECT_THROW(sf::Shape::unknown().num_elements(), sf::ValueError);
  EXPECT_THROW(sf::Shape::unknown().rank(), sf::ValueError);
  EXPECT_THROW(sf::Shape({1 << 30, 1 << 30, 1 << 30}).num_elements(), sf::ValueError);
  EXPECT_THROW(sf::Shape({2}).dim(1), sf::ValueError);
}

TEST(ShapeTest, Compatibility) {
  EXPECT_TRUE(sf::Shape({1}).is_compatible_with(sf::Shape({1})));
  EXPECT_FALSE(sf::Shape({2}).is_compatible_with(sf::Shape({1})));
  EXPECT_TRUE(sf::Shape::unknown().is_compatible_with(sf::Shape({7, 7})));
  EXPECT_TRUE(sf::Shape({-1}).is_compatible_with(sf::Shape({4})));
  EXPECT_FALSE(sf::Shape({-1}).is_compatible_with(sf::Shape({4, 1})));
  EXPECT_FALSE(sf::Shape{}.is_compatible_with(sf::Shape({1})));
}
