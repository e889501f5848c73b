// TF1 ops that tutorial scripts use beyond the CNN set: log, sigmoid, tanh (values and
// finite-difference gradients), stop_gradient, expand_dims / squeeze (shapes, values, errors,
// gradients), one_hot, and the dense softmax_cross_entropy_with_logits (v1 and v2), including
// TF1's MNIST-for-beginners loss -reduce_sum(y_ * log(softmax(y)), 1).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <cstring>
#include <string>

#include "tests/support/gradient_check.h"

namespace {

class Tf1OpsTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

using scopeflow::testing::check_gradient;

TEST_F(Tf1OpsTest, LogSigmoidTanhValuesAndGradients) {
  auto x = sf::placeholder(sf::float32, {4}, "x");
  auto l = sf::log(x), s = sf::sigmoid(x), t = sf::nn::tanh(x);
  EXPECT_EQ(l.op().name(), "Log");
  EXPECT_EQ(s.op().name(), "Sigmoid");
  EXPECT_EQ(sf::nn::sigmoid(x).op().type(), "Sigmoid");
  EXPECT_EQ(t.op().name(), "Tanh");
  sf::Session sess;
  const std::vector<float> xv{0.5f, 1.0f, 2.0f, 100.0f};
  auto r = sess.run({l, s, t}, {{x, sf::Tensor::from_vector<float>(xv, {4})}});
  for (std::size_t i = 0; i < xv.size(); ++i) {
    EXPECT_FLOAT_EQ(r[0].to_vector<float>()[i], std::log(xv[i]));
    EXPECT_FLOAT_EQ(r[1].to_vector<float>()[i], 1.0f / (1.0f + std::exp(-xv[i])));
    EXPECT_FLOAT_EQ(r[2].to_vector<float>()[i], std::tanh(xv[i]));
  }
  // Saturated ends: sigmoid(-100) is 0 and sigmoid(100) 1, no NaN.
  auto ends = sess.run(s, {{x, sf::Tensor::from_vector<float>({-100, 100, -1e30f, 1e30f}, {4})}})
                  .to_vector<float>();
  EXPECT_EQ(ends, (std::vector<float>{0.0f, 1.0f, 0.0f, 1.0f}));
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::log(v * v + 0.5f); }, 1);
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::sigmoid(v); }, 2);
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::tanh(v); }, 3);
  EXPECT_THROW(sf::log(sf::placeholder(sf::int32, {2})), sf::ValueError);
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::abs(v) * v; }, 6);
  auto a = sf::placeholder(sf::float32, {5}, "a");
  auto ar = sess.run({sf::abs(a), sf::sign(a), sf::gradients(sf::reduce_sum(sf::sign(a)), {a})[0]},
                     {{a, sf::Tensor::from_vector<float>({-2, -0.0f, 0, 3, NAN}, {5})}});
  EXPECT_EQ(ar[0].to_vector<float>()[0], 2.0f);
  EXPECT_TRUE(std::isnan(ar[0].to_vector<float>()[4]));
  EXPECT_EQ(ar[1].to_vector<float>(), (std::vector<float>{-1, 0, 0, 1, 0}));
  EXPECT_EQ(ar[2].to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 0}));
  // Second derivatives: d/dx (d tanh/dx) = -2 tanh (1 - tanh^2).
  auto x1 = sf::placeholder(sf::float32, {}, "x1");
  auto g1 = sf::gradients(sf::tanh(x1), {x1})[0];
  auto g2 = sf::gradients(g1, {x1})[0];
  const float v = 0.3f, th = std::tanh(v);
  EXPECT_NEAR(sess.run(g2, {{x1, sf::Tensor::from_scalar(v)}}).scalar<float>(),
              -2 * th * (1 - th * th), 1e-6);
}

TEST_F(Tf1OpsTest, StopGradientBlocksTheGradientOnly) {
  auto x = sf::placeholder(sf::float32, {3}, "x");
  auto y = x * sf::stop_gradient(x) + x;  // d/dx = stop(x) + 1
  EXPECT_EQ(y.op().inputs()[0].op().inputs()[1].op().type(), "StopGradient");
  auto g = sf::gradients(sf::reduce_sum(y), {x})[0];
  sf::Session s;
  auto r = s.run({y, g}, {{x, sf::Tensor::from_vector<float>({1, 2, 3}, {3})}});
  EXPECT_EQ(r[0].to_vector<float>(), (std::vector<float>{2, 6, 12}));
  EXPECT_EQ(r[1].to_vector<float>(), (std::vector<float>{2, 3, 4}));
  // Only through stop_gradient: no gradient (TF's None).
  EXPECT_FALSE(sf::gradients(sf::reduce_sum(sf::stop_gradient(x)), {x})[0].valid());
}

