// tf.layers: towers sharing a layer stack through variable_scope reuse, dropout on a training
// tensor, options (dilation, regularizers, trainable, use_bias), TF's errors, training a
// small CNN built from layers. Names and values against TF 2.21: golden case layers_cnn.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

class LayersTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

sf::Output relu(const sf::Output& x) { return sf::nn::relu(x); }

sf::Output tower_net(const sf::Output& x) {
  auto h = sf::layers::conv2d(x, 4, {3, 3}, {.padding = "same", .activation = relu});
  h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
  return sf::layers::dense(sf::layers::flatten(h), 3);
}

TEST_F(LayersTest, TowersShareTheLayerStackThroughReuse) {
  auto x = sf::placeholder(sf::float32, {2, 4, 4, 1}, "x");
  std::vector<sf::Output> outs;
  for (int i = 0; i < 11; ++i) {
    sf::variable_scope model("model", {.reuse = i > 0});
    sf::name_scope tower("tower_" + std::to_string(i));
    outs.push_back(tower_net(x));
  }
  // One set of variables whatever the tower count; each tower's ops in its own name scope.
  std::vector<std::string> names;
  for (const auto& v : sf::trainable_variables()) names.push_back(v.op().name());
  EXPECT_EQ(names, (std::vector<std::string>{"model/conv2d/kernel", "model/conv2d/bias",
                                             "model/dense/kernel", "model/dense/bias"}));
  EXPECT_EQ(outs[10].op().name(), "model_10/tower_10/dense/BiasAdd");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  std::vector<float> xv(32);
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(static_cast<float>(i));
  const sf::FeedDict feed{{x, sf::Tensor::from_vector<float>(xv, {2, 4, 4, 1})}};
  EXPECT_EQ(s.run(outs[0], feed).to_vector<float>(), s.run(outs[10], feed).to_vector<float>());
}

TEST_F(LayersTest, DropoutFollowsTheTrainingTensor) {
  auto x = sf::constant(std::vector<float>(4000, 1.0f), {4000}, "x");
  auto training = sf::placeholder(sf::bool_, {}, "training");
  auto y = sf::layers::dropout(x, 0.25, training, 7);
  EXPECT_EQ(y.op().name(), "dropout/cond/Merge");
  sf::Session s;
  auto kept = s.run(y, {{training, sf::Tensor::from_scalar(false)}}).to_vector<float>();
  EXPECT_EQ(kept, std::vector<float>(4000, 1.0f));
  auto dropped = s.run(y, {{training, sf::Tensor::from_scalar(true)}}).to_vector<float>();
  int zeros = 0;
  for (float v : dropped) {
    if (v == 0.0f)
      ++zeros;
    else
      EXPECT_FLOAT_EQ(v, 1.0f / 0.75f);
  }
  EXPECT_NEAR(zeros / 4000.0, 0.25, 0.03);
  // A bool: no cond (an Identity, or the dropout itself).
  EXPECT_EQ(sf::layers::dropout(x, 0.5, false).op().name(), "dropout_1/Identity");
  EXPECT_EQ(sf::layers::dropout(x, 0.0, true).op().type(), "Identity");
}

