// Regularizers and constraints (CONFORMANCE.md cases 69 and 90, TF's
// testVarScopeRegularizer / testVarScopeConstraint): scope inheritance, no_regularizer, one
// loss per created variable (none on reuse, so towers add none), l2_regularizer's op names
// and value, get_regularization_loss, the L2Loss op and its gradient, and optimizers
// applying a variable's constraint after the update.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

class RegularizerTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

float run_scalar(sf::Session& s, const sf::Output& t) { return s.run(t).scalar<float>(); }

// testVarScopeRegularizer, step by step.
TEST_F(RegularizerTest, ScopeRegularizerInheritanceAndNoRegularizer) {
  const auto init = sf::constant_initializer(0.3f);
  sf::Regularizer r1 = [](const sf::Output& v) { return sf::reduce_mean(v) + 0.1f; };
  sf::Regularizer r2 = [](const sf::Output& v) { return sf::reduce_mean(v) + 0.2f; };
  std::vector<sf::Variable> vars;
  {
    sf::variable_scope tower("tower3", {.regularizer = r1});
    {
      sf::variable_scope foo("foo", {.initializer = init});
      vars.push_back(sf::get_variable("v", {}));
    }
    {
      sf::variable_scope vs(tower.get(), {.initializer = init});
      vars.push_back(sf::get_variable("u", {}));
      vs->set_regularizer(r2);
      vars.push_back(sf::get_variable("w", {}));
      // The next three are not regularized.
      vars.push_back(sf::get_variable("x", {}, {.regularizer = sf::no_regularizer}));
      {
        sf::variable_scope baz("baz", {.regularizer = sf::no_regularizer});
        vars.push_back(sf::get_variable("y", {}));
      }
      vs->set_regularizer(sf::no_regularizer);
      vars.push_back(sf::get_variable("z", {}));
    }
    auto losses = sf::get_collection<sf::Output>(sf::GraphKeys::REGULARIZATION_LOSSES);
    ASSERT_EQ(losses.size(), 3u);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    EXPECT_NEAR(run_scalar(s, losses[0]), 0.4f, 1e-6);  // v: r1
    EXPECT_NEAR(run_scalar(s, losses[1]), 0.4f, 1e-6);  // u: r1 (set_regularizer came after)
    EXPECT_NEAR(run_scalar(s, losses[2]), 0.5f, 1e-6);  // w: r2
    // The losses are built under "<variable>/Regularizer/".
    EXPECT_EQ(losses[0].op().name().rfind("tower3/foo/v/Regularizer/", 0), 0u)
        << losses[0].op().name();
    EXPECT_EQ(losses[2].op().name().rfind("tower3/w/Regularizer/", 0), 0u) << losses[2].op().name();
    {
      sf::variable_scope foo("foo", {.reuse = true});
      sf::get_variable("v", {});  // reused: no new loss
    }
  }
  EXPECT_EQ(sf::get_collection<sf::Output>(sf::GraphKeys::REGULARIZATION_LOSSES).size(), 3u);
}

TEST_F(RegularizerTest, GetVariableRegularizerOverridesTheScopes) {
  sf::Regularizer scope_r = [](const sf::Output& v) { return sf::reduce_sum(v); };
  sf::Regularizer own = [](const sf::Output& v) { return sf::reduce_sum(v) * 10.0f; };
  sf::variable_scope s("s", {.initializer = sf::ones_initializer(), .regularizer = scope_r});
  sf::get_variable("a", {2});
  sf::get_variable("b", {2}, {.regularizer = own});
  auto losses = sf::losses::get_regularization_losses();
  ASSERT_EQ(losses.size(), 2u);
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_FLOAT_EQ(run_scalar(sess, losses[0]), 2.0f);
  EXPECT_FLOAT_EQ(run_scalar(sess, losses[1]), 20.0f);
}

