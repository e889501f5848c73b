// sf::gradients against hand-derived and finite-difference gradients, and one step of each
// optimizer against a hand-computed update; slots, global step, tower-scope safety.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>

namespace {

class TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::vector<float> run(sf::Session& s, const sf::Output& o, const sf::FeedDict& f = {}) {
  return s.run(o, f).to_vector<float>();
}

TEST_F(TrainingTest, GradientsOfAnExpression) {
  auto x = sf::get_variable("x", {3}, {.initializer = sf::constant_initializer(2.0)});
  auto y = sf::reduce_sum(x * x + 3.0f * x);
  auto g = sf::gradients(y, std::vector<sf::Variable>{x});
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].op().name().rfind("gradients/", 0), 0u) << g[0].op().name();
  sf::Session s;
  s.run(x.initializer());
  EXPECT_EQ(run(s, g[0]), (std::vector<float>{7, 7, 7}));  // 2x + 3
}

TEST_F(TrainingTest, BroadcastGradientsAreReducedToTheInputShape) {
  auto a = sf::get_variable("a", {2, 3}, {.initializer = sf::constant_initializer(1.0)});
  auto b = sf::get_variable("b", {3}, {.initializer = sf::constant_initializer(2.0)});
  auto c = sf::get_variable("c", {}, {.initializer = sf::constant_initializer(4.0)});
  auto y = sf::reduce_mean((a + b) * c);
  auto g = sf::gradients(y, std::vector<sf::Variable>{a, b, c});
  sf::Session s;
  s.run(sf::global_variables_initializer());
  EXPECT_EQ(g[0].shape(), sf::Shape({2, 3}));
  EXPECT_EQ(g[1].shape(), sf::Shape({3}));
  EXPECT_EQ(g[2].shape(), sf::Shape{});
  for (float v : run(s, g[0])) EXPECT_FLOAT_EQ(v, 4.0f / 6);
  for (float v : run(s, g[1])) EXPECT_FLOAT_EQ(v, 2 * 4.0f / 6);
  EXPECT_FLOAT_EQ(run(s, g[2])[0], 3.0f);  // mean of (a + b) = 3
}

TEST_F(TrainingTest, UnconnectedAndNonDifferentiable) {
  auto x = sf::get_variable("x", {2});
  auto z = sf::get_variable("z", {2});
  auto g = sf::gradients(sf::reduce_sum(x), std::vector<sf::Variable>{x, z});
  EXPECT_TRUE(g[0].valid());
  EXPECT_FALSE(g[1].valid());
  // ArgMax is not differentiable and Cast to an integer has no gradient (TF gives None); every
  // registered op has a gradient or is marked so (registry_completeness_test), so "No gradient
  // defined for operation" cannot be reached through registered ops any more.
  auto idx = sf::cast(sf::argmax(x.value(), 0), sf::float32);
  EXPECT_FALSE(sf::gradients(idx, std::vector<sf::Variable>{x})[0].valid());
  auto ints = sf::cast(sf::cast(x.value(), sf::int32), sf::float32);
  EXPECT_FALSE(sf::gradients(sf::reduce_sum(ints), std::vector<sf::Variable>{x})[0].valid());
  EXPECT_EQ(sf::get_name_scope(), "");
}

TEST_F(TrainingTest, MaxGradientSplitsTiesAsTf) {
  // TF's _MinOrMaxGrad: the gradient goes to every maximum, divided by their count.
  auto x = sf::get_variable(
      "x", {.initializer = sf::constant(std::vector<float>{1, 3, 3, 2, 0, 1}, {2, 3})});
  auto g = sf::gradients(sf::reduce_max(x, {1}), std::vector<sf::Variable>{x});
  auto all = sf::gradients(sf::reduce_max(x) * 4.0f, std::vector<sf::Variable>{x});
  auto kept = sf::gradients(sf::reduce_max(x, {0}, true), std::vector<sf::Variable>{x});
  sf::Session s;
  s.run(x.initializer());
  EXPECT_EQ(run(s, g[0]), (std::vector<float>{0, 0.5f, 0.5f, 1, 0, 0}));
  EXPECT_EQ(run(s, all[0]), (std::vector<float>{0, 2, 2, 0, 0, 0}));
  EXPECT_EQ(run(s, kept[0]), (std::vector<float>{0, 1, 1, 1, 0, 0}));
}

