// SF_LOG_LEVEL parsing and level filtering.
#include "devices/base/logging.h"

#include <gtest/gtest.h>

namespace sf = scopeflow;

TEST(LoggingTest, ParsesEveryLevelCaseInsensitively) {
  EXPECT_EQ(sf::parse_log_level("trace"), sf::LogLevel::kTrace);
  EXPECT_EQ(sf::parse_log_level("DEBUG"), sf::LogLevel::kDebug);
  EXPECT_EQ(sf::parse_log_level("Info"), sf::LogLevel::kInfo);
  EXPECT_EQ(sf::parse_log_level("warn"), sf::LogLevel::kWarn);
  EXPECT_EQ(sf::parse_log_level("warning"), sf::LogLevel::kWarn);
  EXPECT_EQ(sf::parse_log_level("error"), sf::LogLevel::kError);
  EXPECT_EQ(sf::parse_log_level("critical"), sf::LogLevel::kCritical);
  EXPECT_EQ(sf::parse_log_level("off"), sf::LogLevel::kOff);
}

TEST(LoggingTest, UnknownLevelIsAValueErrorNamingIt) {
  try {
    sf::parse_log_level("loud");
    FAIL();
  } catch (const sf::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'loud'"), std::string::npos);
  }
}

TEST(LoggingTest, LevelFiltersMessages) {
  const auto saved = sf::log_level();
  sf::set_log_level(sf::LogLevel::kWarn);
  EXPECT_FALSE(sf::log_enabled(sf::LogLevel::kInfo));
  EXPECT_TRUE(sf::log_enabled(sf::LogLevel::kError));
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  SF_LOG_INFO("not evaluated ", count());
  EXPECT_EQ(evaluated, 0);
  SF_LOG_WARN("logging test message ", count());
  EXPECT_EQ(evaluated, 1);
  sf::set_log_level(saved);
}