TEST_F(RegularizerTest, L2RegularizerNamesAndValue) {
  sf::Variable w;
  {
    sf::variable_scope m("model", {.regularizer = sf::contrib::layers::l2_regularizer(0.5)});
    w = sf::get_variable("w", {3}, {.initializer = sf::constant_initializer(2.0f)});
  }
  auto losses = sf::losses::get_regularization_losses();
  ASSERT_EQ(losses.size(), 1u);
  const sf::Operation mul = losses[0].op();
  EXPECT_EQ(mul.name(), "model/w/Regularizer/l2_regularizer");
  EXPECT_EQ(mul.type(), "Mul");
  ASSERT_EQ(mul.inputs().size(), 2u);
  EXPECT_EQ(mul.inputs()[0].op().name(), "model/w/Regularizer/l2_regularizer/scale");
  EXPECT_EQ(mul.inputs()[1].op().name(), "model/w/Regularizer/l2_regularizer/L2Loss");
  EXPECT_EQ(mul.inputs()[1].op().type(), "L2Loss");
  auto total = sf::losses::get_regularization_loss();
  EXPECT_EQ(total.op().name(), "total_regularization_loss");
  EXPECT_EQ(total.op().type(), "AddN");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  // 0.5 * (3 * 2^2) / 2
  EXPECT_FLOAT_EQ(run_scalar(s, losses[0]), 3.0f);
  EXPECT_FLOAT_EQ(run_scalar(s, total), 3.0f);
}

TEST_F(RegularizerTest, L2RegularizerScaleChecks) {
  EXPECT_THROW(sf::contrib::layers::l2_regularizer(-0.1), sf::ValueError);
  EXPECT_THROW(sf::contrib::layers::l2_regularizer(std::nan("")), sf::ValueError);
  // Scale 0 disables the regularizer: no loss.
  sf::variable_scope m("m", {.regularizer = sf::contrib::layers::l2_regularizer(0.0)});
  sf::get_variable("w", {2});
  EXPECT_TRUE(sf::losses::get_regularization_losses().empty());
  // No losses: the total is the constant 0.
  sf::Session s;
  EXPECT_EQ(run_scalar(s, sf::losses::get_regularization_loss()), 0.0f);
}

// Eleven towers sharing variables by reuse (tower_1 vs tower_10 prefixes): the losses are the
// first tower's, one per variable; the scope filter picks them by variable name.
TEST_F(RegularizerTest, TowersSharingVariablesAddOneLossPerVariable) {
  auto reg = sf::contrib::layers::l2_regularizer(1e-3);
  for (int t = 0; t < 11; ++t) {
    sf::name_scope tower("tower_" + std::to_string(t));
    sf::variable_scope model("model", {.reuse = t > 0, .regularizer = reg});
    sf::get_variable("conv1/weights", {5, 5, 1, 4});
    sf::get_variable("fc/weights", {16, 10});
  }
  EXPECT_EQ(sf::losses::get_regularization_losses().size(), 2u);
  EXPECT_EQ(sf::losses::get_regularization_losses("model/conv1").size(), 1u);
  EXPECT_EQ(sf::losses::get_regularization_losses("model/fc").size(), 1u);
  EXPECT_TRUE(sf::losses::get_regularization_losses("tower_1").empty());
}

