// Softmax/LogSoftmax, ArgMax, Equal and Cast through graphs and sessions: TF's op names and
// dtype rules, a training script's accuracy expression, and finite-difference checks of the
// Softmax, LogSoftmax, L2Loss and Cast gradients (graph ops run by the session's CPU kernels).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "tests/support/gradient_check.h"

namespace {

class MathGraphTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

using scopeflow::testing::check_gradient;

TEST_F(MathGraphTest, AccuracyOfATrainingScript) {
  // accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
  auto logits = sf::placeholder(sf::float32, {-1, 3}, "logits");
  auto labels = sf::placeholder(sf::int64, {-1}, "labels");
  auto prediction = sf::argmax(logits, 1);
  auto correct = sf::equal(prediction, labels);
  auto accuracy = sf::reduce_mean(sf::cast(correct, sf::float32));
  EXPECT_EQ(prediction.op().name(), "ArgMax");
  EXPECT_EQ(prediction.op().inputs()[1].op().name(), "ArgMax/dimension");
  EXPECT_EQ(prediction.dtype(), sf::int64);
  EXPECT_EQ(prediction.shape(), sf::Shape({-1}));
  EXPECT_EQ(correct.op().name(), "Equal");
  EXPECT_EQ(correct.dtype(), sf::bool_);
  EXPECT_EQ(accuracy.op().inputs()[0].op().name(), "Cast");
  EXPECT_EQ(accuracy.op().name(), "Mean");
  EXPECT_EQ(accuracy.shape(), sf::Shape{});

  sf::Session s;
  // Rows: argmax 2, 0 (a tie between 0 and 1 gives the first), 1, 2 (NaN skipped).
  std::vector<float> l{0.1f, 0.2f, 0.7f, 5, 5, 1, -1, 3, 2, NAN, 0, 1};
  auto r = s.run({accuracy, prediction},
                 {{logits, sf::Tensor::from_vector<float>(l, {4, 3})},
                  {labels, sf::Tensor::from_vector<std::int64_t>({2, 1, 1, 2})}});
  EXPECT_FLOAT_EQ(r[0].scalar<float>(), 0.75f);
  EXPECT_EQ(r[1].to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 0, 1, 2}));
  // Batch 1.
  EXPECT_FLOAT_EQ(s.run(accuracy, {{logits, sf::Tensor::from_vector<float>({1, 0, 0}, {1, 3})},
                                   {labels, sf::Tensor::from_vector<std::int64_t>({1})}})
                      .scalar<float>(),
                  0.0f);
}

TEST_F(MathGraphTest, LabelDtypesMustMatchAsInTf) {
  auto logits = sf::constant(std::vector<float>{0, 1, 1, 0}, {2, 2});
  auto labels32 = sf::constant(std::vector<std::int32_t>{1, 1}, {2});
  // tf.equal(int64, int32) raises: "Input 'y' of 'Equal' Op has type int32 that does not
  // match type int64 of argument 'x'."
  try {
    sf::equal(sf::argmax(logits, 1), labels32);
    FAIL() << "int64 predictions against int32 labels must not build";
  } catch (const sf::ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "Input 'y' of 'Equal' Op has type int32 that does not match type int64 of "
                 "argument 'x'.");
  }
  // With output_type=tf.int32 it works.
  auto accuracy =
      sf::reduce_mean(sf::cast(sf::equal(sf::argmax(logits, 1, sf::int32), labels32), sf::float32));
  sf::Session s;
  EXPECT_FLOAT_EQ(s.run(accuracy).scalar<float>(), 0.5f);
}