TEST_F(LayersTest, OptionsAsTensorFlow) {
  auto x = sf::placeholder(sf::float32, {1, 7, 7, 2}, "x");
  auto y = sf::layers::conv2d(x, 3, {3, 3},
                              {.strides = {2, 2},
                               .padding = "SAME",
                               .dilation_rate = {1, 1},
                               .use_bias = false,
                               .kernel_regularizer = sf::contrib::layers::l2_regularizer(0.5),
                               .trainable = false,
                               .name = "c"});
  EXPECT_EQ(y.shape(), sf::Shape({1, 4, 4, 3}));
  EXPECT_TRUE(sf::trainable_variables().empty());
  ASSERT_EQ(sf::global_variables().size(), 1u);
  EXPECT_EQ(sf::get_default_graph().collection(sf::GraphKeys::REGULARIZATION_LOSSES).size(), 1u);
  auto z = sf::layers::conv2d(x, 1, {3, 3}, {.dilation_rate = {2, 2}});
  EXPECT_EQ(z.shape(), sf::Shape({1, 3, 3, 1}));
  auto p = sf::layers::average_pooling2d(x, {3, 3}, {2, 2}, "valid", "pool");
  EXPECT_EQ(p.op().name(), "pool/AvgPool");
  EXPECT_EQ(p.shape(), sf::Shape({1, 3, 3, 2}));
  EXPECT_EQ(sf::layers::flatten(x).shape(), sf::Shape({1, 98}));
  // Errors, each naming what is wrong.
  EXPECT_THROW(sf::layers::conv2d(x, 3, {3, 3}, {.padding = "full"}), sf::ValueError);
  // Rank 4 goes through tensordot and 0 units build, as TF 2.21 (TensordotTest); rank 1 and
  // negative units do not.
  EXPECT_EQ(sf::layers::dense(x, 3).shape().dims().back(), 3);
  EXPECT_THROW(sf::layers::dense(sf::layers::flatten(x), -1), sf::ValueError);
  EXPECT_THROW(sf::layers::dense(sf::placeholder(sf::float32, {4}), 3), sf::ValueError);
  EXPECT_THROW(sf::layers::dropout(x, 1.0, true), sf::ValueError);
  EXPECT_THROW(sf::layers::conv2d(sf::placeholder(sf::float32, {3, 3}), 1, {1, 1}), sf::ValueError);
  // Checked before any variable is made (TF's layer constructors).
  const auto vars = sf::global_variables().size();
  EXPECT_THROW(sf::layers::conv2d(x, 2, {3, 3}, {.strides = {0, 0}}), sf::ValueError);
  EXPECT_THROW(sf::layers::conv2d(x, 2, {3, 3}, {.strides = {2, 2}, .dilation_rate = {2, 2}}),
               sf::ValueError);
  EXPECT_EQ(sf::global_variables().size(), vars);
  EXPECT_THROW(sf::layers::max_pooling2d(x, {-1, 2}, {1, 1}), sf::ValueError);
  EXPECT_THROW(sf::layers::average_pooling2d(x, {2, 2}, {0, 1}), sf::ValueError);
  EXPECT_EQ(sf::layers::dropout(x, 1.0, false).op().type(), "Identity");
  // flatten of shapes known only in part, or not at all, is computed at run time.
  auto partial = sf::placeholder(sf::float32, {-1, -1, 3}, "partial");
  auto any = sf::placeholder(sf::float32, sf::Shape::unknown(), "any");
  auto fp = sf::layers::flatten(partial), fa = sf::layers::flatten(any);
  auto fb = sf::layers::flatten(sf::placeholder(sf::float32, {2, -1, 3}));
  EXPECT_EQ(fp.shape(), sf::Shape({-1, -1}));
  EXPECT_EQ(fb.shape(), sf::Shape({2, -1}));
  {
    sf::Session s;
    const auto v = sf::Tensor::from_vector<float>(std::vector<float>(30, 1.0f), {2, 5, 3});
    EXPECT_EQ(s.run(fp, {{partial, v}}).shape(), sf::Shape({2, 15}));
    EXPECT_EQ(s.run(fa, {{any, v}}).shape(), sf::Shape({2, 15}));
  }
  // The same name without reuse: TF's error; with reuse: shared.
  sf::layers::dense(sf::layers::flatten(x), 2, {.name = "fc"});
  EXPECT_THROW(sf::layers::dense(sf::layers::flatten(x), 2, {.name = "fc"}), sf::ValueError);
  auto shared = sf::layers::dense(sf::layers::flatten(x), 2, {.name = "fc", .reuse = true});
  EXPECT_EQ(shared.op().name(), "fc_2/BiasAdd");
}