TEST_F(Tf1OpsTest, ExpandDimsAndSqueeze) {
  auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
  auto e0 = sf::expand_dims(x, 0), e1 = sf::expand_dims(x, 1), el = sf::expand_dims(x, -1);
  EXPECT_EQ(e0.op().name(), "ExpandDims");
  EXPECT_EQ(e0.op().inputs()[1].op().name(), "ExpandDims/dim");
  EXPECT_EQ(e0.shape(), sf::Shape({1, -1, 3}));
  EXPECT_EQ(e1.shape(), sf::Shape({-1, 1, 3}));
  EXPECT_EQ(el.shape(), sf::Shape({-1, 3, 1}));
  EXPECT_EQ(sf::expand_dims(x, -3).shape(), sf::Shape({1, -1, 3}));
  EXPECT_THROW(sf::expand_dims(x, 3), sf::ValueError);
  EXPECT_THROW(sf::expand_dims(x, -4), sf::ValueError);
  auto s1 = sf::squeeze(e1, {1});
  EXPECT_EQ(s1.op().name(), "Squeeze");
  EXPECT_EQ(s1.shape(), sf::Shape({-1, 3}));
  EXPECT_EQ(sf::squeeze(el, {-1}).shape(), sf::Shape({-1, 3}));
  // Every size-1 dimension, when the shape is known; unknown rank when a dimension is not.
  auto k = sf::placeholder(sf::float32, {1, 2, 1}, "k");
  EXPECT_EQ(sf::squeeze(k).shape(), sf::Shape({2}));
  EXPECT_FALSE(sf::squeeze(x).shape().has_rank());
  EXPECT_THROW(sf::squeeze(k, {1}), sf::ValueError);  // "Can not squeeze dim[1]"

  sf::Session s;
  auto xv = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto r = s.run({e1, s1, sf::squeeze(x)}, {{x, xv}});
  EXPECT_EQ(r[0].shape(), sf::Shape({2, 1, 3}));
  EXPECT_EQ(r[0].to_vector<float>(), xv.to_vector<float>());
  EXPECT_EQ(r[1].shape(), sf::Shape({2, 3}));
  EXPECT_EQ(r[2].shape(), sf::Shape({2, 3}));
  // A listed dimension that is not 1 at run time is an error naming the op.
  auto u = sf::placeholder(sf::float32, {-1, 3}, "u");
  auto su = sf::squeeze(u, {0});
  EXPECT_EQ(su.shape(), sf::Shape({3}));
  try {
    s.run(su, {{u, xv}});
    FAIL() << "expected InvalidArgumentError";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("Squeeze"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected a dimension of 1, got 2"), std::string::npos);
  }
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::expand_dims(v * v, 1); }, 4);
  check_gradient(
      {2, 1, 3}, [](sf::Output v) { return sf::squeeze(v * v, {1}); }, 5);
}

