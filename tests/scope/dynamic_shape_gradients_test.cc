// Gradients through tensors whose static shape is only partly known (TF1's
// placeholder(float32, [None, 784])): each case builds one function twice, once on placeholders
// of the fed values' full shapes and once on placeholders with unknown dimensions, and the
// gradients of both, fed the same values, must be the same numbers. Also the ops they use at run
// time (Shape, Size, BroadcastGradientArgs) and training with a batch dimension of None.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <functional>
#include <random>
#include <string>

namespace {

class DynamicShapeGradientsTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

struct Input {
  sf::Tensor value;
  sf::Shape dynamic_shape;  // the placeholder's shape in the dynamic build
};

using Fn = std::function<sf::Output(const std::vector<sf::Output>&)>;

sf::Tensor random_tensor(const sf::Shape& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& x : v) x = u(gen);
  return sf::Tensor::from_vector<float>(v, shape);
}

struct Built {
  std::vector<std::vector<float>> grads;  // one per float input
  std::vector<std::string> op_types;      // every op of the graph
};

// The gradients of f's output (default grad_ys: ones) with respect to every float input.
Built build_and_run(const std::vector<Input>& inputs, const Fn& f, bool dynamic) {
  sf::reset_default_graph();
  std::vector<sf::Output> ph, xs;
  std::vector<std::pair<sf::Output, sf::Tensor>> feeds;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const sf::Tensor& v = inputs[i].value;
    ph.push_back(sf::placeholder(v.dtype(), dynamic ? inputs[i].dynamic_shape : v.shape(),
                                 "in" + std::to_string(i)));
    if (v.dtype() == sf::float32) xs.push_back(ph.back());
    feeds.emplace_back(ph.back(), v);
  }
  sf::Output y = f(ph);
  auto g = sf::gradients(std::vector<sf::Output>{y}, xs);
  sf::Session s;
  Built b;
  std::vector<sf::Output> fetches;
  for (const auto& gi : g) {
    EXPECT_TRUE(gi.valid());
    if (gi.valid()) fetches.push_back(gi);
  }
  for (const auto& t : s.run(fetches, feeds)) b.grads.push_back(t.to_vector<float>());
  for (const auto& op : sf::get_default_graph().operations()) b.op_types.push_back(op.type());
  return b;
}

bool has_op(const Built& b, const std::string& type) {
  return std::find(b.op_types.begin(), b.op_types.end(), type) != b.op_types.end();
}

// Runs both builds and compares; returns the dynamic one.
// `fixed_all_const`: the fixed build's gradients take no shape at run time.
Built expect_same_gradients(const std::vector<Input>& inputs, const Fn& f,
                            bool fixed_all_const = true) {
  const Built fixed = build_and_run(inputs, f, false);
  const Built dynamic = build_and_run(inputs, f, true);
  if (fixed_all_const) {
    EXPECT_FALSE(has_op(fixed, "Shape"));
    EXPECT_FALSE(has_op(fixed, "Size"));
    EXPECT_FALSE(has_op(fixed, "BroadcastGradientArgs"));
  }
  EXPECT_EQ(fixed.grads.size(), dynamic.grads.size());
  for (std::size_t i = 0; i < fixed.grads.size() && i < dynamic.grads.size(); ++i) {
    EXPECT_EQ(fixed.grads[i].size(), dynamic.grads[i].size()) << "input " << i;
    if (fixed.grads[i].size() != dynamic.grads[i].size()) continue;
    for (std::size_t k = 0; k < fixed.grads[i].size(); ++k)
      EXPECT_NEAR(fixed.grads[i][k], dynamic.grads[i][k],
                  1e-6f * (1.0f + std::abs(fixed.grads[i][k])))
          << "input " << i << " element " << k;
  }
  return dynamic;
}

const sf::Shape kUnknown2{-1, -1};