TEST_F(LayersTest, TrainsACnnBuiltFromLayers) {
  auto x = sf::placeholder(sf::float32, {8, 6, 6, 1}, "x");
  auto labels = sf::placeholder(sf::int32, {8}, "labels");
  auto training = sf::placeholder(sf::bool_, {}, "training");
  sf::set_random_seed(3);
  auto h = sf::layers::conv2d(x, 8, {3, 3}, {.padding = "same", .activation = relu});
  h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
  h = sf::layers::dense(sf::layers::flatten(h), 16, {.activation = relu});
  h = sf::layers::dropout(h, 0.1, training);
  auto logits = sf::layers::dense(h, 2);
  auto loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(labels, logits));
  auto train = sf::train::AdamOptimizer(0.01).minimize(loss);
  std::vector<float> xv(8 * 36);
  std::vector<std::int32_t> lv(8);
  for (int n = 0; n < 8; ++n) {
    lv[static_cast<std::size_t>(n)] = n % 2;
    for (int i = 0; i < 36; ++i)
      xv[static_cast<std::size_t>(n * 36 + i)] = (n % 2 ? 1.0f : -1.0f) * (i % 6) / 6.0f;
  }
  sf::Session s;
  s.run(sf::global_variables_initializer());
  auto feed = [&](bool t) {
    return sf::FeedDict{{x, sf::Tensor::from_vector<float>(xv, {8, 6, 6, 1})},
                        {labels, sf::Tensor::from_vector<std::int32_t>(lv, {8})},
                        {training, sf::Tensor::from_scalar(t)}};
  };
  const float before = s.run(loss, feed(false)).scalar<float>();
  for (int i = 0; i < 60; ++i) s.run({}, {train}, feed(true));
  const float after = s.run(loss, feed(false)).scalar<float>();
  EXPECT_LT(after, before * 0.2f) << before << " -> " << after;
}

// ---------------------------------------------------------------- batch_normalization
std::vector<float> pattern(std::int64_t n, float scale, float shift) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = std::sin(static_cast<float>(i) * scale) * 2.0f + shift;
  return v;
}

TEST_F(LayersTest, BatchNormalizationFusedAndComposedAgree) {
  // The same layer through the fused kernel and the composed ops: one output, one moving mean;
  // the moving variance from the fused kernel is Bessel-corrected (n / (n - 1)), as TF's.
  const std::vector<float> xv = pattern(2 * 3 * 3 * 5, 0.7f, 0.5f);
  auto x = sf::placeholder(sf::float32, {2, 3, 3, 5}, "x");
  auto fused = sf::layers::batch_normalization(x, true, {.name = "fused"});
  auto composed = sf::layers::batch_normalization(x, true, {.name = "composed", .fused = false});
  EXPECT_EQ(fused.op().type(), "FusedBatchNormV3");
  EXPECT_EQ(composed.op().type(), "AddV2");
  auto updates = sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS);
  ASSERT_EQ(updates.size(), 4u);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const sf::FeedDict feed{{x, sf::Tensor::from_vector<float>(xv, {2, 3, 3, 5})}};
  const auto r = s.run({fused, composed}, feed);
  const auto a = r[0].to_vector<float>(), b = r[1].to_vector<float>();
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5f) << i;
  s.run({}, updates, feed);
  auto value = [&](const std::string& name) {
    for (const auto& v : sf::global_variables())
      if (v.op().name() == name) return s.run(v.value()).to_vector<float>();
    ADD_FAILURE() << "no variable " << name;
    return std::vector<float>{};
  };
  const auto fm = value("fused/moving_mean"), cm = value("composed/moving_mean");
  const auto fv = value("fused/moving_variance"), cv = value("composed/moving_variance");
  for (std::size_t c = 0; c < 5; ++c) {
    EXPECT_NEAR(fm[c], cm[c], 1e-6f);
    EXPECT_NE(fm[c], 0.0f);
    // moving = 0.99 * 1 + 0.01 * variance: the variances differ by n / (n - 1), n = 18.
    EXPECT_NEAR((fv[c] - 0.99f) / 0.01f, (cv[c] - 0.99f) / 0.01f * 18.0f / 17.0f, 1e-3f) << c;
  }
}