TEST_F(Tf1OpsTest, OneHot) {
  auto ids = sf::placeholder(sf::int64, {-1}, "ids");
  auto h = sf::one_hot(ids, 4);
  EXPECT_EQ(h.op().name(), "one_hot");
  EXPECT_EQ(h.shape(), sf::Shape({-1, 4}));
  EXPECT_EQ(h.dtype(), sf::float32);
  auto h2 = sf::one_hot(ids, 3, 5.0, -1.0);
  auto ids32 = sf::placeholder(sf::int32, {2, 2}, "ids32");
  auto h3 = sf::one_hot(ids32, 2);
  EXPECT_EQ(h3.shape(), sf::Shape({2, 2, 2}));
  sf::Session s;
  auto r =
      s.run({h, h2, h3}, {{ids, sf::Tensor::from_vector<std::int64_t>({2, 0, -1, 4})},
                          {ids32, sf::Tensor::from_vector<std::int32_t>({0, 1, 1, 7}, {2, 2})}});
  // Out of [0, depth): a row of off values (TF).
  EXPECT_EQ(r[0].to_vector<float>(),
            (std::vector<float>{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(r[1].to_vector<float>(),
            (std::vector<float>{-1, -1, 5, 5, -1, -1, -1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(r[2].to_vector<float>(), (std::vector<float>{1, 0, 0, 1, 0, 1, 0, 0}));
  EXPECT_EQ(h.op().type(), "OneHot");
  // on / off written as given (TF selects, it does not scale): -inf off, 0.9 / 0.1 exactly.
  auto h4 = sf::one_hot(ids, 2, 1.0, -INFINITY);
  auto h5 = sf::one_hot(ids, 3, 0.9, 0.1);
  // axis 0: the new dimension first; int64 output.
  auto h6 = sf::one_hot(ids32, 3, 1, 0, 0, sf::int64);
  EXPECT_EQ(h6.shape(), sf::Shape({3, 2, 2}));
  auto r2 =
      s.run({h4, h5, h6}, {{ids, sf::Tensor::from_vector<std::int64_t>({1, 0})},
                           {ids32, sf::Tensor::from_vector<std::int32_t>({0, 1, 2, 5}, {2, 2})}});
  EXPECT_EQ(r2[0].to_vector<float>(), (std::vector<float>{-INFINITY, 1, 1, -INFINITY}));
  EXPECT_EQ(r2[1].to_vector<float>(), (std::vector<float>{0.1f, 0.9f, 0.1f, 0.9f, 0.1f, 0.1f}));
  EXPECT_EQ(r2[2].to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}));
  EXPECT_THROW(sf::one_hot(sf::placeholder(sf::float32, {2}), 3), sf::ValueError);
  EXPECT_THROW(sf::one_hot(ids, 3, 1, 0, 2), sf::ValueError);  // axis beyond rank 1
  EXPECT_THROW(sf::one_hot(ids, -1), sf::ValueError);
  EXPECT_THROW(sf::one_hot(ids, 3, 1, 0, -1, sf::bool_), sf::ValueError);
  // No gradient flows through the indices (TF's NotDifferentiable).
  auto f = sf::placeholder(sf::float32, {2}, "f");
  EXPECT_FALSE(
      sf::gradients(sf::reduce_sum(sf::one_hot(sf::cast(f, sf::int32), 3)), {f})[0].valid());
}

TEST_F(Tf1OpsTest, DenseSoftmaxCrossEntropy) {
  auto labels = sf::placeholder(sf::float32, {-1, 3}, "labels");
  auto logits = sf::placeholder(sf::float32, {-1, 3}, "logits");
  auto v2 = sf::nn::softmax_cross_entropy_with_logits_v2(labels, logits);
  auto v1 = sf::nn::softmax_cross_entropy_with_logits(labels, logits);
  EXPECT_EQ(v2.op().name(), "softmax_cross_entropy_with_logits");
  EXPECT_EQ(v1.op().name(), "softmax_cross_entropy_with_logits_sg");
  EXPECT_EQ(v2.shape(), sf::Shape({-1}));
  // TF1's MNIST for beginners, by hand: -reduce_sum(y_ * log(softmax(y)), 1).
  auto by_hand = -sf::reduce_sum(labels * sf::log(sf::nn::softmax(logits)), {1});
  sf::Session s;
  const auto lv = sf::Tensor::from_vector<float>({0.2f, 0.3f, 0.5f, 0, 1, 0}, {2, 3});
  const auto zv = sf::Tensor::from_vector<float>({1, 2, 3, -50, 40, 2}, {2, 3});
  auto r = s.run({v2, v1, by_hand}, {{labels, lv}, {logits, zv}});
  // Row 0 by hand: log-sum-exp(1, 2, 3) minus the labels' mean logit.
  const double lse = 3 + std::log(std::exp(-2.0) + std::exp(-1.0) + 1.0);
  EXPECT_NEAR(r[0].to_vector<float>()[0], lse - (0.2 * 1 + 0.3 * 2 + 0.5 * 3), 1e-5);
  EXPECT_NEAR(r[0].to_vector<float>()[1], 0.0, 1e-6);  // the label's logit dominates
  EXPECT_EQ(r[0].to_vector<float>(), r[1].to_vector<float>());
  for (int i = 0; i < 2; ++i)
    EXPECT_NEAR(r[0].to_vector<float>()[i], r[2].to_vector<float>()[i], 1e-5);
  // Gradients: w.r.t. logits softmax * sum(labels) - labels (both forms); w.r.t. labels
  // -log_softmax for v2, none for v1.
  auto g2 = sf::gradients(sf::reduce_sum(v2), {logits, labels});
  auto g1 = sf::gradients(sf::reduce_sum(v1), {logits, labels});
  ASSERT_TRUE(g2[1].valid());
  EXPECT_FALSE(g1[1].valid());
  auto gr = s.run({g2[0], g1[0], g2[1], sf::nn::softmax(logits), sf::nn::log_softmax(logits)},
                  {{labels, lv}, {logits, zv}});
  const auto sm = gr[3].to_vector<float>(), ls = gr[4].to_vector<float>(),
             lab = lv.to_vector<float>();
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(gr[0].to_vector<float>()[i], sm[i] - lab[i], 1e-6) << i;
    EXPECT_NEAR(gr[1].to_vector<float>()[i], sm[i] - lab[i], 1e-6) << i;
    EXPECT_NEAR(gr[2].to_vector<float>()[i], -ls[i], 1e-6) << i;
  }
  EXPECT_EQ(v2.op().type(), "SoftmaxCrossEntropyWithLogits");  // TF's fused op
  // Labels that do not sum to 1: TF's backprop is still softmax - labels.
  auto gl = s.run(g1[0], {{labels, sf::Tensor::from_vector<float>({1, 1, 0, 0, 0, 0}, {2, 3})},
                          {logits, zv}})
                .to_vector<float>();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(gl[i], sm[i] - (i < 2 ? 1.0f : 0.0f), 1e-6) << i;
  // An unshaped labels placeholder (TF1's placeholder(float32)) keeps the loss [?].
  auto loose = sf::placeholder(sf::float32, sf::Shape::unknown(), "loose");
  EXPECT_EQ(sf::nn::softmax_cross_entropy_with_logits(loose, logits).shape(), sf::Shape({-1}));
  // Other ranks: flattened to [-1, classes], the loss back in the leading dimensions.
  auto l3 = sf::placeholder(sf::float32, {2, -1, 3}, "l3");
  auto x3 = sf::nn::softmax_cross_entropy_with_logits_v2(l3, l3 * 2.0f);
  EXPECT_EQ(x3.shape(), sf::Shape({2, -1}));
  std::vector<float> v3(12, 0.25f);
  auto r3 = s.run(x3, {{l3, sf::Tensor::from_vector<float>(v3, {2, 2, 3})}});
  EXPECT_EQ(r3.shape(), sf::Shape({2, 2}));
  EXPECT_NEAR(r3.to_vector<float>()[0], 0.75 * std::log(3.0), 1e-6);
  // Second derivatives through the op's backprop output (TF's grad_grad term).
  const auto fixed_labels = sf::constant(std::vector<float>{0.1f, 0.6f, 0.3f, 1, 0, 0}, {2, 3});
  check_gradient(
      {2, 3},
      [&](sf::Output v) {
        auto d = sf::gradients(
            sf::reduce_sum(sf::nn::softmax_cross_entropy_with_logits(fixed_labels, v)), {v})[0];
        return d * d;
      },
      7);
  EXPECT_THROW(sf::nn::softmax_cross_entropy_with_logits(sf::placeholder(sf::float32, {2, 4}),
                                                         sf::placeholder(sf::float32, {2, 3})),
               sf::ValueError);
  EXPECT_THROW(sf::nn::softmax_cross_entropy_with_logits(sf::placeholder(sf::int64, {2}),
                                                         sf::placeholder(sf::float32, {2, 3})),
               sf::ValueError);
}

TEST_F(Tf1OpsTest, WhereAndBooleanMask) {
  auto c = sf::placeholder(sf::bool_, {2, 3}, "c");
  auto w = sf::where(c);
  EXPECT_EQ(w.op().type(), "Where");
  EXPECT_EQ(w.dtype(), sf::int64);
  EXPECT_EQ(w.shape(), sf::Shape({-1, 2}));
  auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
  auto rows = sf::placeholder(sf::bool_, {-1}, "rows");
  auto picked = sf::boolean_mask(x, rows);  // rows of x
  EXPECT_EQ(picked.shape(), sf::Shape({-1, 3}));
  EXPECT_EQ(picked.op().name(), "boolean_mask/GatherV2");
  auto cube = sf::placeholder(sf::float32, {2, 3, 2}, "cube");
  auto cells = sf::boolean_mask(cube, c);  // a 2-D mask over the first two dimensions
  EXPECT_EQ(cells.shape(), sf::Shape({-1, 2}));
  sf::Session s;
  auto cv = sf::Tensor(sf::bool_, sf::Shape{2, 3});
  const bool bits[] = {false, true, true, true, false, false};
  for (int i = 0; i < 6; ++i) static_cast<bool*>(cv.raw_data())[i] = bits[i];
  auto rv = sf::Tensor(sf::bool_, sf::Shape{4});
  const bool rbits[] = {true, false, false, true};
  for (int i = 0; i < 4; ++i) static_cast<bool*>(rv.raw_data())[i] = rbits[i];
  std::vector<float> cube_v(12);
  for (int i = 0; i < 12; ++i) cube_v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  auto r =
      s.run({w, picked, cells},
            {{c, cv},
             {rows, rv},
             {x, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3})},
             {cube, sf::Tensor::from_vector<float>(cube_v, {2, 3, 2})}});
  EXPECT_EQ(r[0].to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 0, 2, 1, 0}));
  EXPECT_EQ(r[1].shape(), sf::Shape({2, 3}));
  EXPECT_EQ(r[1].to_vector<float>(), (std::vector<float>{1, 2, 3, 10, 11, 12}));
  EXPECT_EQ(r[2].to_vector<float>(), (std::vector<float>{2, 3, 4, 5, 6, 7}));
  // A scalar condition: [1, 0] when true, [0, 0] when false (TF).
  auto sc = sf::placeholder(sf::bool_, {}, "sc");
  EXPECT_EQ(s.run(sf::where(sc), {{sc, sf::Tensor::from_scalar(true)}}).shape(), sf::Shape({1, 0}));
  EXPECT_EQ(s.run(sf::where(sc), {{sc, sf::Tensor::from_scalar(false)}}).shape(),
            sf::Shape({0, 0}));
  // The gradient is the gather's: dy's rows scattered back, zeros elsewhere.
  auto g = sf::gradients(sf::reduce_sum(picked * picked), {x})[0];
  auto gv = s.run(
      g, {{rows, rv},
          {x, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3})}});
  EXPECT_EQ(gv.to_vector<float>(), (std::vector<float>{2, 4, 6, 0, 0, 0, 0, 0, 0, 20, 22, 24}));
  // TF's errors.
  EXPECT_THROW(sf::boolean_mask(x, sf::placeholder(sf::float32, {4})), sf::ValueError);
  EXPECT_THROW(sf::boolean_mask(x, sc), sf::ValueError);  // "mask cannot be scalar."
  EXPECT_THROW(sf::boolean_mask(cube, sf::placeholder(sf::bool_, {3})), sf::ValueError);
  EXPECT_THROW(sf::boolean_mask(x, sf::placeholder(sf::bool_, sf::Shape::unknown())),
               sf::ValueError);
  EXPECT_THROW(sf::where(sf::placeholder(sf::string, {2})), sf::ValueError);
  // A mask longer than x's dimension selects a row x does not have: an error, not a guess.
  auto long_mask = sf::Tensor(sf::bool_, sf::Shape{5});
  for (int i = 0; i < 5; ++i) static_cast<bool*>(long_mask.raw_data())[i] = true;
  EXPECT_THROW(
      s.run(picked,
            {{rows, long_mask},
             {x, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3})}}),
      sf::InvalidArgumentError);
}