TEST_F(DynamicShapeGradientsTest, BroadcastingBinaryOpsWhoseAxesOnlyTheRunKnows) {
  // [?, ?] op [?, ?] fed [1, 3] and [4, 3]: x's gradient sums over axis 0, which only the
  // run-time shapes tell (TF's BroadcastGradientArgs).
  const std::vector<Input> in{{random_tensor({1, 3}, 1), kUnknown2},
                              {random_tensor({4, 3}, 2), kUnknown2}};
  const std::vector<std::pair<const char*, Fn>> ops{
      {"add", [](const auto& p) { return p[0] + p[1]; }},
      {"sub", [](const auto& p) { return p[0] - p[1]; }},
      {"mul", [](const auto& p) { return p[0] * p[1]; }},
      {"div", [](const auto& p) { return p[0] / (p[1] * p[1] + 1.0f); }},
      {"max", [](const auto& p) { return sf::maximum(p[0], p[1]); }},
      {"min", [](const auto& p) { return sf::minimum(p[0], p[1]); }}};
  for (const auto& [name, f] : ops) {
    SCOPED_TRACE(name);
    Built b = expect_same_gradients(in, f);
    EXPECT_TRUE(has_op(b, "BroadcastGradientArgs"));
    ASSERT_EQ(b.grads.size(), 2u);
    EXPECT_EQ(b.grads[0].size(), 3u);
    EXPECT_EQ(b.grads[1].size(), 12u);
  }
  // The same ops fed shapes that need no sum (both [4, 3]), and [4, 1] against [1, 3].
  for (const auto& shapes : {std::pair<sf::Shape, sf::Shape>{{4, 3}, {4, 3}}, {{4, 1}, {1, 3}}}) {
    const std::vector<Input> in2{{random_tensor(shapes.first, 3), kUnknown2},
                                 {random_tensor(shapes.second, 4), kUnknown2}};
    for (const auto& [name, f] : ops) {
      SCOPED_TRACE(std::string(name) + " " + shapes.first.to_string());
      expect_same_gradients(in2, f);
    }
  }
}

TEST_F(DynamicShapeGradientsTest, ABiasOverAnUnknownBatchNeedsNoRunTimeShapes) {
  // x [?, 3] + b [3]: the static shapes decide b's sum (axis 0) and x's (none).
  const std::vector<Input> in{{random_tensor({5, 3}, 5), {-1, 3}}, {random_tensor({3}, 6), {3}}};
  Built b = expect_same_gradients(in, [](const auto& p) { return sf::nn::relu(p[0] + p[1]); });
  EXPECT_FALSE(has_op(b, "BroadcastGradientArgs"));
  // [?, 1] * [?, 4]: x's dimension 1 is known to be 1, grad's axis 1 summed.
  const std::vector<Input> in2{{random_tensor({2, 1}, 7), {-1, 1}},
                               {random_tensor({2, 4}, 8), {-1, 4}}};
  expect_same_gradients(in2, [](const auto& p) { return p[0] * p[1]; });
}

TEST_F(DynamicShapeGradientsTest, Reductions) {
  const std::vector<Input> in{{random_tensor({2, 3, 4}, 9), {-1, -1, 4}}};
  const std::vector<std::pair<const char*, Fn>> cases{
      {"sum 1", [](const auto& p) { return sf::reduce_sum(p[0], {1}); }},
      {"sum 1 keep", [](const auto& p) { return sf::reduce_sum(p[0], {1}, true); }},
      {"sum 2", [](const auto& p) { return sf::reduce_sum(p[0], {-1}); }},
      {"sum all", [](const auto& p) { return sf::reduce_sum(p[0]); }},
      {"mean 0 2",
       [](const auto& p) {
         return sf::reduce_mean(p[0], {0, 2});
       }},
      {"mean 2", [](const auto& p) { return sf::reduce_mean(p[0], {2}); }},
      {"mean all", [](const auto& p) { return sf::reduce_mean(p[0]); }},
      {"mean keep", [](const auto& p) { return sf::reduce_mean(p[0], {1}, true); }},
      {"max 2", [](const auto& p) { return sf::reduce_max(p[0], {2}); }},
      {"max 0 1",
       [](const auto& p) {
         return sf::reduce_max(p[0], {0, 1});
       }},
      {"max keep", [](const auto& p) { return sf::reduce_max(p[0], {1}, true); }}};
  for (const auto& [name, f] : cases) {
    SCOPED_TRACE(name);
    expect_same_gradients(in, f);
  }
  // Unknown rank: TF 2.21's run-time reduced_shape (Size, FloorMod, Range, DynamicStitch).
  const std::vector<Input> unranked{{random_tensor({3, 4, 2}, 7), sf::Shape::unknown()}};
  const std::vector<std::pair<const char*, Fn>> unranked_cases{
      {"sum 0", [](const auto& p) { return sf::reduce_sum(p[0], {0}); }},
      {"sum -1", [](const auto& p) { return sf::reduce_sum(p[0], {-1}); }},
      {"mean 1", [](const auto& p) { return sf::reduce_mean(p[0], {1}); }},
      {"mean 0 2 keep",
       [](const auto& p) {
         return sf::reduce_mean(p[0], {0, 2}, true);
       }},
      {"max 1", [](const auto& p) { return sf::reduce_max(p[0], {1}); }},
      {"sum all", [](const auto& p) { return sf::reduce_sum(p[0]); }},
      {"mean all keep", [](const auto& p) { return sf::reduce_mean(p[0], {}, true); }},
      {"max all", [](const auto& p) { return sf::reduce_max(p[0]); }}};
  for (const auto& [name, f] : unranked_cases) {
    SCOPED_TRACE(name);
    expect_same_gradients(unranked, f);
  }
}