TEST_F(LayersTest, BatchNormalizationChannelsFirstMatchesChannelsLast) {
  const std::int64_t n = 2, h = 3, w = 4, c = 3;
  const std::vector<float> nhwc = pattern(n * h * w * c, 0.37f, -0.25f);
  std::vector<float> nchw(nhwc.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t k = 0; k < c; ++k)
          nchw[static_cast<std::size_t>(((i * c + k) * h + y) * w + x)] =
              nhwc[static_cast<std::size_t>(((i * h + y) * w + x) * c + k)];
  auto a = sf::placeholder(sf::float32, {n, h, w, c}, "a");
  auto b = sf::placeholder(sf::float32, {n, c, h, w}, "b");
  const sf::InitializerArg gamma = sf::constant_initializer(1.5);
  auto ya = sf::layers::batch_normalization(a, true, {.gamma_initializer = gamma});
  auto yb = sf::layers::batch_normalization(b, true, {.axis = 1, .gamma_initializer = gamma});
  EXPECT_EQ(yb.op().type(), "FusedBatchNormV3");
  // The composed ops on the same NCHW data: statistics and gamma / beta reshaped to
  // [1, C, 1, 1] to broadcast, as TF's non-fused layer.
  auto yc = sf::layers::batch_normalization(
      b, true, {.axis = 1, .gamma_initializer = gamma, .fused = false});
  EXPECT_EQ(yc.op().type(), "AddV2");
  auto ga = sf::gradients(sf::reduce_sum(ya * ya * ya), {a})[0];
  auto gb = sf::gradients(sf::reduce_sum(yb * yb * yb), {b})[0];
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const auto r =
      s.run({ya, yb, ga, gb, yc}, {{a, sf::Tensor::from_vector<float>(nhwc, {n, h, w, c})},
                                   {b, sf::Tensor::from_vector<float>(nchw, {n, c, h, w})}});
  const auto y1 = r[0].to_vector<float>(), y2 = r[1].to_vector<float>();
  const auto g1 = r[2].to_vector<float>(), g2 = r[3].to_vector<float>();
  const auto y3 = r[4].to_vector<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t k = 0; k < c; ++k) {
          const auto p = static_cast<std::size_t>(((i * h + y) * w + x) * c + k);
          const auto q = static_cast<std::size_t>(((i * c + k) * h + y) * w + x);
          ASSERT_NEAR(y1[p], y2[q], 1e-5f);
          ASSERT_NEAR(y2[q], y3[q], 1e-5f);
          ASSERT_NEAR(g1[p], g2[q], 1e-4f);
        }
}

TEST_F(LayersTest, BatchNormalizationTowersShareOneSetOfStatistics) {
  auto x = sf::placeholder(sf::float32, {4, 2, 2, 3}, "x");
  std::vector<sf::Output> outs;
  for (int i = 0; i < 11; ++i) {
    sf::variable_scope model("model", {.reuse = i > 0});
    sf::name_scope tower("tower_" + std::to_string(i));
    outs.push_back(sf::layers::batch_normalization(x, true));
  }
  std::vector<std::string> names;
  for (const auto& v : sf::global_variables()) names.push_back(v.op().name());
  EXPECT_EQ(names, (std::vector<std::string>{"model/batch_normalization/gamma",
                                             "model/batch_normalization/beta",
                                             "model/batch_normalization/moving_mean",
                                             "model/batch_normalization/moving_variance"}));
  EXPECT_EQ(sf::trainable_variables().size(), 2u);
  // Each tower updates the shared statistics: two updates per tower.
  const auto updates = sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS);
  ASSERT_EQ(updates.size(), 22u);
  EXPECT_EQ(updates[21].name(), "model_10/tower_10/batch_normalization/AssignMovingAvg_1");
}

