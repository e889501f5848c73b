// Second-order gradients through the CNN op set (the gradients of ReluGrad, BiasAddGrad,
// Conv2DBackpropInput/Filter, MaxPoolGrad via MaxPoolGradGrad, AvgPoolGrad, BroadcastTo):
// Hessian-vector products d/dx <grad f(x), v> against central differences of grad f, and a
// gradient penalty (WGAN-GP style) differentiated with respect to a CNN's weights. Also the
// one second derivative TF refuses (through SparseSoftmaxCrossEntropyWithLogits).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

class SecondOrderTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::vector<float> random_vec(std::int64_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

// Distinct values 0.05 apart in a shuffled order: a finite-difference step of 0.01 never
// changes which element of a pooling window is the largest.
std::vector<float> distinct_vec(std::int64_t n, unsigned seed) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.05f * static_cast<float>(i) - 1.0f;
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  return v;
}

// H v = d/dx <grad f(x), v> built by sf::gradients twice, against
// (grad f(x + h v) - grad f(x - h v)) / 2h from the session. x is uniform in [lo, hi], or
// distinct_vec when `distinct`.
void check_hessian_vector(const sf::Shape& shape,
                          const std::function<sf::Output(const sf::Output&)>& f, unsigned seed,
                          double tolerance = 2e-3, float lo = -1.0f, float hi = 1.0f,
                          bool distinct = false, std::vector<float> x_values = {}) {
  auto x = sf::placeholder(sf::float32, shape, "x");
  auto y = f(x);
  auto g = sf::gradients(y, {x})[0];
  ASSERT_TRUE(g.valid());
  const auto vv = random_vec(shape.num_elements(), seed + 1);
  auto v = sf::constant(vv, shape, "v");
  auto hv = sf::gradients(sf::reduce_sum(g * v), {x})[0];
  ASSERT_TRUE(hv.valid()) << "no second derivative";
  ASSERT_EQ(hv.shape(), shape);
  auto xv = !x_values.empty() ? x_values
            : distinct        ? distinct_vec(shape.num_elements(), seed)
                              : random_vec(shape.num_elements(), seed, lo, hi);
  sf::Session s;
  auto feed = [&](const std::vector<float>& values) {
    return sf::FeedDict{{x, sf::Tensor::from_vector<float>(values, shape)}};
  };
  const auto analytic = s.run(hv, feed(xv)).to_vector<float>();
  const float h = 1e-2f;
  std::vector<float> up = xv, down = xv;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    up[i] += h * vv[i];
    down[i] -= h * vv[i];
  }
  const auto gu = s.run(g, feed(up)).to_vector<float>();
  const auto gd = s.run(g, feed(down)).to_vector<float>();
  for (std::size_t i = 0; i < xv.size(); ++i)
    EXPECT_NEAR(analytic[i], (gu[i] - gd[i]) / (2 * h), tolerance) << y.op().type() << " i=" << i;
}

sf::Output conv(const sf::Output& x, const sf::Output& w, std::int64_t stride = 1) {
  return sf::nn::conv2d(x, w, {1, stride, stride, 1}, "SAME");
}

TEST_F(SecondOrderTest, ThroughConv2DBackpropInput) {
  auto w = sf::constant(random_vec(3 * 3 * 2 * 3, 7), {3, 3, 2, 3});
  check_hessian_vector(
      {2, 5, 5, 2}, [&](const sf::Output& x) { return sf::reduce_sum(sf::square(conv(x, w, 2))); },
      1);
}

TEST_F(SecondOrderTest, ThroughConv2DBackpropFilter) {
  auto x = sf::constant(random_vec(2 * 5 * 5 * 2, 8), {2, 5, 5, 2});
  check_hessian_vector(
      {3, 3, 2, 3}, [&](const sf::Output& w) { return sf::reduce_sum(sf::square(conv(x, w))); }, 2);
}

TEST_F(SecondOrderTest, MixedDerivativeOfTheFilterGradientWithRespectToTheInput) {
  // d/dx <dL/dw, v> for L = sum(conv(x, w)^2): Conv2DBackpropFilter's gradient in x.
  auto w = sf::constant(random_vec(3 * 3 * 2 * 2, 9), {3, 3, 2, 2});
  const sf::Shape xs{1, 4, 4, 2};
  auto x = sf::placeholder(sf::float32, xs, "x");
  auto loss = sf::reduce_sum(sf::square(conv(x, w)));
  auto gw = sf::gradients(loss, {w})[0];
  const auto vv = random_vec(3 * 3 * 2 * 2, 10);
  auto v = sf::constant(vv, {3, 3, 2, 2});
  auto hx = sf::gradients(sf::reduce_sum(gw * v), {x})[0];
  ASSERT_TRUE(hx.valid());
  auto xv = random_vec(xs.num_elements(), 11);
  sf::Session s;
  auto at = [&](const std::vector<float>& values) {
    const sf::Tensor t = s.run(gw, {{x, sf::Tensor::from_vector<float>(values, xs)}});
    const std::vector<float> g = t.to_vector<float>();
    double dot = 0;
    for (std::size_t i = 0; i < g.size(); ++i) dot += g[i] * vv[i];
    return dot;
  };
  const auto analytic = s.run(hx, {{x, sf::Tensor::from_vector<float>(xv, xs)}}).to_vector<float>();
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const float h = 1e-2f, saved = xv[i];
    xv[i] = saved + h;
    const double up = at(xv);
    xv[i] = saved - h;
    const double down = at(xv);
    xv[i] = saved;
    EXPECT_NEAR(analytic[i], (up - down) / (2 * h), 2e-3) << "x[" << i << "]";
  }
}