TEST_F(DynamicShapeGradientsTest, SoftmaxRegressionOnABatchOfNone) {
  // TF1's MNIST tutorial: x [None, 5] @ W + b, the mean of the sparse cross-entropy.
  const std::vector<Input> in{
      {random_tensor({6, 5}, 10), {-1, 5}},
      {random_tensor({5, 3}, 11), {5, 3}},
      {random_tensor({3}, 12), {3}},
      {sf::Tensor::from_vector<std::int64_t>({0, 2, 1, 1, 0, 2}), sf::Shape{-1}}};
  expect_same_gradients(in, [](const auto& p) {
    return sf::reduce_mean(
        sf::nn::sparse_softmax_cross_entropy_with_logits(p[3], sf::matmul(p[0], p[1]) + p[2]));
  });
}

TEST_F(DynamicShapeGradientsTest, ConvolutionPoolingAndReshape) {
  const std::vector<Input> in{{random_tensor({2, 6, 6, 1}, 13), {-1, 6, 6, 1}},
                              {random_tensor({3, 3, 1, 2}, 14), {3, 3, 1, 2}},
                              {random_tensor({2}, 15), {2}}};
  expect_same_gradients(in, [](const auto& p) {
    auto h = sf::nn::relu(sf::nn::bias_add(sf::nn::conv2d(p[0], p[1], {1, 1, 1, 1}, "SAME"), p[2]));
    auto m = sf::nn::max_pool(h, {1, 2, 2, 1}, {1, 2, 2, 1}, "VALID");
    auto a = sf::nn::avg_pool(h, {1, 3, 3, 1}, {1, 3, 3, 1}, "VALID");
    auto flat = sf::reshape(m, std::vector<std::int64_t>{-1, 18});
    return sf::reduce_sum(flat * flat, {1}) + sf::reduce_sum(sf::reshape(a, {-1, 8}), {1});
  });
  // The input's spatial dimensions unknown too.
  const std::vector<Input> in2{{random_tensor({2, 6, 6, 1}, 16), {-1, -1, -1, 1}},
                               {random_tensor({3, 3, 1, 2}, 17), {3, 3, 1, 2}}};
  expect_same_gradients(in2, [](const auto& p) {
    return sf::nn::max_pool(sf::nn::conv2d(p[0], p[1], {1, 2, 2, 1}, "SAME"), {1, 2, 2, 1},
                            {1, 1, 1, 1}, "SAME");
  });
}