TEST_F(Tf1OpsTest, ScriptIdiomsWithUnknownShapes) {
  // Linear regression: pred = squeeze(matmul(x, W)) has unknown rank (TF too), and
  // reduce_mean over every axis of it still works (TF's range(rank(x)) at run time).
  auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
  auto y = sf::placeholder(sf::float32, sf::Shape::unknown(), "y");
  auto w = sf::Variable(sf::constant(std::vector<float>{1, 2, 3}, {3, 1}), {.name = "w"});
  auto pred = sf::squeeze(sf::matmul(x, w));
  EXPECT_FALSE(pred.shape().has_rank());
  auto err = sf::square(pred - y);
  auto mse = sf::reduce_mean(err);
  auto total = sf::reduce_sum(err, {}, true);
  auto peak = sf::reduce_max(err);
  EXPECT_EQ(mse.shape(), sf::Shape{});
  auto gw = sf::gradients(mse, {w.value()})[0];
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const sf::FeedDict feeds{{x, sf::Tensor::from_vector<float>({1, 0, 0, 0, 1, 1}, {2, 3})},
                           {y, sf::Tensor::from_vector<float>({0, 1}, {2})}};
  auto r = s.run({mse, total, peak, gw}, feeds);
  // pred = [1, 5]; errors 1 and 16.
  EXPECT_FLOAT_EQ(r[0].scalar<float>(), 8.5f);
  EXPECT_EQ(r[1].shape(), sf::Shape({1}));  // keep_dims: x's rank of ones
  EXPECT_FLOAT_EQ(r[1].to_vector<float>()[0], 17.0f);
  EXPECT_FLOAT_EQ(r[2].scalar<float>(), 16.0f);
  // d mse / dw = mean(2 (pred - y) x) = [1, 4, 4].
  EXPECT_EQ(r[3].to_vector<float>(), (std::vector<float>{1, 4, 4}));
  // One axis as an integer.
  EXPECT_EQ(sf::reduce_sum(x, 1).shape(), sf::Shape({-1}));
  EXPECT_EQ(sf::reduce_mean(x, 0, true).shape(), sf::Shape({1, 3}));
  EXPECT_EQ(sf::reduce_max(x, -1).shape(), sf::Shape({-1}));
  EXPECT_EQ(sf::squeeze(sf::expand_dims(x, 1), 1).shape(), sf::Shape({-1, 3}));
  // An unsigned axis that wrapped (0 - 1 as size_t) is an error, not axis -1.
  std::size_t wrapped = 0;
  --wrapped;
  EXPECT_THROW(sf::reduce_sum(x, wrapped), sf::ValueError);
  EXPECT_THROW(sf::squeeze(x, wrapped), sf::ValueError);
  EXPECT_EQ(sf::reduce_sum(x, std::size_t{1}).shape(), sf::Shape({-1}));
  // reshape with a shape tensor: its length is the rank.
  auto sp = sf::placeholder(sf::int32, {2}, "sp");
  EXPECT_EQ(sf::reshape(x, sp).shape(), sf::Shape({-1, -1}));
  EXPECT_EQ(sf::reduce_mean(sf::reshape(x, sp)).shape(), sf::Shape{});
  // split into equal pieces along a dimension only the run knows.
  auto halves = sf::split(x, 2, 0);
  ASSERT_EQ(halves.size(), 2u);
  EXPECT_EQ(halves[0].shape(), sf::Shape({-1, 3}));
  auto four = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3});
  auto hr = s.run({halves[0], halves[1]}, {{x, four}});
  EXPECT_EQ(hr[0].to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(hr[1].to_vector<float>(), (std::vector<float>{7, 8, 9, 10, 11, 12}));
  auto three = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  EXPECT_THROW(s.run(halves[0], {{x, three}}), sf::InvalidArgumentError);  // 3 rows in 2
}