// Finite differences of the whole CNN loss, perturbing one weight at a time in the session.
TEST_F(TrainingTest, CnnGradientsMatchFiniteDifferences) {
  sf::set_random_seed(11);
  auto images = sf::placeholder(sf::float32, {2, 6, 6, 2}, "images");
  auto labels = sf::placeholder(sf::int32, {2}, "labels");
  sf::Variable w, b, d;
  sf::Output loss;
  {
    sf::variable_scope s("net");
    w = sf::get_variable("conv_w", {3, 3, 2, 3});
    b = sf::get_variable("conv_b", {3}, {.initializer = sf::random_uniform_initializer(-0.1, 0.1)});
    d = sf::get_variable("dense", {27, 4});
    auto h = sf::nn::relu(sf::nn::bias_add(sf::nn::conv2d(images, w, {1, 1, 1, 1}, "SAME"), b));
    auto p = sf::nn::max_pool(h, {1, 2, 2, 1}, {1, 2, 2, 1}, "VALID");
    auto logits = sf::matmul(sf::reshape(p, {2, -1}), d);
    loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(labels, logits));
  }
  auto grads = sf::gradients(loss, std::vector<sf::Variable>{w, b, d});
  std::vector<float> img(2 * 6 * 6 * 2);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = std::sin(0.37f * static_cast<float>(i));
  sf::FeedDict feed{{images, sf::Tensor::from_vector<float>(img, {2, 6, 6, 2})},
                    {labels, sf::Tensor::from_vector<std::int32_t>({1, 3})}};
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const std::vector<sf::Variable> vars{w, b, d};
  for (std::size_t k = 0; k < vars.size(); ++k) {
    auto analytic = run(s, grads[k], feed);
    auto base = s.run(vars[k]).to_vector<float>();
    auto delta = sf::placeholder(sf::float32, vars[k].shape());
    auto set = vars[k].assign(delta);
    for (std::size_t i = 0; i < base.size(); i += std::max<std::size_t>(1, base.size() / 7)) {
      const float h = 1e-3f;
      auto v = base;
      v[i] = base[i] + h;
      s.run(set, {{delta, sf::Tensor::from_vector<float>(v, vars[k].shape())}});
      const double up = run(s, loss, feed)[0];
      v[i] = base[i] - h;
      s.run(set, {{delta, sf::Tensor::from_vector<float>(v, vars[k].shape())}});
      const double down = run(s, loss, feed)[0];
      s.run(set, {{delta, sf::Tensor::from_vector<float>(base, vars[k].shape())}});
      EXPECT_NEAR(analytic[i], (up - down) / (2 * h), 2e-3) << vars[k].name() << "[" << i << "]";
    }
  }
}

TEST_F(TrainingTest, GradientDescentStep) {
  auto v = sf::get_variable("v", {.initializer = sf::constant(std::vector<float>{1, 2}, {2})});
  auto step = sf::train::GradientDescentOptimizer(0.1).minimize(sf::reduce_sum(v * v));
  EXPECT_EQ(step.name(), "GradientDescent");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  auto before = s.run(v);
  s.run(step);
  auto after = s.run(v).to_vector<float>();
  EXPECT_FLOAT_EQ(after[0], 0.8f);
  EXPECT_FLOAT_EQ(after[1], 1.6f);
  EXPECT_EQ(before.to_vector<float>(), (std::vector<float>{1, 2}))
      << "a fetched value changed later";
}