TEST_F(DynamicShapeGradientsTest, ConcatSplitStackAndFill) {
  // Along a known axis; along the unknown one (two unknown sizes: read at run time).
  const std::vector<Input> cols{{random_tensor({3, 2}, 18), {-1, 2}},
                                {random_tensor({3, 3}, 19), {-1, 3}}};
  expect_same_gradients(cols, [](const auto& p) {
    auto c = sf::concat({p[0], p[1]}, 1);
    return c * c;
  });
  const std::vector<Input> rows{{random_tensor({2, 2}, 20), {-1, 2}},
                                {random_tensor({3, 2}, 21), {-1, 2}}};
  Built b = expect_same_gradients(rows, [](const auto& p) {
    auto c = sf::concat({p[0], p[1]}, 0);
    return c * c;
  });
  EXPECT_EQ(b.grads[0].size(), 4u);
  EXPECT_EQ(b.grads[1].size(), 6u);
  // A piece without a gradient gets zeros shaped at run time.
  const std::vector<Input> one{{random_tensor({3, 5}, 22), {-1, 5}}};
  b = expect_same_gradients(one, [](const auto& p) {
    auto parts = sf::split(p[0], std::vector<std::int64_t>{2, 3}, 1);
    return parts[0] * parts[0];
  });
  ASSERT_EQ(b.grads[0].size(), 15u);
  EXPECT_EQ(b.grads[0][2], 0.0f);
  const std::vector<Input> pair{{random_tensor({4}, 23), {-1}}, {random_tensor({4}, 24), {-1}}};
  expect_same_gradients(pair, [](const auto& p) {
    auto s = sf::stack({p[0], p[1]});
    return s * s;
  });
  // fill(shape(x), v) * x: v's gradient is the sum of x.
  const std::vector<Input> filled{{random_tensor({3, 2}, 25), {-1, 2}},
                                  {random_tensor({}, 26), sf::Shape{}}};
  expect_same_gradients(
      filled, [](const auto& p) { return sf::fill(sf::shape(p[0]), p[1]) * p[0]; }, false);
}

TEST_F(DynamicShapeGradientsTest, GatherAndSegmentSumWithIndicesOfUnknownLength) {
  const std::vector<Input> in{{random_tensor({5, 3}, 27), {5, 3}},
                              {sf::Tensor::from_vector<std::int32_t>({4, 0, 4, 2}), sf::Shape{-1}}};
  expect_same_gradients(in, [](const auto& p) {
    auto g = sf::gather(p[0], p[1]);
    return g * g;
  });
  const std::vector<Input> cols{{random_tensor({5, 3}, 33), {5, 3}},
                                {sf::Tensor::from_vector<std::int32_t>({2, 0, 2}), sf::Shape{-1}}};
  expect_same_gradients(cols, [](const auto& p) {
    auto g = sf::gather(p[0], p[1], 1);  // along axis 1: the ids index the columns
    return g * g;
  });
  const std::vector<Input> seg{
      {random_tensor({4, 3}, 28), {-1, 3}},
      {sf::Tensor::from_vector<std::int32_t>({1, -1, 0, 1}), sf::Shape{-1}}};
  Built b = expect_same_gradients(seg, [](const auto& p) {
    auto s = sf::unsorted_segment_sum(p[0], p[1], 2);
    return s * s;
  });
  ASSERT_EQ(b.grads[0].size(), 12u);
  EXPECT_EQ(b.grads[0][3], 0.0f);  // the dropped row (id -1)
}

TEST_F(DynamicShapeGradientsTest, TrainingWithABatchOfNoneMatchesAFixedBatch) {
  // The same 5 Momentum steps, with x and labels declared [6, 4] / [6] and [None, 4] / [None].
  auto train = [](bool dynamic) {
    sf::reset_default_graph();
    auto x = sf::placeholder(sf::float32, dynamic ? sf::Shape{-1, 4} : sf::Shape{6, 4}, "x");
    auto labels = sf::placeholder(sf::int64, dynamic ? sf::Shape{-1} : sf::Shape{6}, "labels");
    auto w = sf::get_variable("w", {4, 3}, {.initializer = sf::random_normal_initializer(0, 1, 1)});
    auto b = sf::get_variable("b", {3}, {.initializer = sf::zeros_initializer()});
    auto loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(
        labels, sf::nn::relu(sf::matmul(x, w)) * 2.0f + b));
    auto step = sf::train::MomentumOptimizer(0.1, 0.9).minimize(loss);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    const auto xv = random_tensor({6, 4}, 29);
    const auto lv = sf::Tensor::from_vector<std::int64_t>({0, 1, 2, 2, 1, 0});
    for (int i = 0; i < 5; ++i) s.run(step, {{x, xv}, {labels, lv}});
    auto r = s.run({w.value(), b.value(), loss}, {{x, xv}, {labels, lv}});
    std::vector<float> out = r[0].to_vector<float>();
    for (float v : r[1].to_vector<float>()) out.push_back(v);
    out.push_back(r[2].scalar<float>());
    return out;
  };
  const auto fixed = train(false), dynamic = train(true);
  ASSERT_EQ(fixed.size(), dynamic.size());
  for (std::size_t i = 0; i < fixed.size(); ++i) EXPECT_FLOAT_EQ(fixed[i], dynamic[i]) << i;
}