TEST_F(Tf1OpsTest, ClipByValue) {
  auto x = sf::placeholder(sf::float32, {5}, "x");
  auto c = sf::clip_by_value(x, -1.0, 2.0);
  EXPECT_EQ(c.op().name(), "clip_by_value");
  EXPECT_EQ(c.op().type(), "Maximum");
  EXPECT_EQ(c.op().inputs()[0].op().name(), "clip_by_value/Minimum");
  auto g = sf::gradients(sf::reduce_sum(c * 3.0f), {x})[0];
  sf::Session s;
  auto r = s.run({c, g}, {{x, sf::Tensor::from_vector<float>({-5, -1, 0.5f, 2, 7}, {5})}});
  EXPECT_EQ(r[0].to_vector<float>(), (std::vector<float>{-1, -1, 0.5f, 2, 2}));
  // The gradient passes where x is inside [lo, hi] (the bounds included, as TF's ties).
  EXPECT_EQ(r[1].to_vector<float>(), (std::vector<float>{0, 3, 3, 3, 0}));
  // The beginners' log(clip_by_value(y, 1e-10, 1.0)).
  auto safe = sf::log(sf::clip_by_value(x, 1e-10, 1.0));
  auto v = s.run(safe, {{x, sf::Tensor::from_vector<float>({0, 1, 0.5f, 3, -2}, {5})}})
               .to_vector<float>();
  EXPECT_NEAR(v[0], std::log(1e-10f), 1e-4);
  EXPECT_EQ(v[1], 0.0f);
  // Bounds that would broadcast t to another shape are refused.
  EXPECT_THROW(sf::clip_by_value(x, sf::placeholder(sf::float32, {2, 5}), sf::constant(1.0f)),
               sf::ValueError);
}

