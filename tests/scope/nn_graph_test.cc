// The CNN op builders through graphs and sessions: TF's op names, shape inference, errors,
// and a forward pass of the seed articles' conv/relu/pool model on the CPU.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>

namespace {

class NnGraphTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

sf::Output conv_relu(const sf::Output& input, const sf::Shape& kernel_shape,
                     const sf::Shape& bias_shape) {
  auto weights =
      sf::get_variable("weights", kernel_shape, {.initializer = sf::random_normal_initializer()});
  auto biases =
      sf::get_variable("biases", bias_shape, {.initializer = sf::constant_initializer(0.0)});
  auto conv = sf::nn::conv2d(input, weights, {1, 1, 1, 1}, "SAME");
  return sf::nn::relu(conv + biases);
}

TEST_F(NnGraphTest, ImageFilterModelBuildsAndRuns) {
  auto image = sf::placeholder(sf::float32, {1, 10, 10, 32}, "image");
  sf::Output out;
  {
    sf::variable_scope s("conv1");
    out = conv_relu(image, {5, 5, 32, 32}, {32});
  }
  EXPECT_EQ(out.op().name(), "conv1/Relu");
  EXPECT_EQ(out.op().inputs()[0].op().inputs()[0].op().name(), "conv1/Conv2D");
  EXPECT_EQ(out.shape(), sf::Shape({1, 10, 10, 32}));
  auto pooled = sf::nn::max_pool(out, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME");
  EXPECT_EQ(pooled.shape(), sf::Shape({1, 5, 5, 32}));
  auto flat = sf::reshape(pooled, {1, -1});
  EXPECT_EQ(flat.shape(), sf::Shape({1, 800}));
  EXPECT_EQ(flat.op().name(), "Reshape");
  auto w = sf::get_variable("dense", {800, 10});
  auto logits =
      sf::nn::bias_add(sf::matmul(flat, w), sf::constant(std::vector<float>(10, 0.5f), {10}));
  auto labels = sf::placeholder(sf::int32, {1}, "labels");
  auto loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(labels, logits));
  EXPECT_EQ(loss.shape(), sf::Shape{});
  EXPECT_EQ(loss.op().inputs()[0].op().name(),
            "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits");

  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  std::vector<float> img(3200);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(i % 7) * 0.1f;
  auto r = sess.run({loss, logits}, {{image, sf::Tensor::from_vector<float>(img, {1, 10, 10, 32})},
                                     {labels, sf::Tensor::from_vector<std::int32_t>({3})}});
  EXPECT_TRUE(std::isfinite(r[0].scalar<float>()));
  EXPECT_GT(r[0].scalar<float>(), 0.0f);
  EXPECT_EQ(r[1].shape(), sf::Shape({1, 10}));
  EXPECT_THROW(sess.run(loss, {{image, sf::Tensor::from_vector<float>(img, {1, 10, 10, 32})},
                               {labels, sf::Tensor::from_vector<std::int32_t>({10})}}),
               sf::InvalidArgumentError);
}

TEST_F(NnGraphTest, ShapeErrorsAreValueErrorsAtConstruction) {
  auto x = sf::placeholder(sf::float32, {1, 8, 8, 3});
  auto w = sf::placeholder(sf::float32, {3, 3, 4, 8});
  EXPECT_THROW(sf::nn::conv2d(x, w, {1, 1, 1, 1}, "SAME"), sf::ValueError);  // depth 3 vs 4
  auto w3 = sf::placeholder(sf::float32, {3, 3, 3, 8});
  EXPECT_THROW(sf::nn::conv2d(x, w3, {1, 1, 1, 1}, "FULL"), sf::ValueError);
  EXPECT_THROW(sf::nn::conv2d(x, w3, {2, 1, 1, 1}, "SAME"), sf::ValueError);
  EXPECT_EQ(sf::nn::conv2d(x, w3, {1, 2, 2, 1}, "VALID").shape(), sf::Shape({1, 3, 3, 8}));
  EXPECT_THROW(
      sf::matmul(sf::placeholder(sf::float32, {2, 3}), sf::placeholder(sf::float32, {4, 5})),
      sf::ValueError);
  EXPECT_EQ(sf::matmul(sf::placeholder(sf::float32, {3, 2}), sf::placeholder(sf::float32, {5, 3}),
                       true, true)
                .shape(),
            sf::Shape({2, 5}));
  EXPECT_THROW(sf::reshape(sf::placeholder(sf::float32, {2, 3}), {4, -1}), sf::ValueError);
  EXPECT_THROW(sf::nn::bias_add(x, sf::placeholder(sf::float32, {4})), sf::ValueError);
  EXPECT_THROW(sf::reduce_sum(x, {4}), sf::ValueError);
  EXPECT_EQ(sf::reduce_sum(x, {1, 2}, true).shape(), sf::Shape({1, 1, 1, 3}));
  EXPECT_EQ(sf::get_name_scope(), "");
}

TEST_F(NnGraphTest, ConvolutionOnTwoLogicalCpuDevicesMatches) {
  auto x = sf::constant(std::vector<float>(2 * 6 * 6 * 3, 0.5f), {2, 6, 6, 3});
  auto w = sf::get_variable("w", {3, 3, 3, 4},
                            {.initializer = sf::random_uniform_initializer(-1, 1, 5)});
  sf::Output a, b;
  {
    sf::device d("/cpu:0");
    a = sf::nn::conv2d(x, w, {1, 1, 1, 1}, "SAME");
  }
  {
    sf::device d("/cpu:1");
    b = sf::nn::conv2d(x, w, {1, 1, 1, 1}, "SAME");
  }
  sf::Session sess({.device_count = {{"CPU", 2}}});
  sess.run(w.initializer());
  auto r = sess.run({a, b});
  EXPECT_EQ(sess.assigned_device(b.op()), "/job:localhost/replica:0/task:0/device:CPU:1");
  EXPECT_EQ(r[0].to_vector<float>(), r[1].to_vector<float>());
}

}  // namespace

namespace {
TEST(DropoutTest, KeepsAboutKeepProbAndScales) {
  sf::reset_default_graph();
  auto x = sf::constant(std::vector<float>(20000, 1.0f), {20000});
  auto y = sf::nn::dropout(x, 0.25, 7);
  EXPECT_EQ(y.op().name(), "dropout");
  sf::Session s;
  auto v = s.run(y).to_vector<float>();
  int kept = 0;
  for (float e : v) {
    ASSERT_TRUE(e == 0.0f || e == 4.0f) << e;
    kept += e != 0.0f;
  }
  EXPECT_NEAR(kept / 20000.0, 0.25, 0.015);
  EXPECT_NE(s.run(y).to_vector<float>(), v) << "a new mask each run";
  EXPECT_EQ(sf::nn::dropout(x, 1.0).op().type(), "Identity");
  EXPECT_THROW(sf::nn::dropout(x, 0.0), sf::ValueError);
  // Gradient: the mask scaled by 1/keep_prob.
  auto w = sf::get_variable("w", {4}, {.initializer = sf::constant_initializer(1.0)});
  auto d = sf::nn::dropout(w.value(), 0.5, 3);
  auto g = sf::gradients(sf::reduce_sum(d), std::vector<sf::Variable>{w});
  s.run(w.initializer());
  auto r = s.run({d, g[0]});
  EXPECT_EQ(r[0].to_vector<float>(), r[1].to_vector<float>());  // d = 2*mask*w with w = 1
}
}  // namespace