// CONFORMANCE case 69: a scope's constraint applies to its own variables, is not inherited by
// sub-scopes, and re-entry by object takes the new scope's (TF's constraint=self._constraint).
TEST_F(RegularizerTest, ConstraintIsNotInherited) {
  sf::Constraint c = [](const sf::Output& x) { return sf::nn::relu(x); };
  sf::Constraint d = [](const sf::Output& x) { return x * 0.0f; };
  sf::VariableScope tower1;
  {
    sf::variable_scope t("tower1");
    tower1 = t.get();
    {
      sf::variable_scope a("a", {.constraint = c});
      EXPECT_TRUE(static_cast<bool>(a->constraint()));
      EXPECT_TRUE(static_cast<bool>(sf::get_variable("v", {}).constraint()));
      sf::variable_scope b("b");
      EXPECT_FALSE(static_cast<bool>(b->constraint()));
      EXPECT_FALSE(static_cast<bool>(sf::get_variable("w", {}).constraint()));
      // get_variable's own constraint wins.
      EXPECT_TRUE(static_cast<bool>(sf::get_variable("x", {}, {.constraint = d}).constraint()));
    }
  }
  {
    sf::variable_scope again(tower1, {.constraint = c});
    EXPECT_TRUE(static_cast<bool>(sf::get_variable("u", {}).constraint()));
  }
  {
    sf::variable_scope again(tower1);
    EXPECT_FALSE(static_cast<bool>(sf::get_variable("y", {}).constraint()));
  }
  // tf.Variable takes one too.
  sf::Variable plain(sf::constant(1.0f), {.name = "plain", .constraint = c});
  EXPECT_TRUE(static_cast<bool>(plain.constraint()));
}

// Optimizers project a constrained variable after updating it (TF's update_op + assign).
TEST_F(RegularizerTest, OptimizerAppliesTheConstraintAfterTheUpdate) {
  sf::Constraint non_negative = [](const sf::Output& x) { return sf::nn::relu(x); };
  auto v = sf::get_variable(
      "v", {.initializer = sf::constant(std::vector<float>{0.5f, 2.0f}, sf::Shape{2}),
            .constraint = non_negative});
  auto free = sf::get_variable(
      "free", {.initializer = sf::constant(std::vector<float>{0.5f, 2.0f}, sf::Shape{2})});
  auto c = sf::constant(std::vector<float>{1.0f, -1.0f}, sf::Shape{2});
  auto loss = sf::reduce_sum(v * c) + sf::reduce_sum(free * c);  // gradients {1, -1}
  sf::train::GradientDescentOptimizer opt(1.0);
  auto step = opt.minimize(loss);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(step);
  EXPECT_EQ(s.run(v.value()).to_vector<float>(), (std::vector<float>{0.0f, 3.0f}));
  EXPECT_EQ(s.run(free.value()).to_vector<float>(), (std::vector<float>{-0.5f, 3.0f}));
  s.run(step);
  EXPECT_EQ(s.run(v.value()).to_vector<float>(), (std::vector<float>{0.0f, 4.0f}));
}

TEST_F(RegularizerTest, ConstraintOfAnotherShapeIsRejected) {
  sf::Constraint bad = [](const sf::Output& x) { return sf::reduce_sum(x); };
  auto v = sf::get_variable("v", {3}, {.constraint = bad});
  auto loss = sf::reduce_sum(v * v);
  sf::train::GradientDescentOptimizer opt(0.1);
  EXPECT_THROW(opt.minimize(loss), sf::ValueError);
}

TEST_F(RegularizerTest, L2LossValueAndGradient) {
  auto x = sf::placeholder(sf::float32, sf::Shape{2, 3}, "x");
  auto l = sf::nn::l2_loss(x);
  EXPECT_EQ(l.op().type(), "L2Loss");
  EXPECT_EQ(l.op().name(), "L2Loss");
  EXPECT_EQ(l.shape(), sf::Shape({}));
  auto g = sf::gradients(l, {x});
  const std::vector<float> xv{1, -2, 3, 0.5f, -0.25f, 0};
  sf::Session s;
  auto feed = sf::Tensor::from_vector<float>(xv, sf::Shape{2, 3});
  EXPECT_FLOAT_EQ(s.run(l, {{x, feed}}).scalar<float>(), (1 + 4 + 9 + 0.25f + 0.0625f) / 2);
  EXPECT_EQ(s.run(g[0], {{x, feed}}).to_vector<float>(), xv);      // d/dx = x
  EXPECT_THROW(sf::nn::l2_loss(sf::constant(1)), sf::ValueError);  // int32
}

}  // namespace