TEST_F(Tf1OpsTest, WhereWithThreeArgumentsIsSelect) {
  auto c = sf::placeholder(sf::bool_, {-1, 2}, "c");
  auto rows = sf::placeholder(sf::bool_, {-1}, "rows");
  auto x = sf::placeholder(sf::float32, {-1, 2}, "x");
  auto y = sf::placeholder(sf::float32, {3, -1}, "y");
  auto w = sf::where(c, x, y);
  EXPECT_EQ(w.op().type(), "Select");
  EXPECT_EQ(w.shape(), sf::Shape({3, 2}));
  auto wr = sf::where(rows, x, y);  // whole rows
  auto gs = sf::gradients(sf::reduce_sum(w * w), {x, y});
  sf::Session s;
  auto cv = sf::Tensor(sf::bool_, sf::Shape{3, 2});
  const bool bits[] = {true, false, false, true, true, true};
  for (int i = 0; i < 6; ++i) static_cast<bool*>(cv.raw_data())[i] = bits[i];
  auto rv = sf::Tensor(sf::bool_, sf::Shape{3});
  const bool rbits[] = {false, true, false};
  for (int i = 0; i < 3; ++i) static_cast<bool*>(rv.raw_data())[i] = rbits[i];
  const sf::FeedDict feeds{{c, cv},
                           {rows, rv},
                           {x, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2})},
                           {y, sf::Tensor::from_vector<float>({-1, -2, -3, -4, -5, -6}, {3, 2})}};
  auto r = s.run({w, wr, gs[0], gs[1]}, feeds);
  EXPECT_EQ(r[0].to_vector<float>(), (std::vector<float>{1, -2, -3, 4, 5, 6}));
  EXPECT_EQ(r[1].to_vector<float>(), (std::vector<float>{-1, -2, 3, 4, -5, -6}));
  EXPECT_EQ(r[2].to_vector<float>(), (std::vector<float>{2, 0, 0, 8, 10, 12}));
  EXPECT_EQ(r[3].to_vector<float>(), (std::vector<float>{0, -4, -6, 0, 0, 0}));
  // A scalar condition picks all of x or all of y (tf.where(is_training, a, b)); the
  // condition's shape refines the result's.
  auto flag = sf::placeholder(sf::bool_, sf::Shape::unknown(), "flag");
  auto both = sf::where(flag, x, y);
  EXPECT_EQ(sf::where(sf::placeholder(sf::bool_, {}), x, y).shape(), sf::Shape({3, 2}));
  EXPECT_EQ(sf::where(sf::placeholder(sf::bool_, {3, 2}), x, x).shape(), sf::Shape({3, 2}));
  auto fx = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  auto fy = sf::Tensor::from_vector<float>({-1, -2, -3, -4, -5, -6}, {3, 2});
  EXPECT_EQ(
      s.run(both, {{flag, sf::Tensor::from_scalar(true)}, {x, fx}, {y, fy}}).to_vector<float>(),
      fx.to_vector<float>());
  EXPECT_EQ(
      s.run(both, {{flag, sf::Tensor::from_scalar(false)}, {x, fx}, {y, fy}}).to_vector<float>(),
      fy.to_vector<float>());
  // Strings select on the host.
  auto names = sf::where(sf::constant(true), sf::constant("a"), sf::constant("b"));
  EXPECT_EQ(s.run(names).to_strings(), (std::vector<std::string>{"a"}));
  // TF's errors: a condition of another shape, x and y that differ.
  EXPECT_THROW(sf::where(sf::placeholder(sf::bool_, {2}), x, y), sf::ValueError);
  EXPECT_THROW(sf::where(c, x, sf::placeholder(sf::float32, {3, 3})), sf::ValueError);
  EXPECT_THROW(sf::where(c, x, sf::placeholder(sf::int32, {3, 2})), sf::ValueError);
  EXPECT_THROW(sf::where(x, x, x), sf::ValueError);
  // At run time too.
  auto short_c = sf::Tensor(sf::bool_, sf::Shape{2, 2});
  std::memset(short_c.raw_data(), 1, 4);
  EXPECT_THROW(s.run(w, {{c, short_c},
                         {x, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2})},
                         {y, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2})}}),
               sf::InvalidArgumentError);
}