TEST_F(SecondOrderTest, ThroughReluGradAndBiasAddGrad) {
  // Both signs, at least 0.2 from 0, so no element crosses the kink within the step.
  auto xv = random_vec(2 * 3 * 3 * 4, 3, 0.2f, 1.0f);
  for (std::size_t i = 0; i < xv.size(); i += 2) xv[i] = -xv[i];
  check_hessian_vector(
      {2, 3, 3, 4},
      [](const sf::Output& x) { return sf::reduce_sum(sf::nn::relu(x) * sf::square(x)); }, 3, 2e-3,
      -1.0f, 1.0f, false, xv);
  sf::reset_default_graph();
  auto x = sf::constant(random_vec(2 * 3 * 4, 12), {2, 3, 4});
  check_hessian_vector(
      {4}, [&](const sf::Output& b) { return sf::reduce_sum(sf::square(sf::nn::bias_add(x, b))); },
      4);
}

TEST_F(SecondOrderTest, ThroughMaxPoolGradAndAvgPoolGrad) {
  check_hessian_vector(
      {2, 5, 5, 3},
      [](const sf::Output& x) {
        return sf::reduce_sum(sf::square(sf::nn::max_pool(x, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME")));
      },
      5, 2e-3, -1.0f, 1.0f, /*distinct=*/true);
  sf::reset_default_graph();
  check_hessian_vector(
      {2, 5, 5, 3},
      [](const sf::Output& x) {
        return sf::reduce_sum(sf::square(sf::nn::avg_pool(x, {1, 3, 3, 1}, {1, 2, 2, 1}, "VALID")));
      },
      6);
}

// A gradient penalty: P(W) = || d/dx f(x; W) ||^2 for a small CNN, differentiated with respect
// to its conv and dense weights through every second-order gradient above.
TEST_F(SecondOrderTest, GradientPenaltyOfACnnWithRespectToItsWeights) {
  const sf::Shape xs{2, 6, 6, 1};
  auto x = sf::constant(random_vec(xs.num_elements(), 13), xs);
  auto w1 = sf::placeholder(sf::float32, {3, 3, 1, 2}, "w1");
  auto b1 = sf::constant(std::vector<float>{0.05f, -0.02f}, {2});
  auto w2 = sf::constant(random_vec(3 * 3 * 2 * 1, 14), {18, 1});
  auto h = sf::nn::relu(sf::nn::bias_add(conv(x, w1), b1));
  auto p = sf::nn::max_pool(h, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME");
  auto f = sf::matmul(sf::reshape(p, {2, 18}), w2);
  auto gx = sf::gradients(sf::reduce_sum(f), {x})[0];
  auto penalty = sf::reduce_sum(sf::square(gx));
  auto dw = sf::gradients(penalty, {w1})[0];
  ASSERT_TRUE(dw.valid());
  auto wv = random_vec(3 * 3 * 1 * 2, 15);
  sf::Session s;
  auto run = [&](const sf::Output& t) {
    return s.run(t, {{w1, sf::Tensor::from_vector<float>(wv, {3, 3, 1, 2})}});
  };
  const auto analytic = run(dw).to_vector<float>();
  for (std::size_t i = 0; i < wv.size(); ++i) {
    const float step = 1e-2f, saved = wv[i];
    wv[i] = saved + step;
    const double up = run(penalty).scalar<float>();
    wv[i] = saved - step;
    const double down = run(penalty).scalar<float>();
    wv[i] = saved;
    EXPECT_NEAR(analytic[i], (up - down) / (2 * step), 5e-3) << "w1[" << i << "]";
  }
}

TEST_F(SecondOrderTest, SparseSoftmaxCrossEntropySecondDerivativeIsRefusedAsInTf) {
  auto logits = sf::placeholder(sf::float32, {2, 3}, "logits");
  auto labels = sf::constant(std::vector<std::int32_t>{0, 2}, {2});
  auto loss = sf::reduce_sum(sf::nn::sparse_softmax_cross_entropy_with_logits(labels, logits));
  auto g = sf::gradients(loss, {logits})[0];
  try {
    sf::gradients(sf::reduce_sum(sf::square(g)), {logits});
    FAIL() << "no error";
  } catch (const sf::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("no way to take the second derivative"), std::string::npos)
        << e.what();
  }
}

}  // namespace
