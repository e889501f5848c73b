// Initializers through graphs and sessions: TF's formulas, fan rules, seeds.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace {

class InitializersTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::vector<float> init_values(const sf::Variable& v, sf::Session& sess) {
  sess.run(v.initializer());
  return sess.run(v).to_vector<float>();
}

TEST_F(InitializersTest, ComputeFans) {
  EXPECT_EQ(sf::compute_fans({}), std::make_pair(1.0, 1.0));
  EXPECT_EQ(sf::compute_fans({7}), std::make_pair(7.0, 7.0));
  EXPECT_EQ(sf::compute_fans({3, 5}), std::make_pair(3.0, 5.0));
  EXPECT_EQ(sf::compute_fans({5, 5, 32, 64}), std::make_pair(800.0, 1600.0));
}

TEST_F(InitializersTest, GlorotUniformFillsItsLimits) {
  auto v = sf::get_variable("w", {5, 5, 32, 64});
  sf::Session sess;
  auto x = init_values(v, sess);
  const float limit = std::sqrt(6.0f / (800 + 1600));
  auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  EXPECT_GE(*lo, -limit);
  EXPECT_LE(*hi, limit);
  EXPECT_LT(*lo, -0.99f * limit);
  EXPECT_GT(*hi, 0.99f * limit);
}

TEST_F(InitializersTest, GlorotNormalAndVarianceScalingStddev) {
  auto g = sf::get_variable("g", {400, 600}, {.initializer = sf::glorot_normal_initializer()});
  auto vs =
      sf::get_variable("vs", {400, 600}, {.initializer = sf::variance_scaling_initializer(2.0)});
  auto un = sf::get_variable(
      "un", {400, 600},
      {.initializer = sf::variance_scaling_initializer(1.0, "fan_out", "untruncated_normal")});
  sf::Session sess;
  auto stddev = [](const std::vector<float>& x) {
    double s = 0, s2 = 0;
    for (float v : x) s += v, s2 += double(v) * v;
    const double m = s / x.size();
    return std::sqrt(s2 / x.size() - m * m);
  };
  // Truncated at 2 sigma and rescaled by 0.8796 so the stddev comes out as sqrt(scale / fan).
  EXPECT_NEAR(stddev(init_values(g, sess)), std::sqrt(1.0 / 500), 0.02 * std::sqrt(1.0 / 500));
  EXPECT_NEAR(stddev(init_values(vs, sess)), std::sqrt(2.0 / 400), 0.02 * std::sqrt(2.0 / 400));
  EXPECT_NEAR(stddev(init_values(un, sess)), std::sqrt(1.0 / 600), 0.02 * std::sqrt(1.0 / 600));
  auto t = init_values(g, sess);
  const float bound = 2.0f * std::sqrt(1.0f / 500) / 0.87962566f;
  for (float x : t) ASSERT_LE(std::abs(x), bound * 1.0001f);
}

TEST_F(InitializersTest, RandomNormalAndUniformParameters) {
  auto n =
      sf::get_variable("n", {100000}, {.initializer = sf::random_normal_initializer(3.0, 0.5)});
  auto u =
      sf::get_variable("u", {100000}, {.initializer = sf::random_uniform_initializer(-2.0, 6.0)});
  auto t =
      sf::get_variable("t", {100000}, {.initializer = sf::truncated_normal_initializer(1.0, 0.1)});
  sf::Session sess;
  auto mean = [](const std::vector<float>& x) {
    return std::accumulate(x.begin(), x.end(), 0.0) / x.size();
  };
  EXPECT_NEAR(mean(init_values(n, sess)), 3.0, 0.01);
  auto xu = init_values(u, sess);
  EXPECT_NEAR(mean(xu), 2.0, 0.03);
  EXPECT_GE(*std::min_element(xu.begin(), xu.end()), -2.0f);
  EXPECT_LT(*std::max_element(xu.begin(), xu.end()), 6.0f);
  auto xt = init_values(t, sess);
  EXPECT_NEAR(mean(xt), 1.0, 0.002);
  for (float x : xt) ASSERT_LE(std::abs(x - 1.0f), 0.2f + 1e-6f);
}

TEST_F(InitializersTest, ConstantOnesZeros) {
  auto c = sf::get_variable("c", {2, 2}, {.initializer = sf::constant_initializer(0.25)});
  auto o = sf::get_variable("o", {3}, {.dtype = sf::int64, .initializer = sf::ones_initializer()});
  auto z = sf::get_variable("z", {2000}, {.initializer = sf::zeros_initializer()});  // Fill path
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_EQ(sess.run(c).to_vector<float>(), std::vector<float>(4, 0.25f));
  EXPECT_EQ(sess.run(o).to_vector<std::int64_t>(), std::vector<std::int64_t>(3, 1));
  EXPECT_EQ(sess.run(z).to_vector<float>(), std::vector<float>(2000, 0.0f));
  EXPECT_EQ(z.initial_value().op().type(), "Fill");
  EXPECT_EQ(z.initial_value().op().name(), "z/Initializer/zeros");
}

TEST_F(InitializersTest, SeedsMakeRunsReproducibleAndUnseededRunsDiffer) {
  auto build = [](std::optional<std::int64_t> graph_seed, std::optional<std::int64_t> op_seed) {
    sf::reset_default_graph();
    sf::set_random_seed(graph_seed);
    auto v = sf::get_variable("v", {64},
                              {.initializer = sf::random_normal_initializer(0.0, 1.0, op_seed)});
    sf::Session sess;
    return init_values(v, sess);
  };
  EXPECT_EQ(build(1, std::nullopt), build(1, std::nullopt));
  EXPECT_EQ(build(std::nullopt, 7), build(std::nullopt, 7));
  EXPECT_NE(build(1, 7), build(2, 7));
  EXPECT_NE(build(std::nullopt, std::nullopt), build(std::nullopt, std::nullopt));
  // One session re-running a seeded random op draws fresh numbers, as TF's stateful ops do.
  sf::reset_default_graph();
  sf::set_random_seed(3);
  auto v = sf::get_variable("v", {8});
  sf::Session sess;
  auto first = init_values(v, sess);
  EXPECT_NE(first, init_values(v, sess));
  sf::Session fresh;
  EXPECT_EQ(first, init_values(v, fresh));
}

TEST_F(InitializersTest, BadArgumentsAreValueErrors) {
  EXPECT_THROW(sf::variance_scaling_initializer(0.0), sf::ValueError);
  EXPECT_THROW(sf::variance_scaling_initializer(1.0, "fan_sideways"), sf::ValueError);
  EXPECT_THROW(sf::variance_scaling_initializer(1.0, "fan_in", "cauchy"), sf::ValueError);
  EXPECT_THROW(sf::get_variable(
                   "i", {2}, {.dtype = sf::int32, .initializer = sf::random_normal_initializer()}),
               sf::ValueError);
  EXPECT_EQ(sf::get_variable_scope().name(), "");
}

}  // namespace