TEST_F(TrainingTest, MomentumTwoSteps) {
  auto v = sf::get_variable("v", {}, {.initializer = sf::constant_initializer(1.0)});
  sf::train::MomentumOptimizer opt(0.1, 0.9);
  auto step = opt.minimize(v * v);
  EXPECT_EQ(opt.get_slot(v, "momentum").name(), "v/Momentum:0");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(step);  // accum = 2; v = 1 - 0.2 = 0.8
  EXPECT_FLOAT_EQ(s.run(v).scalar<float>(), 0.8f);
  s.run(step);  // accum = 0.9*2 + 1.6 = 3.4; v = 0.8 - 0.34 = 0.46
  EXPECT_NEAR(s.run(v).scalar<float>(), 0.46f, 1e-6);
}

TEST_F(TrainingTest, AdamFirstStepMovesByTheLearningRate) {
  auto v = sf::get_variable("v", {.initializer = sf::constant(std::vector<float>{1, -3}, {2})});
  sf::train::AdamOptimizer opt(0.01);
  auto step = opt.minimize(sf::reduce_sum(v * v));
  EXPECT_EQ(opt.get_slot(v, "m").name(), "v/Adam:0");
  EXPECT_EQ(opt.get_slot(v, "v").name(), "v/Adam_1:0");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(step);
  // Step 1: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(1-b2)/(1-b1): update = lr * sign(g) (+eps).
  auto after = s.run(v).to_vector<float>();
  EXPECT_NEAR(after[0], 1 - 0.01f, 1e-6);
  EXPECT_NEAR(after[1], -3 + 0.01f, 1e-6);
  auto beta1_power = sf::get_default_graph().operation_by_name("beta1_power");
  EXPECT_NEAR(s.run(beta1_power.output(0)).scalar<float>(), 0.81f, 1e-7);
}

TEST_F(TrainingTest, SlotsAndGlobalStepFromInsideAReusingTowerScope) {
  sf::Output loss0, loss1;
  {
    sf::variable_scope t("model");
    loss0 = sf::reduce_sum(sf::get_variable("w", {2}) * 2.0f);
  }
  {
    sf::variable_scope t("model", {.reuse = true});
    loss1 = sf::reduce_sum(sf::get_variable("w", {2}) * 3.0f);
  }
  auto global_step = sf::train::get_or_create_global_step();
  sf::train::MomentumOptimizer opt(0.1, 0.9);
  sf::Operation train;
  {
    sf::variable_scope t("model", {.reuse = true});  // the classic TF1 trap: slots under reuse
    train = opt.minimize(loss0 + loss1, global_step);
  }
  EXPECT_EQ(sf::global_variables().size(), 3u);  // model/w, global_step, model/w/Momentum
  EXPECT_EQ(sf::trainable_variables().size(), 1u);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(train);
  s.run(train);
  EXPECT_EQ(s.run(global_step).scalar<std::int64_t>(), 2);
}

TEST_F(TrainingTest, LinearRegressionConverges) {
  sf::set_random_seed(3);
  auto x = sf::placeholder(sf::float32, {8, 1}, "x");
  auto y = sf::placeholder(sf::float32, {8, 1}, "y");
  auto w = sf::get_variable("w", {1, 1});
  auto b = sf::get_variable("b", {1}, {.initializer = sf::zeros_initializer()});
  auto pred = sf::matmul(x, w) + b;
  auto err = pred - y;
  auto loss = sf::reduce_mean(err * err);
  auto train = sf::train::AdamOptimizer(0.1).minimize(loss);
  std::vector<float> xs, ys;
  for (int i = 0; i < 8; ++i) {
    xs.push_back(static_cast<float>(i) / 4);
    ys.push_back(3.0f * xs.back() - 1.0f);
  }
  sf::FeedDict feed{{x, sf::Tensor::from_vector<float>(xs, {8, 1})},
                    {y, sf::Tensor::from_vector<float>(ys, {8, 1})}};
  sf::Session s;
  s.run(sf::global_variables_initializer());
  for (int step = 0; step < 400; ++step) s.run(train, feed);
  EXPECT_NEAR(s.run(w).scalar<float>(), 3.0f, 0.02f);
  EXPECT_NEAR(s.run(b).scalar<float>(), -1.0f, 0.02f);
}

}  // namespace