TEST_F(DynamicShapeGradientsTest, DeepMnistScriptWithAKeepProbPlaceholder) {
  // TF1's "Deep MNIST for experts" in small: x [None, 16] reshaped to images, conv, pool, a
  // dense layer, dropout(h, keep_prob) with keep_prob a placeholder (0.5 to train, 1 to
  // evaluate), Adam. The same run with x declared [6, 16] gives the same numbers.
  auto run = [](bool dynamic) {
    sf::reset_default_graph();
    sf::set_random_seed(7);
    auto x = sf::placeholder(sf::float32, dynamic ? sf::Shape{-1, 16} : sf::Shape{6, 16}, "x");
    auto y_ = sf::placeholder(sf::int64, dynamic ? sf::Shape{-1} : sf::Shape{6}, "y_");
    auto keep_prob = sf::placeholder(sf::float32, sf::Shape{}, "keep_prob");
    auto image = sf::reshape(x, std::vector<std::int64_t>{-1, 4, 4, 1});
    auto w1 = sf::get_variable("w1", {3, 3, 1, 2});
    auto h = sf::nn::max_pool(sf::nn::relu(sf::nn::conv2d(image, w1, {1, 1, 1, 1}, "SAME")),
                              {1, 2, 2, 1}, {1, 2, 2, 1}, "VALID");
    auto w2 = sf::get_variable("w2", {8, 3});
    auto drop = sf::nn::dropout(sf::reshape(h, std::vector<std::int64_t>{-1, 8}), keep_prob);
    EXPECT_EQ(drop.op().name(), "dropout");
    EXPECT_EQ(drop.shape(), dynamic ? sf::Shape({-1, 8}) : sf::Shape({6, 8}));
    auto logits = sf::matmul(drop, w2);
    auto loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(y_, logits));
    auto step = sf::train::AdamOptimizer(0.01).minimize(loss);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    const auto xv = random_tensor({6, 16}, 34);
    const auto yv = sf::Tensor::from_vector<std::int64_t>({0, 1, 2, 2, 1, 0});
    for (int i = 0; i < 3; ++i)
      s.run(step, {{x, xv}, {y_, yv}, {keep_prob, sf::Tensor::from_scalar(0.5f)}});
    auto r = s.run({w1.value(), w2.value(), loss},
                   {{x, xv}, {y_, yv}, {keep_prob, sf::Tensor::from_scalar(1.0f)}});
    // keep_prob 0.5 zeroes some values and doubles the others; 1 keeps them all.
    const auto kept =
        s.run(drop, {{x, xv}, {keep_prob, sf::Tensor::from_scalar(1.0f)}}).to_vector<float>();
    const auto half =
        s.run(drop, {{x, xv}, {keep_prob, sf::Tensor::from_scalar(0.5f)}}).to_vector<float>();
    int zeroed = 0;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (half[i] == 0.0f && kept[i] != 0.0f) ++zeroed;
      if (half[i] != 0.0f) {
        EXPECT_FLOAT_EQ(half[i], 2.0f * kept[i]) << i;
      }
    }
    EXPECT_GT(zeroed, 0);
    std::vector<float> out = r[0].to_vector<float>();
    for (float v : r[1].to_vector<float>()) out.push_back(v);
    out.push_back(r[2].scalar<float>());
    return out;
  };
  const auto fixed = run(false), dynamic = run(true);
  ASSERT_EQ(fixed.size(), dynamic.size());
  for (std::size_t i = 0; i < fixed.size(); ++i) EXPECT_FLOAT_EQ(fixed[i], dynamic[i]) << i;
  // keep_prob's checks: x's dtype, a scalar.
  auto x = sf::placeholder(sf::float32, {-1, 2}, "x2");
  EXPECT_THROW(sf::nn::dropout(x, sf::placeholder(sf::float64, sf::Shape{})), sf::ValueError);
  EXPECT_THROW(sf::nn::dropout(x, sf::placeholder(sf::float32, sf::Shape{2})), sf::ValueError);
  // A constant 1 is no dropout (TF).
  EXPECT_EQ(sf::nn::dropout(x, sf::constant(1.0f)).op().type(), "Identity");
}