TEST_F(MathGraphTest, BuildersFollowTfNamesAndShapes) {
  auto x = sf::placeholder(sf::float32, {2, 5, 3});
  EXPECT_EQ(sf::nn::softmax(x).op().name(), "Softmax");
  EXPECT_EQ(sf::nn::log_softmax(x).op().name(), "LogSoftmax");
  EXPECT_EQ(sf::nn::softmax(x).shape(), sf::Shape({2, 5, 3}));
  EXPECT_EQ(sf::argmax(x, -2).shape(), sf::Shape({2, 3}));
  EXPECT_EQ(sf::argmax(x, 0, sf::int32, "pred").op().name(), "pred");
  EXPECT_THROW(sf::argmax(x, 3), sf::ValueError);
  EXPECT_THROW(sf::nn::softmax(sf::constant(1.0f)), sf::ValueError);
  // tf.cast to the same dtype returns its input before opening its name scope: the next cast
  // is still "Cast" (TF 2.21 and 1.15's math_ops.cast).
  EXPECT_EQ(sf::cast(x, sf::float32), x);
  auto c = sf::cast(x, sf::float16);
  EXPECT_EQ(c.op().name(), "Cast");
  EXPECT_EQ(c.op().type(), "Cast");
  EXPECT_EQ(c.dtype(), sf::float16);
  EXPECT_EQ(c.op().attrs().get<sf::DType>("SrcT"), sf::float32);
  EXPECT_EQ(c.op().attrs().get<bool>("Truncate"), false);
  auto i = sf::placeholder(sf::int32, {4});
  EXPECT_EQ(sf::less(i, sf::constant(std::vector<std::int32_t>{1}, {1})).shape(), sf::Shape({4}));
  EXPECT_THROW(sf::greater(i, sf::placeholder(sf::int32, {3})), sf::ValueError);
  EXPECT_THROW(sf::less(sf::placeholder(sf::bool_, {1}), sf::placeholder(sf::bool_, {1})),
               sf::ValueError);
  EXPECT_EQ(sf::not_equal(i, i).op().name(), "NotEqual");
  EXPECT_EQ(sf::get_name_scope(), "");
}