TEST_F(Tf1OpsTest, SigmoidCrossEntropyAndLog1p) {
  auto z = sf::placeholder(sf::float32, {-1, 3}, "z");
  auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
  auto loss = sf::nn::sigmoid_cross_entropy_with_logits(z, x);
  EXPECT_EQ(loss.op().name(), "logistic_loss");
  EXPECT_EQ(loss.shape(), sf::Shape({-1, 3}));
  auto g = sf::gradients(sf::reduce_sum(loss), {x, z});
  sf::Session s;
  const std::vector<float> xv{-100, -2, -0.5f, 0, 0.5f, 3, 100, 1e-8f, -30};
  const std::vector<float> zv{0, 1, 0.3f, 1, 0, 0.7f, 0, 1, 1};
  auto r = s.run({loss, g[0], g[1]}, {{x, sf::Tensor::from_vector<float>(xv, {3, 3})},
                                      {z, sf::Tensor::from_vector<float>(zv, {3, 3})}});
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double xd = xv[i], zd = zv[i];
    const double want = std::max(xd, 0.0) - xd * zd + std::log1p(std::exp(-std::abs(xd)));
    EXPECT_NEAR(r[0].to_vector<float>()[i], want, 1e-5 * (1 + std::abs(want))) << i;
    EXPECT_NEAR(r[1].to_vector<float>()[i], 1 / (1 + std::exp(-xd)) - zd, 1e-6) << i;
    EXPECT_NEAR(r[2].to_vector<float>()[i], -xd, 1e-5 * (1 + std::abs(xd))) << i;
  }
  // log1p keeps tiny values that log(1 + x) rounds away.
  auto t = sf::placeholder(sf::float32, {}, "t");
  EXPECT_FLOAT_EQ(s.run(sf::log1p(t), {{t, sf::Tensor::from_scalar(1e-10f)}}).scalar<float>(),
                  1e-10f);
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::log1p(v * v); }, 8);
  EXPECT_THROW(sf::nn::sigmoid_cross_entropy_with_logits(sf::placeholder(sf::float32, {2, 4}), x),
               sf::ValueError);
}