TEST_F(LayersTest, BatchNormalizationErrorsNameTheProblem) {
  auto expect_value_error = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; expected: " << needle;
    } catch (const sf::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto x = sf::placeholder(sf::float32, {2, 3, 3, 4}, "x");
  expect_value_error([&] { sf::layers::batch_normalization(x, false, {.axis = 4}); },
                     "Invalid axis: 4");
  expect_value_error(
      [&] {
        sf::layers::batch_normalization(sf::placeholder(sf::int32, {2, 3}), true);
      },
      "inputs must be float32");
  expect_value_error(
      [&] {
        sf::layers::batch_normalization(sf::placeholder(sf::float32, {2, -1}), true);
      },
      "Input has undefined `axis` dimension");
  // A training tensor that is not a bool: TF's TypeError from the cond's Switch.
  EXPECT_THROW(sf::layers::batch_normalization(x, sf::placeholder(sf::float32, {}, "t")),
               sf::TypeError);
  expect_value_error([&] { sf::layers::batch_normalization(x, true, {.momentum = std::nan("")}); },
                     "momentum");
}

TEST_F(LayersTest, TrainsACnnWithBatchNormalization) {
  auto x = sf::placeholder(sf::float32, {8, 6, 6, 1}, "x");
  auto labels = sf::placeholder(sf::int32, {8}, "labels");
  auto training = sf::placeholder(sf::bool_, {}, "training");
  sf::set_random_seed(5);
  auto h = sf::layers::conv2d(x, 8, {3, 3}, {.padding = "same", .use_bias = false});
  h = sf::nn::relu(sf::layers::batch_normalization(h, training));
  h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
  auto logits = sf::layers::dense(sf::layers::flatten(h), 2);
  auto loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(labels, logits));
  sf::Operation train;
  {
    sf::control_dependencies after(sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS));
    train = sf::train::AdamOptimizer(0.01).minimize(loss);
  }
  std::vector<float> xv(8 * 36);
  std::vector<std::int32_t> lv(8);
  for (int n = 0; n < 8; ++n) {
    lv[static_cast<std::size_t>(n)] = n % 2;
    for (int i = 0; i < 36; ++i)
      xv[static_cast<std::size_t>(n * 36 + i)] = (n % 2 ? 1.0f : -1.0f) * (i % 6) / 6.0f + 0.5f;
  }
  sf::Session s;
  s.run(sf::global_variables_initializer());
  auto feed = [&](bool t) {
    return sf::FeedDict{{x, sf::Tensor::from_vector<float>(xv, {8, 6, 6, 1})},
                        {labels, sf::Tensor::from_vector<std::int32_t>(lv, {8})},
                        {training, sf::Tensor::from_scalar(t)}};
  };
  auto moving_mean = [&] {
    for (const auto& v : sf::global_variables())
      if (v.op().name() == "batch_normalization/moving_mean")
        return s.run(v.value()).to_vector<float>();
    return std::vector<float>{};
  };
  const float before = s.run(loss, feed(true)).scalar<float>();
  ASSERT_EQ(moving_mean(), std::vector<float>(8, 0.0f));
  for (int i = 0; i < 60; ++i) s.run({}, {train}, feed(true));
  const float after = s.run(loss, feed(true)).scalar<float>();
  EXPECT_LT(after, before * 0.2f) << before << " -> " << after;
  // The moving statistics moved with training (the updates ran with each step); the updates
  // run with training false leave them alone (a momentum of 1).
  const auto m = moving_mean();
  EXPECT_NE(m, std::vector<float>(8, 0.0f));
  s.run({}, sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS), feed(false));
  EXPECT_EQ(moving_mean(), m);
}