TEST_F(MathGraphTest, CastsAndComparisonsRunInASession) {
  auto x = sf::constant(std::vector<float>{-1.5f, 0.0f, 2.7f, NAN}, {4});
  sf::Session s;
  EXPECT_EQ(s.run(sf::cast(x, sf::int32)).to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{-1, 0, 2, std::numeric_limits<std::int32_t>::min()}));
  EXPECT_EQ(s.run(sf::cast(x, sf::bool_)).to_vector<bool>(),
            (std::vector<bool>{true, false, true, true}));
  auto zero = sf::constant(0.0f);
  EXPECT_EQ(s.run(sf::greater(x, zero)).to_vector<bool>(),
            (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(s.run(sf::not_equal(x, x)).to_vector<bool>(),
            (std::vector<bool>{false, false, false, true}));
  auto p = s.run(sf::nn::softmax(sf::constant(std::vector<float>{1, 2, 3}, {1, 3})));
  EXPECT_NEAR(p.to_vector<float>()[2], 0.66524094f, 1e-7);
  EXPECT_NEAR(s.run(sf::exp(sf::constant(1.0f))).scalar<float>(), 2.7182817f, 1e-6);
}

TEST_F(MathGraphTest, SoftmaxGradientMatchesFiniteDifferences) {
  check_gradient(
      {3, 5}, [](sf::Output x) { return sf::nn::softmax(x); }, 1);
  check_gradient(
      {2, 2, 4}, [](sf::Output x) { return sf::nn::softmax(x); }, 3);
  check_gradient(
      {1, 1}, [](sf::Output x) { return sf::nn::softmax(x); }, 5);
}

TEST_F(MathGraphTest, LogSoftmaxGradientMatchesFiniteDifferences) {
  check_gradient(
      {3, 5}, [](sf::Output x) { return sf::nn::log_softmax(x); }, 7);
  check_gradient(
      {4}, [](sf::Output x) { return sf::nn::log_softmax(x); }, 9);
}

TEST_F(MathGraphTest, L2LossGradientMatchesFiniteDifferences) {
  check_gradient(
      {3, 4}, [](sf::Output x) { return sf::nn::l2_loss(x); }, 13);
}

TEST_F(MathGraphTest, CastGradientMatchesFiniteDifferences) {
  // float32 -> float64 -> (float64 math) -> float32: the gradient is cast back at each step.
  check_gradient(
      {2, 3},
      [](sf::Output x) {
        auto d = sf::cast(x, sf::float64);
        return sf::cast(d * d, sf::float32);
      },
      11);
  auto x = sf::placeholder(sf::float32, {2});
  auto g = sf::gradients(sf::reduce_sum(sf::cast(sf::cast(x, sf::float64), sf::float32)), {x});
  EXPECT_EQ(g[0].op().type(), "Cast");
  EXPECT_EQ(g[0].op().name(), "gradients_1/Cast_2_grad/Cast");  // the graph's second gradients()
  EXPECT_EQ(g[0].dtype(), sf::float32);
}

// Maximum / Minimum: gradients against central differences (broadcast operands reduced back;
// the random values never tie), and on a GPU (skipped without one) the CUDA kernels against
// the CPU's for every dtype, broadcasting, NaN and ties, with GreaterEqual / LessEqual.
TEST_F(MathGraphTest, MaximumMinimumGradientsMatchFiniteDifferences) {
  const auto yv = scopeflow::testing::random_floats(3, 21);
  check_gradient(
      {2, 3}, [&](sf::Output x) { return sf::maximum(x, sf::constant(yv, {3})); }, 17);
  check_gradient(
      {3}, [](sf::Output x) { return sf::minimum(sf::constant(0.25f), x * 2.0f); }, 19);
  // 16-bit floats: the masks compare as float32 (the comparisons take 32- and 64-bit types).
  for (auto t : {sf::float16, sf::bfloat16}) {
    auto x = sf::placeholder(sf::float32, {4}, "x16");
    auto m =
        sf::maximum(sf::cast(x, t), sf::cast(sf::constant(std::vector<float>{0, 0, 5, 5}, {4}), t));
    auto g = sf::gradients(sf::reduce_sum(sf::cast(m, sf::float32)), {x});
    sf::Session s;
    EXPECT_EQ(s.run(g[0], {{x, sf::Tensor::from_vector<float>({1, -1, 6, 5})}}).to_vector<float>(),
              (std::vector<float>{1, 0, 1, 1}))
        << sf::dtype_name(t);
  }
}

TEST_F(MathGraphTest, MaximumMinimumGpuKernelsMatchTheCpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> av = {nan, 1, 2, 3, -0.0f, 0.0f, -5, -0.0f, 1e-3f, -2, 4, 4};
  std::vector<float> bv = {1, nan, 2, 0.0f};
  auto build = [&](const std::string& dev) {
    sf::device d(dev);
    auto a = sf::constant(av, {3, 4});
    auto b = sf::constant(bv, {4});
    std::vector<sf::Output> out;
    for (auto t : {sf::float32, sf::float64, sf::float16, sf::bfloat16, sf::int32, sf::int64}) {
      auto ca = sf::cast(a, t), cb = sf::cast(b, t);
      out.push_back(sf::cast(sf::maximum(ca, cb), sf::float32));
      out.push_back(sf::cast(sf::minimum(cb, ca), sf::float32));
    }
    out.push_back(sf::cast(sf::greater_equal(a, b), sf::float32));
    out.push_back(sf::cast(sf::less_equal(b, a), sf::float32));
    return out;
  };
  sf::Graph g;
  auto as = g.as_default();
  auto cpu = build("/device:CPU:0");
  auto gpu = build("/device:GPU:0");
  sf::Session s(sf::SessionOptions{.allow_soft_placement = false}, g);
  auto rc = s.run(cpu);  // the CPU half runs everywhere
  // float32: NaN wins, ties give the first operand (TF 2's kernels).
  const auto m = rc[0].to_vector<float>();
  EXPECT_TRUE(std::isnan(m[0]) && std::isnan(m[1]));
  EXPECT_TRUE(std::signbit(m[7]));  // max(-0, 0): the tie gives the first operand, -0
  EXPECT_EQ(m[6], 2.0f);
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  auto rg = s.run(gpu);
  for (std::size_t i = 0; i < rc.size(); ++i) {
    const auto x = rc[i].to_vector<float>(), y = rg[i].to_vector<float>();
    ASSERT_EQ(x.size(), y.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (std::isnan(x[k])) {
        EXPECT_TRUE(std::isnan(y[k])) << "output " << i << " @" << k;
      } else {
        EXPECT_EQ(x[k], y[k]) << "output " << i << " @" << k;
        EXPECT_EQ(std::signbit(x[k]), std::signbit(y[k])) << "output " << i << " @" << k;
      }
    }
  }
}

}  // namespace