TEST_F(Tf1OpsTest, Transpose) {
  auto x = sf::placeholder(sf::float32, {-1, 2, 3}, "x");
  auto t = sf::transpose(x, {2, 0, 1});
  EXPECT_EQ(t.op().name(), "transpose");
  EXPECT_EQ(t.op().type(), "Transpose");
  EXPECT_EQ(t.shape(), sf::Shape({3, -1, 2}));
  EXPECT_EQ(sf::transpose(x).shape(), sf::Shape({3, 2, -1}));  // reversed by default
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  sf::Session s;
  auto r = s.run(t, {{x, sf::Tensor::from_vector<float>(v, {2, 2, 3})}});
  EXPECT_EQ(r.shape(), sf::Shape({3, 2, 2}));
  // out[k][a][b] = x[a][b][k]
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}));
  auto m = sf::constant(std::vector<std::string>{"a", "b", "c", "d", "e", "f"}, {2, 3});
  EXPECT_EQ(s.run(sf::transpose(m)).to_strings(),
            (std::vector<std::string>{"a", "d", "b", "e", "c", "f"}));
  check_gradient(
      {2, 3, 4},
      [](sf::Output u) {
        return sf::transpose(u * u, {1, 2, 0});
      },
      9);
  EXPECT_THROW(sf::transpose(x, {0, 1}), sf::ValueError);
  EXPECT_THROW(sf::transpose(x, {0, 1, 1}), sf::ValueError);
  EXPECT_THROW(sf::transpose(x, {0, 1, 3}), sf::ValueError);
}

}  // namespace