TEST_F(DynamicShapeGradientsTest, SecondDerivativesThroughRunTimeAxes) {
  // Gradient penalties: the first gradient sums over BroadcastGradientArgs' axes (a Sum whose
  // axes only the run knows); differentiating it again needs their reduced shape at run time.
  const std::vector<Input> in{{random_tensor({2, 3}, 35), kUnknown2},
                              {random_tensor({2, 1}, 36), kUnknown2}};
  Built b = expect_same_gradients(in, [](const auto& p) {
    auto first = sf::gradients(sf::reduce_sum(p[0] * p[0] * p[1]), {p[0], p[1]});
    auto centred = p[0] - sf::reduce_mean(p[0], {1}, true);
    auto second = sf::gradients(sf::reduce_sum(centred * centred * centred), {p[0]})[0];
    return sf::reduce_sum(first[0] * first[0]) + sf::reduce_sum(first[1] * first[1]) +
           sf::reduce_mean(second * second);
  });
  EXPECT_TRUE(has_op(b, "BroadcastGradientArgs"));
}

TEST_F(DynamicShapeGradientsTest, GatherFromParamsOfUnknownLength) {
  // gather(reshape(logits, [-1]), flat_index): params [?] along the gathered axis, and
  // params [?, 3] gathered along axis 0, [2, ?] along axis 1.
  const std::vector<Input> flat{
      {random_tensor({2, 3}, 37), {-1, 3}},
      {sf::Tensor::from_vector<std::int32_t>({5, 0, 5, 3}), sf::Shape{4}}};
  Built b = expect_same_gradients(flat, [](const auto& p) {
    auto g = sf::gather(sf::reshape(p[0], std::vector<std::int64_t>{-1}), p[1]);
    return g * g;
  });
  EXPECT_EQ(b.grads[0][1], 0.0f);  // not gathered
  const std::vector<Input> rows{{random_tensor({4, 3}, 38), {-1, 3}},
                                {sf::Tensor::from_vector<std::int64_t>({3, 1, 3}), sf::Shape{-1}}};
  expect_same_gradients(rows, [](const auto& p) {
    auto g = sf::gather(p[0], p[1]);
    return g * g;
  });
  const std::vector<Input> cols{{random_tensor({2, 4}, 39), {2, -1}},
                                {sf::Tensor::from_vector<std::int32_t>({3, 0}), sf::Shape{-1}}};
  expect_same_gradients(cols, [](const auto& p) {
    auto g = sf::gather(p[0], p[1], 1);
    return g * g;
  });
}

TEST_F(DynamicShapeGradientsTest, BooleanMaskOverPartlyKnownShapes) {
  // boolean_mask(x[batch, features], rows) with both dimensions unknown: the gather's gradient
  // keeps params' later dimensions as the run gives them.
  auto rows = sf::Tensor(sf::bool_, sf::Shape{4});
  const bool bits[] = {true, false, true, true};
  for (int i = 0; i < 4; ++i) static_cast<bool*>(rows.raw_data())[i] = bits[i];
  const std::vector<Input> in{{random_tensor({4, 3}, 42), kUnknown2}, {rows, sf::Shape{-1}}};
  Built b = expect_same_gradients(
      in,
      [](const auto& p) {
        auto m = sf::boolean_mask(p[0], p[1]);
        return m * m;
      },
      false);
  EXPECT_EQ(b.grads[0][3], 0.0f);  // row 1 is masked out
  auto cube = sf::Tensor(sf::bool_, sf::Shape{2, 2});
  for (int i = 0; i < 4; ++i) static_cast<bool*>(cube.raw_data())[i] = i != 2;
  const std::vector<Input> in3{{random_tensor({2, 2, 3}, 43), {2, -1, -1}},
                               {cube, sf::Shape{2, -1}}};
  expect_same_gradients(
      in3,
      [](const auto& p) {
        auto m = sf::boolean_mask(p[0], p[1]);
        return m * m;
      },
      false);
}