namespace {

// Session 11's review of bad input: TF's truediv for integers (7 / 2 is 3.5 in float64, named
// truediv/Cast, truediv/Cast_1, truediv), no SIGFPE for INT_MIN / -1 in the integer RealDiv
// kernel, int64 arguments that do not fit int32 refused (they were cut: 2^32 + 2 became 2),
// pooling windows far larger than the input in time proportional to the input, a float64
// filter refused when the graph is built, and an invalid dtype an error, not a division by 0.
TEST_F(MathGraphTest, BadInputFoundBySession11sReview) {
  auto seven = sf::constant(7), two = sf::constant(2);
  auto q = seven / two;
  EXPECT_EQ(q.dtype(), sf::float64);
  EXPECT_EQ(q.op().name(), "truediv");
  EXPECT_EQ(q.op().inputs()[0].op().name(), "truediv/Cast");
  EXPECT_EQ(q.op().inputs()[1].op().name(), "truediv/Cast_1");
  auto neg = sf::divide(sf::constant(-7), two, "div");
  auto by_scalar = sf::constant(std::int64_t{9}) / 2;
  EXPECT_EQ(by_scalar.dtype(), sf::float64);
  EXPECT_THROW(sf::constant(std::vector<std::int32_t>{1}, {1}) /
                   sf::constant(sf::Tensor::from_vector<std::int64_t>({1}, {1})),
               sf::TypeError);
  EXPECT_THROW(sf::cast(seven, sf::bool_) / sf::cast(two, sf::bool_), sf::TypeError);
  auto lo =
      sf::constant(std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), 7}, {2});
  auto minus_one = sf::constant(std::vector<std::int32_t>{-1, -1}, {2});
  auto raw = sf::get_default_graph().create_op("RealDiv", {lo, minus_one}, {}, "raw_div").output(0);
  auto lo64 = sf::constant(
      sf::Tensor::from_vector<std::int64_t>({std::numeric_limits<std::int64_t>::min()}, {1}));
  auto raw64 =
      sf::get_default_graph()
          .create_op("RealDiv",
                     {lo64, sf::constant(sf::Tensor::from_vector<std::int64_t>({-1}, {1}))}, {},
                     "raw_div64")
          .output(0);
  sf::Session s;
  EXPECT_EQ(s.run(q).scalar<double>(), 3.5);
  EXPECT_EQ(s.run(neg).scalar<double>(), -3.5);
  EXPECT_EQ(s.run(by_scalar).scalar<double>(), 4.5);
  EXPECT_EQ(s.run(raw).to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), -7}));
  EXPECT_EQ(s.run(raw64).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()}));

  auto x = sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const std::int64_t big = (std::int64_t{1} << 32) + 2;
  EXPECT_THROW(sf::reshape(x, {big, 3}), sf::ValueError);
  EXPECT_THROW(sf::reshape(x, {std::numeric_limits<std::int64_t>::max(), 2, 3}), sf::ValueError);
  EXPECT_THROW(sf::reduce_sum(x, {(std::int64_t{1} << 32) + 1}), sf::ValueError);
  EXPECT_THROW(sf::concat({x, x}, (std::int64_t{1} << 32) + 1), sf::ValueError);
  EXPECT_THROW(sf::split(x, std::vector<std::int64_t>{1, 1}, (std::int64_t{1} << 32)),
               sf::ValueError);

  // A window of 2^62 over a 7 x 7 input: every output averages the whole input.
  auto img = sf::constant(std::vector<float>(7 * 7 * 3, 2.0f), {1, 7, 7, 3});
  auto pooled =
      sf::nn::avg_pool(img, {1, std::int64_t{1} << 62, 1, 1}, {1, 1, 1, 1}, "SAME", "huge_pool");
  const auto v = s.run(pooled).to_vector<float>();
  ASSERT_EQ(v.size(), 7u * 7u * 3u);
  for (float e : v) EXPECT_EQ(e, 2.0f);

  EXPECT_THROW(
      sf::nn::conv2d(img, sf::constant(0.5, sf::float64, {1, 1, 3, 2}), {1, 1, 1, 1}, "SAME"),
      sf::ValueError);
  EXPECT_THROW(sf::Tensor(static_cast<sf::DType>(200), sf::Shape{2}), sf::InvalidArgumentError);

  // TF's errors where these ran: duplicate reduction axes, a 2-D bias fed at run time, an
  // AssignAdd broadcasting a fed scalar onto a [2] variable, Fill with scalar dims.
  EXPECT_THROW(sf::reduce_sum(x, {1, -1}), sf::ValueError);
  auto bias = sf::placeholder(sf::float32, sf::Shape::unknown(), "bias");
  auto biased = sf::nn::bias_add(x, bias);
  try {
    s.run(biased, {{bias, sf::Tensor::from_vector<float>({1, 2, 3}, {1, 3})}});
    ADD_FAILURE() << "a 2-D bias was added";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("Biases must be 1D"), std::string::npos) << e.what();
  }
  auto var = sf::get_variable("v", {2}, {.initializer = sf::zeros_initializer()});
  auto one = sf::placeholder(sf::float32, sf::Shape::unknown(), "one");
  auto inc = var.assign_add(one);
  s.run(var.initializer());
  try {
    s.run(inc, {{one, sf::Tensor::from_scalar(1.0f)}});
    ADD_FAILURE() << "AssignAdd broadcast a scalar";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("shapes must be equal"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sf::get_default_graph().create_op("Fill", {sf::constant(3), sf::constant(1.0f)}, {},
                                                 "scalar_dims"),
               sf::ValueError);
}

}  // namespace

