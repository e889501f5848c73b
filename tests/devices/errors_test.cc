// The sf::Error hierarchy: types, codes, catchability as std::runtime_error.
#include "devices/base/errors.h"

#include <gtest/gtest.h>

namespace sf = scopeflow;

TEST(ErrorsTest, EachSubclassCarriesItsCode) {
  EXPECT_EQ(sf::InvalidArgumentError("x").code(), sf::Code::kInvalidArgument);
  EXPECT_EQ(sf::NotFoundError("x").code(), sf::Code::kNotFound);
  EXPECT_EQ(sf::FailedPreconditionError("x").code(), sf::Code::kFailedPrecondition);
  EXPECT_EQ(sf::ResourceExhaustedError("x").code(), sf::Code::kResourceExhausted);
  EXPECT_EQ(sf::InternalError("x").code(), sf::Code::kInternal);
  EXPECT_EQ(sf::UnavailableError("x").code(), sf::Code::kUnavailable);
  EXPECT_EQ(sf::code_name(sf::Code::kFailedPrecondition), "FailedPrecondition");
}

TEST(ErrorsTest, ValueErrorIsAnErrorAndARuntimeError) {
  try {
    throw sf::ValueError("Variable v already exists");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "Variable v already exists");
    EXPECT_NE(dynamic_cast<const sf::Error*>(&e), nullptr);
    EXPECT_EQ(dynamic_cast<const sf::InvalidArgumentError*>(&e), nullptr);
  }
}

TEST(ErrorsTest, ThrowErrorPicksTheSubclass) {
  EXPECT_THROW(sf::throw_error(sf::Code::kNotFound, "m"), sf::NotFoundError);
  EXPECT_THROW(sf::throw_error(sf::Code::kResourceExhausted, "m"), sf::ResourceExhaustedError);
  EXPECT_THROW(sf::throw_error(sf::Code::kUnavailable, "m"), sf::UnavailableError);
  EXPECT_THROW(sf::throw_error(sf::Code::kUnknown, "m"), sf::Error);
}

TEST(ErrorsTest, StrCatAndCheck) {
  EXPECT_EQ(sf::str_cat("a", 1, '/', 2.5), "a1/2.5");
  try {
    SF_CHECK(1 + 1 == 3, "arith");
    FAIL() << "SF_CHECK did not throw";
  } catch (const sf::InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("check failed: 1 + 1 == 3 arith"), std::string::npos);
  }
}