TEST_F(DynamicShapeGradientsTest, StaticShapesFollowRunTimeShapeValues) {
  // reshape(x[6], shape(y[?, 3])): TF infers [2, 3]; 7 elements cannot be [?, 3].
  auto y = sf::placeholder(sf::float32, {-1, 3}, "y");
  EXPECT_EQ(sf::reshape(sf::placeholder(sf::float32, {6}), sf::shape(y)).shape(),
            sf::Shape({2, 3}));
  EXPECT_THROW(sf::reshape(sf::placeholder(sf::float32, {7}), sf::shape(y)), sf::ValueError);
  // A shape put together by concat keeps what is known of it.
  auto ids = sf::placeholder(sf::int32, {-1, -1}, "ids");
  auto cat = sf::concat({sf::shape(ids), sf::constant(std::vector<std::int32_t>{1}, {1})}, 0);
  EXPECT_EQ(sf::reshape(sf::placeholder(sf::float32, sf::Shape::unknown()), cat).shape(),
            sf::Shape({-1, -1, 1}));
  // So a segment sum's gradient keeps data's static shape.
  auto data = sf::placeholder(sf::float32, {-1, -1, 3}, "data");
  auto s = sf::unsorted_segment_sum(data, ids, 4);
  EXPECT_EQ(sf::gradients(sf::reduce_sum(s * s), {data})[0].shape(), sf::Shape({-1, -1, 3}));
  // Dropout with keep_prob of unknown shape (TF1's placeholder(float32)) keeps x's shape.
  auto keep = sf::placeholder(sf::float32, sf::Shape::unknown(), "keep");
  EXPECT_EQ(sf::nn::dropout(y, keep).shape(), sf::Shape({-1, 3}));
  // Shape tensors must be vectors.
  auto m = sf::placeholder(sf::int32, {2, 2}, "m");
  EXPECT_THROW(sf::reshape(y, m), sf::ValueError);
  EXPECT_THROW(sf::random_uniform(m), sf::ValueError);
}

TEST_F(DynamicShapeGradientsTest, GpuTrainingWithABatchOfNoneMatchesTheCpu) {
  // Conv, pool, dense, log / sigmoid / tanh, a broadcast that only the run decides, Adam: on
  // GPU:0 with x declared [None, 16] (CUDA graphs off and on), against the CPU with [6, 16].
  auto train = [](const char* device, bool dynamic, bool graphs) {
    sf::Graph g;
    auto as = g.as_default();
    sf::device d(device);
    sf::set_random_seed(3);
    auto x = sf::placeholder(sf::float32, dynamic ? sf::Shape{-1, 16} : sf::Shape{6, 16}, "x");
    auto scale = sf::placeholder(sf::float32, dynamic ? kUnknown2 : sf::Shape{1, 3}, "scale");
    auto y_ = sf::placeholder(sf::int64, dynamic ? sf::Shape{-1} : sf::Shape{6}, "y_");
    auto image = sf::reshape(x, std::vector<std::int64_t>{-1, 4, 4, 1});
    auto w1 = sf::get_variable("w1", {3, 3, 1, 2});
    auto h = sf::nn::max_pool(sf::tanh(sf::nn::conv2d(image, w1, {1, 1, 1, 1}, "SAME")),
                              {1, 2, 2, 1}, {1, 2, 2, 1}, "VALID");
    auto w2 = sf::get_variable("w2", {8, 3});
    auto logits = sf::matmul(sf::reshape(h, std::vector<std::int64_t>{-1, 8}), w2) * scale;
    auto loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(y_, logits)) +
                sf::reduce_mean(sf::log(sf::sigmoid(logits) + 1.0f));
    auto step = sf::train::AdamOptimizer(0.01).minimize(loss);
    sf::Session s({.allow_soft_placement = false, .use_cuda_graphs = graphs}, g);
    s.run(sf::global_variables_initializer());
    const sf::FeedDict feeds{{x, random_tensor({6, 16}, 40)},
                             {scale, random_tensor({1, 3}, 41)},
                             {y_, sf::Tensor::from_vector<std::int64_t>({0, 1, 2, 2, 1, 0})}};
    for (int i = 0; i < 4; ++i) s.run(step, feeds);
    auto r = s.run({w1.value(), w2.value(), loss}, feeds);
    std::vector<float> out = r[0].to_vector<float>();
    for (float v : r[1].to_vector<float>()) out.push_back(v);
    out.push_back(r[2].scalar<float>());
    return out;
  };
  const auto cpu = train("/device:CPU:0", false, false);
  const auto cpu_dynamic = train("/device:CPU:0", true, false);
  ASSERT_EQ(cpu_dynamic.size(), cpu.size());
  for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_FLOAT_EQ(cpu_dynamic[i], cpu[i]) << i;
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable (the CPU run passed): "
                 << sf::devices::gpu_inventory().unavailable_reason;
  for (bool graphs : {false, true}) {
    SCOPED_TRACE(graphs ? "CUDA graphs" : "no CUDA graphs");
    const auto gpu = train("/device:GPU:0", true, graphs);
    ASSERT_EQ(gpu.size(), cpu.size());
    for (std::size_t i = 0; i < cpu.size(); ++i)
      EXPECT_NEAR(gpu[i], cpu[i], 1e-4f * (1.0f + std::abs(cpu[i]))) << i;
  }
}