TEST_F(LayersTest, BatchNormalizationFusesFiveDimensionalInputs) {
  // NDHWC and NCDHW take the fused kernel (TF 1's layer), agreeing with the composed ops.
  const std::vector<float> xv = pattern(2 * 3 * 2 * 2 * 4, 0.43f, 0.2f);
  auto x = sf::placeholder(sf::float32, {2, 3, 2, 2, 4}, "x");
  auto last = sf::layers::batch_normalization(x, true, {.name = "last"});
  auto first = sf::layers::batch_normalization(x, true, {.axis = 1, .name = "first"});
  auto last_c = sf::layers::batch_normalization(x, true, {.name = "last_c", .fused = false});
  auto first_c =
      sf::layers::batch_normalization(x, true, {.axis = 1, .name = "first_c", .fused = false});
  ASSERT_EQ(last.op().type(), "FusedBatchNormV3");
  ASSERT_EQ(first.op().type(), "FusedBatchNormV3");
  EXPECT_EQ(last.op().attrs().get<std::string>("data_format"), "NDHWC");
  EXPECT_EQ(first.op().attrs().get<std::string>("data_format"), "NCDHW");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const auto r = s.run({last, last_c, first, first_c},
                       {{x, sf::Tensor::from_vector<float>(xv, {2, 3, 2, 2, 4})}});
  for (int k : {0, 2}) {
    const auto a = r[static_cast<std::size_t>(k)].to_vector<float>();
    const auto b = r[static_cast<std::size_t>(k + 1)].to_vector<float>();
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5f) << k << " " << i;
  }
}

TEST_F(LayersTest, BatchNormalizationInferenceGradientTransposesChannelsFirst) {
  // TF's gradient of the inference kernel on NCHW data: x and dy transposed to NHWC, the
  // NHWC gradient kernel, dx transposed back; values as the NHWC layer's.
  const std::int64_t n = 2, h = 2, w = 3, c = 4;
  const std::vector<float> nhwc = pattern(n * h * w * c, 0.61f, 0.1f);
  std::vector<float> nchw(nhwc.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t k = 0; k < c; ++k)
          nchw[static_cast<std::size_t>(((i * c + k) * h + y) * w + x)] =
              nhwc[static_cast<std::size_t>(((i * h + y) * w + x) * c + k)];
  auto a = sf::placeholder(sf::float32, {n, h, w, c}, "a");
  auto b = sf::placeholder(sf::float32, {n, c, h, w}, "b");
  const sf::InitializerArg mean_init = sf::constant_initializer(0.3);
  const sf::InitializerArg var_init = sf::constant_initializer(2.0);
  auto ya = sf::layers::batch_normalization(
      a, false, {.moving_mean_initializer = mean_init, .moving_variance_initializer = var_init});
  auto yb = sf::layers::batch_normalization(
      b, false,
      {.axis = 1, .moving_mean_initializer = mean_init, .moving_variance_initializer = var_init});
  auto ga = sf::gradients(sf::reduce_sum(ya * ya), {a})[0];
  auto gb = sf::gradients(sf::reduce_sum(yb * yb), {b})[0];
  EXPECT_EQ(gb.op().type(), "Transpose");
  EXPECT_EQ(gb.op().name(), "gradients_1/batch_normalization_1/FusedBatchNormV3_grad/transpose_2");
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const auto r = s.run({ga, gb}, {{a, sf::Tensor::from_vector<float>(nhwc, {n, h, w, c})},
                                  {b, sf::Tensor::from_vector<float>(nchw, {n, c, h, w})}});
  const auto g1 = r[0].to_vector<float>(), g2 = r[1].to_vector<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t k = 0; k < c; ++k)
          ASSERT_NEAR(g1[static_cast<std::size_t>(((i * h + y) * w + x) * c + k)],
                      g2[static_cast<std::size_t>(((i * c + k) * h + y) * w + x)], 1e-5f);
}

}  // namespace