namespace {

// Session 11's review: Pack and Fill were marked as having no gradient, so paths through
// sf::stack and sf::fill silently lost theirs (TF's _PackGrad unstacks, _FillGrad sums).
// Optimizers differentiate by the variable itself, so every read of it counts (read_value()
// gave "No gradients provided", as TF's _RefVariableProcessor does not).
TEST_F(MathGraphTest, PackFillAndEveryReadOfAVariableHaveGradients) {
  auto x = sf::placeholder(sf::float32, sf::Shape{2}, "x");
  auto y = sf::reduce_sum(sf::stack({x, 2.0f * x})) + sf::reduce_sum(x);
  auto s0 = sf::placeholder(sf::float32, sf::Shape{}, "s0");
  auto z = sf::reduce_sum(sf::fill(sf::constant(std::vector<std::int32_t>{3}, {1}), s0)) + s0;
  auto gx = sf::gradients(y, {x});
  auto gs = sf::gradients(z, {s0});
  ASSERT_TRUE(gx[0].valid());
  ASSERT_TRUE(gs[0].valid());
  auto v = sf::get_variable("v", {}, {.initializer = sf::constant_initializer(1.0f)});
  auto loss = 2.0f * v.read_value() + v.value();
  sf::train::GradientDescentOptimizer sgd(0.5);
  auto grads = sgd.compute_gradients(loss, std::vector<sf::Variable>{v});
  ASSERT_TRUE(grads[0].first.valid());
  sf::Session s;
  s.run(v.initializer());
  EXPECT_EQ(s.run(gx[0], {{x, sf::Tensor::from_vector<float>({1, 2}, {2})}}).to_vector<float>(),
            (std::vector<float>{4, 4}));
  EXPECT_EQ(s.run(gs[0], {{s0, sf::Tensor::from_scalar(5.0f)}}).scalar<float>(), 4.0f);
  EXPECT_EQ(s.run(grads[0].first).scalar<float>(), 3.0f);
  // grad_ys of another shape or dtype than y: TF's errors, not a gradient of the wrong shape.
  auto id = sf::identity(x);
  EXPECT_THROW(sf::gradients({id}, {x}, {sf::constant(std::vector<float>{1, 2, 3}, {3})}),
               sf::ValueError);
  EXPECT_THROW(sf::gradients({id}, {x}, {sf::constant(std::vector<std::int32_t>{1, 2}, {2})}),
               sf::ValueError);
}

// An integer output ends the walk from xs (TF's _IsBackpropagatable): the gather indexed by
// cast(x) is never differentiated by x, so its unknown-shape params raise nothing and x gets
// the other path's gradient.
TEST_F(MathGraphTest, IntegerOutputsCarryNoGradient) {
  auto x = sf::placeholder(sf::float32, sf::Shape{2}, "x");
  auto params = sf::placeholder(sf::float32, sf::Shape{-1, 2}, "params");
  auto picked = sf::gather(params, sf::cast(x, sf::int32));
  auto y = sf::reduce_sum(picked, {0, 1}) + sf::reduce_sum(3.0f * x);
  auto g = sf::gradients(y, {x});
  ASSERT_TRUE(g[0].valid());
  sf::Session s;
  EXPECT_EQ(s.run(g[0], {{x, sf::Tensor::from_vector<float>({0, 1}, {2})}}).to_vector<float>(),
            (std::vector<float>{3, 3}));
}

TEST_F(MathGraphTest, PackGradientMatchesFiniteDifferences) {
  sf::testing::check_gradient(
      sf::Shape{2, 3},
      [](sf::Output x) {
        return sf::stack({x, x * x, sf::square(x)});
      },
      11);
}

}  // namespace