TEST_F(DynamicShapeGradientsTest, ShapeSizeAndBroadcastGradientArgsOps) {
  auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
  auto shp = sf::shape(x);
  auto shp64 = sf::shape(x, sf::int64, "shape64");
  auto n = sf::size(x);
  EXPECT_EQ(shp.op().name(), "Shape");
  EXPECT_EQ(shp.dtype(), sf::int32);
  EXPECT_EQ(shp.shape(), sf::Shape{2});
  EXPECT_EQ(shp64.dtype(), sf::int64);
  EXPECT_EQ(n.op().name(), "Size");
  EXPECT_EQ(n.shape(), sf::Shape{});
  // TF's constant_value_as_shape: what consumes shape(x) knows x's static shape.
  auto z = sf::placeholder(sf::float32, sf::Shape::unknown(), "z");
  EXPECT_EQ(sf::reshape(z, shp).shape(), sf::Shape({-1, 3}));
  EXPECT_EQ(sf::fill(shp, sf::constant(1.0f)).shape(), sf::Shape({-1, 3}));
  sf::Session s;
  auto r = s.run({shp, shp64, n, sf::reshape(z, shp)},
                 {{x, random_tensor({2, 3}, 30)}, {z, random_tensor({6}, 31)}});
  EXPECT_EQ(r[0].to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 3}));
  EXPECT_EQ(r[1].to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(r[2].scalar<std::int32_t>(), 6);
  EXPECT_EQ(r[3].shape(), sf::Shape({2, 3}));

  // A fully defined shape is folded into a constant at plan time (TF's grappler).
  auto c = sf::placeholder(sf::float32, {4, 5}, "c");
  auto cs = sf::shape(c);
  EXPECT_EQ(s.run(cs, {{c, random_tensor({4, 5}, 32)}}).to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{4, 5}));
  EXPECT_GE(s.last_run_stats().nodes_folded, 1);

  auto args = [&](std::vector<std::int32_t> a, std::vector<std::int32_t> b) {
    sf::Graph g = sf::get_default_graph();
    auto op = g.create_op("BroadcastGradientArgs",
                          {sf::constant(a, sf::Shape{static_cast<std::int64_t>(a.size())}),
                           sf::constant(b, sf::Shape{static_cast<std::int64_t>(b.size())})},
                          {}, "BroadcastGradientArgs");
    auto out = s.run({op.output(0), op.output(1)});
    return std::pair{out[0].to_vector<std::int32_t>(), out[1].to_vector<std::int32_t>()};
  };
  // TF: an axis where both are 1 is in both lists.
  auto [r0, r1] = args({2, 1, 1}, {3, 1});
  EXPECT_EQ(r0, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(r1, (std::vector<std::int32_t>{0, 2}));
  std::tie(r0, r1) = args({}, {4});
  EXPECT_EQ(r0, (std::vector<std::int32_t>{0}));
  EXPECT_TRUE(r1.empty());
  try {
    args({2, 3}, {4, 3});
    FAIL() << "expected InvalidArgumentError";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("Incompatible shapes: [2,3] vs. [4,3]"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("BroadcastGradientArgs"), std::string::npos);
  }
  EXPECT_THROW(sf::shape(x, sf::float32), sf::ValueError);
  EXPECT_THROW(sf::reshape(x, sf::constant(1.0f)), sf::ValueError);
}

}  // namespace
