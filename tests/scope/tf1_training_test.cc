// What TF1 training scripts such as the cifar10 multi-GPU tutorial use around the model: tensor
// hyperparameters (a learning-rate schedule or a placeholder given to an optimizer), the
// learning-rate schedules' errors, ExponentialMovingAverage (errors, evaluation with the
// averages through the Saver), tf.nn.lrn's gradient, tf.nn.in_top_k's errors and tf.pow. Values
// and names against TensorFlow itself are golden cases (math_pow, train_lr_schedules,
// train_exponential_moving_average, nn_lrn_in_top_k in tests/conformance/tf_golden.py).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include <unistd.h>

#include "samples/tutorials/cifar10_input.h"
#include "samples/tutorials/cifar10_model.h"
#include "tests/support/gradient_check.h"

namespace {

namespace tr = sf::train;
using scopeflow::testing::check_gradient;

class Tf1TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::vector<float> values(sf::Session& s, const sf::Variable& v) {
  return s.run(v.value()).to_vector<float>();
}

TEST_F(Tf1TrainingTest, ALearningRatePlaceholderIsReadEachStep) {
  auto lr = sf::placeholder(sf::float32, sf::Shape{}, "lr");
  auto w = sf::get_variable("w", {2}, {.initializer = sf::constant_initializer(1.0)});
  auto train = tr::GradientDescentOptimizer(lr).minimize(sf::reduce_sum(w * w));
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(train, {{lr, sf::Tensor::from_scalar(0.25f)}});  // w -= 0.25 * 2w
  EXPECT_EQ(values(s, w), (std::vector<float>{0.5f, 0.5f}));
  s.run(train, {{lr, sf::Tensor::from_scalar(0.0f)}});
  EXPECT_EQ(values(s, w), (std::vector<float>{0.5f, 0.5f}));
  EXPECT_THROW(s.run(train), sf::InvalidArgumentError);  // the placeholder must be fed
}

TEST_F(Tf1TrainingTest, TensorHyperparametersEqualNumbers) {
  // Adam and Momentum with every hyperparameter a tensor (float32, float64: cast) give the same
  // values as with numbers.
  auto make = [](bool tensors) {
    sf::reset_default_graph();
    auto a = sf::get_variable("a", {3}, {.initializer = sf::constant_initializer(1.0)});
    auto b = sf::get_variable("b", {3}, {.initializer = sf::constant_initializer(2.0)});
    auto loss = sf::reduce_sum(a * a * b) + sf::reduce_sum(b * b);
    auto t = [&](double v, sf::DType d) -> tr::Hyperparameter {
      if (!tensors) return v;
      return sf::constant(v, d, sf::Shape{});
    };
    // (float32 betas: a float64 beta keeps float64 powers, as TF, and rounds otherwise.)
    auto adam = tr::AdamOptimizer(t(0.1, sf::float64), t(0.8, sf::float32), t(0.9, sf::float32),
                                  t(1e-3, sf::float32))
                    .minimize(loss, {}, std::vector<sf::Variable>{a});
    auto mom = tr::MomentumOptimizer(t(0.05, sf::float32), t(0.7, sf::float64))
                   .minimize(loss, {}, std::vector<sf::Variable>{b});
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 4; ++i) s.run({}, {adam, mom});
    return std::make_pair(values(s, a), values(s, b));
  };
  const auto numbers = make(false);
  const auto tensors = make(true);
  EXPECT_EQ(numbers.first, tensors.first);
  EXPECT_EQ(numbers.second, tensors.second);
  EXPECT_NE(numbers.first, (std::vector<float>{1, 1, 1}));
  // TF: beta2_power takes a float64 beta's dtype (and the update casts it).
  sf::reset_default_graph();
  auto v = sf::get_variable("v", {2});
  auto step = tr::AdamOptimizer(0.1, 0.9, sf::constant(0.999, sf::float64, sf::Shape{}))
                  .minimize(sf::reduce_sum(v * v));
  sf::Variable beta2_power;
  for (const auto& g : sf::global_variables()) {
    if (g.op().name() == "beta2_power") beta2_power = g;
    if (g.op().name() == "beta1_power") {
      EXPECT_EQ(g.dtype(), sf::float32);
    }
  }
  ASSERT_TRUE(beta2_power.valid());
  EXPECT_EQ(beta2_power.dtype(), sf::float64);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(step);
  s.run(step);
  EXPECT_DOUBLE_EQ(s.run(beta2_power.value()).scalar<double>(), 0.999 * 0.999 * 0.999);
}

TEST_F(Tf1TrainingTest, BadHyperparameterTensorsAreRefusedNamingThem) {
  try {
    tr::GradientDescentOptimizer opt(sf::constant(std::vector<float>{1, 2}, {2}, "rates"));
    FAIL() << "a vector learning rate was accepted";
  } catch (const sf::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("rates:0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tr::GradientDescentOptimizer(sf::constant(1, "one")), sf::ValueError);
  EXPECT_THROW(tr::Hyperparameter(sf::Output()), sf::ValueError);
  EXPECT_THROW((void)tr::Hyperparameter(sf::constant(1.0f)).value(), sf::ValueError);
  EXPECT_EQ(tr::Hyperparameter(0.5).value(), 0.5);
}

TEST_F(Tf1TrainingTest, ScheduleErrorsNameTheArgument) {
  auto gs = tr::get_or_create_global_step();
  EXPECT_THROW(tr::exponential_decay(0.1, gs, 0, 0.9), sf::ValueError);
  EXPECT_THROW(tr::exponential_decay(0.1, sf::Output(), 10, 0.9), sf::ValueError);
  EXPECT_THROW(tr::exponential_decay(0.1, sf::constant(std::vector<float>{1, 2}, {2}), 10, 0.9),
               sf::ValueError);
  EXPECT_THROW(tr::exponential_decay(0.1, sf::constant(true), 10, 0.9), sf::ValueError);
  EXPECT_THROW(tr::exponential_decay(std::nan(""), gs, 10, 0.9), sf::ValueError);
  EXPECT_THROW(tr::polynomial_decay(0.1, gs, -5), sf::ValueError);
  EXPECT_THROW(tr::cosine_decay(0.1, gs, 10, INFINITY), sf::ValueError);
  try {
    tr::piecewise_constant(gs, {10, 20}, {1.0, 0.5});
    FAIL();
  } catch (const sf::ValueError& e) {
    EXPECT_STREQ(e.what(), "The length of boundaries should be 1 less than the length of values");
  }
  EXPECT_THROW(tr::piecewise_constant(gs, {20, 10}, {1, 2, 3}), sf::ValueError);
  EXPECT_THROW(tr::piecewise_constant(gs, {10.5}, {1, 2}), sf::ValueError);  // int64 x
  EXPECT_NO_THROW(tr::piecewise_constant(gs, {1e10}, {1, 2}));               // fits int64
  EXPECT_THROW(tr::piecewise_constant(sf::cast(gs, sf::int32), {1e10}, {1, 2}), sf::ValueError);
}

TEST_F(Tf1TrainingTest, SchedulesFollowTheGlobalStepAndKeepAFloat64Rate) {
  auto gs = tr::get_or_create_global_step();
  auto lr64 = sf::constant(0.5, sf::float64, sf::Shape{}, "lr");
  auto e = tr::exponential_decay(lr64, gs, 4, 0.5, true);
  EXPECT_EQ(e.dtype(), sf::float64);
  auto pw = tr::piecewise_constant(sf::cast(gs, sf::float32), {1.5, 1.5, 3}, {3, 2, 1, 0});
  EXPECT_EQ(pw.op().name(), "PiecewiseConstant");
  auto w = sf::get_variable("w", {1}, {.initializer = sf::constant_initializer(1.0)});
  auto train = tr::GradientDescentOptimizer(e).minimize(sf::reduce_sum(w), gs);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  std::vector<double> rates;
  std::vector<float> pieces;
  for (int i = 0; i < 9; ++i) {
    auto r = s.run({e, pw});
    rates.push_back(r[0].scalar<double>());
    pieces.push_back(r[1].scalar<float>());
    s.run(train);
  }
  EXPECT_EQ(rates, (std::vector<double>{0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125}));
  // Steps 0..8 against boundaries 1.5, 1.5, 3: x <= 1.5 -> 3; (1.5, 3] -> 1; above -> 0.
  EXPECT_EQ(pieces, (std::vector<float>{3, 3, 1, 1, 0, 0, 0, 0, 0}));
  // w moved by the rate of each step (the gradient of sum(w) is 1).
  EXPECT_FLOAT_EQ(values(s, w)[0], 1.0f - (4 * 0.5f + 4 * 0.25f + 0.125f));
}

TEST_F(Tf1TrainingTest, MovingAverageErrors) {
  EXPECT_THROW(tr::ExponentialMovingAverage(1.5), sf::ValueError);
  EXPECT_THROW(tr::ExponentialMovingAverage(std::nan("")), sf::ValueError);
  EXPECT_THROW(tr::ExponentialMovingAverage(0.9, sf::constant(std::vector<float>{1, 2}, {2})),
               sf::ValueError);
  tr::ExponentialMovingAverage ema(0.9);
  auto w = sf::get_variable("w", {4}, {.partitioner = sf::fixed_size_partitioner(2)});
  EXPECT_THROW(ema.apply({w}), sf::ValueError);
  auto unknown = sf::placeholder(sf::float32, sf::Shape{-1}, "unknown");
  EXPECT_THROW(ema.apply({unknown}), sf::ValueError);
  EXPECT_THROW(ema.apply({sf::constant(1)}), sf::TypeError);
  EXPECT_THROW(ema.average(w.partitions()[0]), sf::ValueError);
  // A refused list creates nothing, even for the entries before the bad one.
  const auto before = sf::global_variables().size();
  EXPECT_THROW(ema.apply({w.partitions()[0], sf::constant(1)}), sf::TypeError);
  EXPECT_EQ(sf::global_variables().size(), before);
  // The shards of a partitioned variable are averaged one by one.
  auto op = ema.apply({w.partitions()[0], w.partitions()[1]});
  EXPECT_EQ(ema.average(w.partitions()[1]).op().name(), "w/part_1/ExponentialMovingAverage");
  EXPECT_EQ(op.name(), "ExponentialMovingAverage");
}

TEST_F(Tf1TrainingTest, EvaluationRestoresTheAveragesIntoTheModel) {
  // Train, saving the variables and their averages; an evaluation graph built without the
  // averages restores each average into its variable (cifar10_eval's variables_to_restore).
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sf_ema_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                    "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path;
  std::vector<float> averaged;
  {
    auto gs = tr::get_or_create_global_step();
    auto w = sf::get_variable("conv/w", {3}, {.initializer = sf::constant_initializer(2.0)});
    auto train = tr::GradientDescentOptimizer(0.1).minimize(sf::reduce_sum(w * w), gs);
    tr::ExponentialMovingAverage ema(0.5, gs);
    sf::Operation ema_op;
    {
      sf::control_dependencies after({train});
      ema_op = ema.apply();
    }
    EXPECT_EQ(ema.average_name(w), "conv/w/ExponentialMovingAverage");
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 3; ++i) s.run(ema_op);
    averaged = values(s, ema.average(w));
    EXPECT_NE(averaged, values(s, w));
    path = tr::Saver().save(s, (dir / "model").string());
  }
  sf::reset_default_graph();
  auto gs = tr::get_or_create_global_step();
  auto w = sf::get_variable("conv/w", {3});
  tr::ExponentialMovingAverage ema(0.5);
  const auto names = ema.variables_to_restore();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names.at("conv/w/ExponentialMovingAverage"), w);
  EXPECT_EQ(names.at("global_step"), gs);
  sf::Session s;
  tr::Saver({.var_dict = names}).restore(s, path);
  EXPECT_EQ(values(s, w), averaged);
  std::filesystem::remove_all(dir);
}

TEST_F(Tf1TrainingTest, LrnGradientAndErrors) {
  for (std::int64_t r : {0, 1, 2, 5})
    check_gradient(
        {2, 2, 3, 6}, [r](sf::Output v) { return sf::nn::lrn(v, r, 1.5, 0.3, 0.75); },
        10 + static_cast<unsigned>(r));
  auto x = sf::placeholder(sf::float32, {1, 1, 1, 4}, "x");
  auto g = sf::gradients(sf::reduce_sum(sf::nn::lrn(x)), {x})[0];
  EXPECT_EQ(g.op().type(), "LRNGrad");
  try {
    sf::gradients(sf::reduce_sum(g), {x});
    FAIL() << "a second derivative through LRNGrad was built";
  } catch (const sf::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("(op type: LRNGrad)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sf::nn::lrn(sf::placeholder(sf::float32, {2, 3})), sf::ValueError);
  EXPECT_THROW(sf::nn::lrn(x, -1), sf::ValueError);
  EXPECT_THROW(sf::nn::lrn(x, 5, std::nan("")), sf::ValueError);
  EXPECT_THROW(sf::nn::lrn(sf::placeholder(sf::int32, {1, 1, 1, 4})), sf::ValueError);
  // A fed tensor of another rank is a run-time error naming the node.
  auto any = sf::placeholder(sf::float32, sf::Shape::unknown(), "any");
  auto y = sf::nn::lrn(any, 2, 1, 1, 0.5, "norm");
  sf::Session s;
  try {
    s.run(y, {{any, sf::Tensor::from_vector<float>({1, 2, 3}, {3})}});
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("norm"), std::string::npos) << e.what();
  }
}

TEST_F(Tf1TrainingTest, InTopKErrors) {
  auto p = sf::placeholder(sf::float32, {4, 3}, "p");
  auto t = sf::placeholder(sf::int32, {4}, "t");
  EXPECT_THROW(sf::nn::in_top_k(sf::placeholder(sf::float32, {4, 3, 1}), t, 1), sf::ValueError);
  EXPECT_THROW(sf::nn::in_top_k(p, sf::placeholder(sf::int32, {5}), 1), sf::ValueError);
  EXPECT_THROW(sf::nn::in_top_k(p, sf::placeholder(sf::float32, {4}), 1), sf::ValueError);
  EXPECT_THROW(sf::nn::in_top_k(p, t, std::int64_t{1} << 40), sf::ValueError);  // int32 k
  EXPECT_EQ(sf::nn::in_top_k(p, t, 1).shape(), sf::Shape({4}));
  EXPECT_FALSE(
      sf::gradients(sf::reduce_sum(sf::cast(sf::nn::in_top_k(p, t, 1), sf::float32)), {p})[0]
          .valid());
  auto pu = sf::placeholder(sf::float32, sf::Shape::unknown(), "pu");
  auto top = sf::nn::in_top_k(pu, t, 2);
  sf::Session s;
  EXPECT_THROW(s.run(top, {{pu, sf::Tensor::from_vector<float>({1, 2, 3, 4}, {4})},
                           {t, sf::Tensor::from_vector<std::int32_t>({0, 1, 2, 3}, {4})}}),
               sf::InvalidArgumentError);
  EXPECT_THROW(s.run(top, {{pu, sf::Tensor::from_vector<float>({1, 2, 3}, {1, 3})},
                           {t, sf::Tensor::from_vector<std::int32_t>({0, 1, 2, 0}, {4})}}),
               sf::InvalidArgumentError);
}

TEST_F(Tf1TrainingTest, PowGradientAndIntegerExponents) {
  check_gradient(
      {2, 3}, [](sf::Output v) { return sf::pow(v * v + 0.5f, 1.7); }, 31);
  check_gradient(
      {3}, [](sf::Output v) { return sf::pow(2.5, v); }, 32);
  auto a = sf::placeholder(sf::int64, {3}, "a");
  auto b = sf::placeholder(sf::int64, {3}, "b");
  sf::Session s;
  auto r = s.run(sf::pow(a, b), {{a, sf::Tensor::from_vector<std::int64_t>({-2, 7, 3}, {3})},
                                 {b, sf::Tensor::from_vector<std::int64_t>({63, 0, 40}, {3})}});
  EXPECT_EQ(r.to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 1,
                                       -6289078614652622815LL}));  // 3^40 wraps mod 2^64
  EXPECT_THROW(sf::pow(a, sf::placeholder(sf::int32, {3})), sf::ValueError);
}

// TF's cifar10_multi_gpu_train.py on logical CPU devices: the towers share one set of variables
// (no "already exists", slots and averages made once), and K towers of batch b end where one
// tower of batch K*b does (the averaged gradient is the mean over the towers: the weight decay
// of each tower's scope and its mean cross entropy), the moving averages included.
TEST_F(Tf1TrainingTest, Cifar10MultiGpuTutorialTowersEqualOneBigBatch) {
  namespace c10 = scopeflow::tutorials::cifar10;
  constexpr std::int64_t kImages = 4;
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> pixel(-1, 1);
  std::vector<float> images(static_cast<std::size_t>(kImages * 24 * 24 * 3));
  for (auto& p : images) p = pixel(gen);
  const std::vector<std::int32_t> labels{3, 7, 0, 9};

  auto run = [&](int towers) {
    sf::reset_default_graph();
    sf::get_default_graph().set_seed(11);
    const std::int64_t b = kImages / towers;
    auto t = c10::build_towers(
        towers, b, [](int i) { return "/cpu:" + std::to_string(i); },
        /*initial_lr=*/0.05, /*ema_decay=*/0.5);
    EXPECT_EQ(sf::trainable_variables().size(), 10u);
    EXPECT_EQ(sf::global_variables().size(), 21u);  // + global_step + 10 averages
    sf::Session s({.device_count = {{"CPU", 2}}});
    s.run(sf::global_variables_initializer());
    sf::FeedDict feeds;
    for (int i = 0; i < towers; ++i) {
      const auto first = static_cast<std::size_t>(i * b);
      feeds.emplace_back(
          t.images[static_cast<std::size_t>(i)],
          sf::Tensor::from_vector<float>(
              std::vector<float>(
                  images.begin() + static_cast<std::ptrdiff_t>(first * 24 * 24 * 3),
                  images.begin() + static_cast<std::ptrdiff_t>((first + b) * 24 * 24 * 3)),
              {b, 24, 24, 3}));
      feeds.emplace_back(
          t.labels[static_cast<std::size_t>(i)],
          sf::Tensor::from_vector<std::int32_t>(
              std::vector<std::int32_t>(labels.begin() + static_cast<long>(first),
                                        labels.begin() + static_cast<long>(first + b)),
              {b}));
    }
    std::vector<float> losses;
    for (int step = 0; step < 6; ++step) {
      float mean = 0;
      for (const auto& l : s.run(t.losses, {t.train_op}, feeds)) mean += l.scalar<float>() / towers;
      losses.push_back(mean);
    }
    std::vector<std::vector<float>> params;
    for (const auto& v : sf::global_variables()) params.push_back(values(s, v));
    EXPECT_EQ(s.run(t.global_step.value()).scalar<float>(), 6.0f);
    return std::make_pair(losses, params);
  };
  const auto one = run(1);
  const auto two = run(2);
  EXPECT_LT(one.first.back(), one.first.front());  // it trains
  ASSERT_EQ(one.second.size(), two.second.size());
  for (std::size_t v = 0; v < one.second.size(); ++v) {
    ASSERT_EQ(one.second[v].size(), two.second[v].size());
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < one.second[v].size(); ++i) {
      diff = std::max(diff, double(std::fabs(one.second[v][i] - two.second[v][i])));
      norm = std::max(norm, double(std::fabs(one.second[v][i])));
    }
    EXPECT_LE(diff, 1e-5 * std::max(1.0, norm)) << "variable " << v;
  }
  for (std::size_t i = 0; i < one.first.size(); ++i)
    EXPECT_NEAR(one.first[i], two.first[i], 1e-5 * std::fabs(one.first[i])) << "step " << i;
}

// The tutorial's input: CIFAR-10 records (CHW planes to HWC), their errors, the crops.
TEST_F(Tf1TrainingTest, Cifar10RecordsAndPreprocessing) {
  namespace c10 = scopeflow::tutorials::cifar10;
  const auto dir =
      std::filesystem::temp_directory_path() / ("sf_c10_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "test_batch.bin").string();
  std::vector<std::uint8_t> bytes;
  for (int r = 0; r < 3; ++r) {
    bytes.push_back(static_cast<std::uint8_t>(r * 4));  // labels 0, 4, 8
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < 1024; ++p)
        bytes.push_back(static_cast<std::uint8_t>((p + ch * 7 + r) % 251));
  }
  auto write = [&](const std::vector<std::uint8_t>& b) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  write(bytes);
  const c10::Dataset d = c10::read_cifar10(dir.string(), true);
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 4, 8}));
  // Pixel (y=1, x=2) of record 2, channel 1 (green): plane 1, offset 1*32+2.
  EXPECT_EQ(d.images[static_cast<std::size_t>(2 * 3072 + (1 * 32 + 2) * 3 + 1)],
            (34 + 7 + 2) % 251);
  // Central crop, standardized: mean 0, variance 1.
  std::vector<float> out(3 * 24 * 24 * 3);
  std::vector<std::int32_t> labels(3);
  std::mt19937_64 rng(1);
  c10::make_batch(d, 1, 3, false, rng, out.data(), labels.data());  // wraps: records 1, 2, 0
  EXPECT_EQ(labels, (std::vector<std::int32_t>{4, 8, 0}));
  double mean = 0, sq = 0;
  for (int i = 0; i < 24 * 24 * 3; ++i) {
    mean += out[static_cast<std::size_t>(i)];
    sq += double(out[static_cast<std::size_t>(i)]) * out[static_cast<std::size_t>(i)];
  }
  EXPECT_NEAR(mean / (24 * 24 * 3), 0.0, 1e-5);
  EXPECT_NEAR(sq / (24 * 24 * 3), 1.0, 1e-4);
  // A constant image divides by 1/sqrt(n), not by zero.
  std::vector<float> flat(12, 3.0f);
  c10::per_image_standardization(flat.data(), 12);
  EXPECT_EQ(flat, std::vector<float>(12, 0.0f));
  // Errors name the file and the record.
  bytes[3073] = 10;  // record 1's label
  write(bytes);
  try {
    c10::read_cifar10_file(path);
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("record 1 has label 10"), std::string::npos) << e.what();
  }
  bytes.pop_back();
  write(bytes);
  EXPECT_THROW(c10::read_cifar10_file(path), sf::InvalidArgumentError);
  EXPECT_THROW(c10::read_cifar10(dir.string(), false), sf::NotFoundError);  // no data_batch_1
  EXPECT_THROW(c10::synthetic_cifar10(0, 1), sf::InvalidArgumentError);
  std::filesystem::remove_all(dir);
}

// What a review against TF 2.21 found: float64 Pow gradients (Log in float64), LRN's float32
// norm (an overflowing norm gives 0) and TF's exp(-beta log(norm)) (a negative norm gives NaN),
// in_top_k's 0-D k and its name, an integer Pow with an empty output, Ceil's dtypes.
TEST_F(Tf1TrainingTest, ReviewedEdgeCasesAgreeWithTf) {
  sf::Session s;
  auto a = sf::constant(sf::Tensor::from_vector<double>({0.5, 2, -1, 0}, {4}));
  auto b = sf::constant(sf::Tensor::from_vector<double>({2, 0.5, 3, 2}, {4}));
  auto g = sf::gradients(sf::reduce_sum(sf::cast(sf::pow(a, b), sf::float32)), {a, b});
  auto r = s.run({g[0], g[1]});
  const auto gx = r[0].to_vector<double>(), gy = r[1].to_vector<double>();
  const std::vector<double> want_x{1, 0.35355338, 3, 0}, want_y{-0.1732868, 0.98025817, 0, 0};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(gx[i], want_x[i], 1e-7);
    EXPECT_NEAR(gy[i], want_y[i], 1e-7);
  }
  auto x = sf::placeholder(sf::float32, {1, 1, 1, 4}, "x");
  const auto xv = sf::Tensor::from_vector<float>({1e10f, -2e10f, 3e10f, 5e9f}, {1, 1, 1, 4});
  auto overflow = sf::nn::lrn(x, 1, 1.0, 1e30, 0.5);
  EXPECT_EQ(s.run(overflow, {{x, xv}}).to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  auto negative = sf::nn::lrn(x, 1, -5.0, 1.0, 2.0);
  for (float v :
       s.run(negative,
             {{x, sf::Tensor::from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f}, {1, 1, 1, 4})}})
           .to_vector<float>())
    EXPECT_TRUE(std::isnan(v));
  EXPECT_THROW(sf::nn::lrn(x, 2147483647), sf::ValueError);

  auto p = sf::placeholder(sf::float32, {2, 3}, "p");
  auto t = sf::placeholder(sf::int32, {2}, "t");
  EXPECT_EQ(sf::nn::in_top_k(p, t, 1, "acc").name(), "acc/acc:0");
  auto k = sf::placeholder(sf::int32, sf::Shape::unknown(), "k");
  auto top = sf::get_default_graph().create_op("InTopKV2", {p, t, k}, {}, "top").output(0);
  try {
    s.run(top, {{p, sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
                {t, sf::Tensor::from_vector<std::int32_t>({0, 2}, {2})},
                {k, sf::Tensor::from_vector<std::int32_t>({1}, {1})}});
    FAIL() << "a k of shape [1] was accepted";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("k must be 0-D, got shape [1]"), std::string::npos)
        << e.what();
  }
  auto empty = sf::placeholder(sf::int32, {0}, "empty");
  auto minus = sf::placeholder(sf::int32, {1}, "minus");
  EXPECT_EQ(
      s.run(sf::pow(empty, minus), {{empty, sf::Tensor::from_vector<std::int32_t>({}, {0})},
                                    {minus, sf::Tensor::from_vector<std::int32_t>({-1}, {1})}})
          .num_elements(),
      0);
  EXPECT_THROW(sf::ceil(sf::placeholder(sf::int32, {2})), sf::ValueError);
  EXPECT_THROW(sf::floor(sf::placeholder(sf::int64, {2})), sf::ValueError);
}

// What a second review against TF 2.21 found in the schedules and the moving averages.
TEST_F(Tf1TrainingTest, ReviewedScheduleAndAverageCasesAgreeWithTf) {
  sf::Session s;
  auto x = sf::placeholder(sf::float32, sf::Shape{}, "x");
  // A NaN x takes no predicate: TF's case falls back to values[0].
  auto pw = tr::piecewise_constant(x, {1, 2}, {10, 20, 30});
  EXPECT_EQ(s.run(pw, {{x, sf::Tensor::from_scalar(std::nanf(""))}}).scalar<float>(), 10.0f);
  EXPECT_EQ(s.run(pw, {{x, sf::Tensor::from_scalar(2.0f)}}).scalar<float>(), 20.0f);
  EXPECT_EQ(s.run(pw, {{x, sf::Tensor::from_scalar(INFINITY)}}).scalar<float>(), 30.0f);
  // A fractional decay_steps stays fractional (TF: 0.0010002948 in float32).
  auto frac = tr::exponential_decay(0.1, x, 390.625 * 2.5, 0.1);
  EXPECT_NEAR(s.run(frac, {{x, sf::Tensor::from_scalar(1953.0f)}}).scalar<float>(), 0.001, 1e-6);
  EXPECT_THROW(tr::exponential_decay(0.1, x, 0.0, 0.1), sf::ValueError);
  // A float16 rate with staircase (Floor in float16); TF: 0.09998, 0.09998, 0.04999.
  auto h = tr::exponential_decay(sf::cast(sf::constant(0.1f), sf::float16), x, 10, 0.5, true);
  for (auto [step, want] : {std::pair{0.0f, 0.09998f}, {9.0f, 0.09998f}, {10.0f, 0.04999f}})
    EXPECT_NEAR(
        s.run(sf::cast(h, sf::float32), {{x, sf::Tensor::from_scalar(step)}}).scalar<float>(), want,
        1e-5);
  // Steps of other numeric dtypes are cast, as TF's.
  EXPECT_NO_THROW(tr::exponential_decay(0.1, sf::placeholder(sf::uint8, sf::Shape{}), 10, 0.5));
  // int32 boundaries span int32.
  EXPECT_NO_THROW(tr::piecewise_constant(sf::placeholder(sf::int32, sf::Shape{}),
                                         {-2147483648.0, 2147483647.0}, {1, 2, 3}));
}

TEST_F(Tf1TrainingTest, AveragesOfRestoredAndPartitionedVariablesAsTf) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sf_ema2_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // 1. A shadow added to a restored model starts from the restored value (TF's cond on
  // is_variable_initialized), not from the initial value.
  std::string path;
  {
    auto w = sf::get_variable("w", {2}, {.initializer = sf::constant_initializer(5.0)});
    sf::Session s;
    s.run(sf::global_variables_initializer());
    path = tr::Saver().save(s, (dir / "w").string());
  }
  sf::reset_default_graph();
  {
    auto w = sf::get_variable("w", {2}, {.initializer = sf::constant_initializer(1.0)});
    tr::ExponentialMovingAverage ema(0.9);
    (void)ema.apply({w});
    sf::Session s;
    tr::Saver({.var_list = std::vector<sf::Variable>{w}}).restore(s, path);
    s.run(sf::variables_initializer({ema.average(w)}));
    EXPECT_EQ(values(s, ema.average(w)), (std::vector<float>{5, 5}));
    // Initialized together, the shadow starts at the initial value.
    s.run(sf::global_variables_initializer());
    EXPECT_EQ(values(s, ema.average(w)), (std::vector<float>{1, 1}));
  }
  // 2. The shadows of a partitioned variable's shards are saved whole, so an evaluation graph
  // without the partitioner restores the averages.
  sf::reset_default_graph();
  {
    auto w = sf::get_variable("p", {4, 2},
                              {.initializer = sf::constant_initializer(2.0),
                               .partitioner = sf::fixed_size_partitioner(2)});
    tr::ExponentialMovingAverage ema(0.5);
    auto op = ema.apply();
    EXPECT_EQ(ema.average(w.partitions()[1]).save_slice_info()->full_name,
              "p/ExponentialMovingAverage");
    sf::Session s;
    s.run(sf::global_variables_initializer());
    s.run(w.partitions()[1].assign(sf::constant(std::vector<float>{0, 0, 0, 0}, {2, 2})));
    s.run(op);
    path = tr::Saver().save(s, (dir / "p").string());
  }
  sf::reset_default_graph();
  {
    auto p = sf::get_variable("p", {4, 2});
    tr::ExponentialMovingAverage ema(0.5);
    sf::Session s;
    tr::Saver({.var_dict = ema.variables_to_restore()}).restore(s, path);
    EXPECT_EQ(values(s, p), (std::vector<float>{2, 2, 2, 2, 1, 1, 1, 1}));
  }
  // 3. One EMA object used in a second graph makes that graph's shadows.
  sf::Graph first = sf::get_default_graph();
  tr::ExponentialMovingAverage ema(0.9);
  sf::Variable w1, w2;
  {
    sf::reset_default_graph();
    w1 = sf::get_variable("w", {1});
    (void)ema.apply({w1});
  }
  sf::reset_default_graph();
  w2 = sf::get_variable("w", {1});
  auto op = ema.apply({w2});
  EXPECT_EQ(ema.average(w2).graph(), sf::get_default_graph());
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(op);
  // 4. A scope with reuse=True finds no shadow to reuse: TF's "does not exist".
  auto w3 = sf::get_variable("w3", {1});
  {
    sf::variable_scope vs("tower", {.reuse = true});
    EXPECT_THROW(tr::ExponentialMovingAverage(0.9).apply({w3}), sf::ValueError);
  }
  {
    sf::variable_scope vs("tower", {.reuse = sf::AUTO_REUSE});
    // TF: unique_name(..., mark_as_used=False) under the current name scope.
    EXPECT_EQ(tr::ExponentialMovingAverage(0.9).average_name(w3),
              "tower_1/w3/ExponentialMovingAverage");
  }
  std::filesystem::remove_all(dir);
}

// A review of the clipping and normalization builders against TF 2.21.
TEST_F(Tf1TrainingTest, ReviewedClippingAndNormalizationAsTf) {
  sf::Session s;
  // No tensor at all: a norm of 0 and the empty entries back.
  auto [none, zero] = sf::clip_by_global_norm({sf::Output(), sf::Output()}, 1.0);
  EXPECT_FALSE(none[0].valid());
  EXPECT_FALSE(none[1].valid());
  EXPECT_EQ(s.run(zero).scalar<float>(), 0.0f);
  // The norm takes the name; each tensor's work goes with the tensor.
  sf::Output a;
  {
    sf::device cpu("/cpu:0");
    a = sf::constant(std::vector<float>{3, 4}, {2}, "a");
  }
  sf::Output clipped, norm;
  {
    sf::device gpu("/gpu:1");
    auto r = sf::clip_by_global_norm({a}, 1.0, {}, "clip");
    clipped = r.first[0];
    norm = r.second;
  }
  EXPECT_EQ(norm.op().name(), "clip/global_norm");
  EXPECT_EQ(clipped.op().name(), "clip_1/clip_1/_0");
  EXPECT_EQ(clipped.op().device(), a.op().device());
  EXPECT_EQ(norm.op().inputs()[0].op().inputs()[0].op().type(), "Sum");
  // clip_norm 0 clips to zeros, as TF.
  EXPECT_EQ(s.run(sf::clip_by_norm(a, 0.0)).to_vector<float>(), (std::vector<float>{0, 0}));
  // float16 statistics are computed in float32; empty axes reduce nothing.
  auto x = sf::constant(std::vector<float>{1, 2, 4, 3, 5, 9}, {2, 3});
  auto [m16, v16] = sf::nn::moments(sf::cast(x, sf::float16), {0});
  EXPECT_EQ(m16.dtype(), sf::float16);
  auto r16 = s.run({sf::cast(m16, sf::float32), sf::cast(v16, sf::float32)});
  EXPECT_EQ(r16[0].to_vector<float>(), (std::vector<float>{2, 3.5f, 6.5f}));
  EXPECT_EQ(r16[1].to_vector<float>(), (std::vector<float>{1, 2.25f, 6.25f}));
  auto [m0, v0] = sf::nn::moments(x, {}, true);
  auto r0 = s.run({m0, v0});
  EXPECT_EQ(r0[0].to_vector<float>(), (std::vector<float>{1, 2, 4, 3, 5, 9}));
  EXPECT_EQ(r0[1].to_vector<float>(), std::vector<float>(6, 0.0f));
  // Mixed precision: a float16 x with float32 statistics gives float16.
  auto [m, v] = sf::nn::moments(x, {0});
  auto y16 =
      sf::nn::batch_normalization(sf::cast(x, sf::float16), m, v, sf::Output(), sf::Output(), 1e-3);
  EXPECT_EQ(y16.dtype(), sf::float16);
  const auto y = s.run(sf::cast(y16, sf::float32)).to_vector<float>();
  EXPECT_NEAR(y[0], -0.9995f, 1e-3);
  // Rsqrt in float64, with its gradient.
  auto d = sf::constant(sf::Tensor::from_vector<double>({4.0, 0.25}, {2}));
  auto rd = sf::rsqrt(d);
  auto gd = sf::gradients(sf::reduce_sum(sf::cast(rd, sf::float32)), {d})[0];
  auto rr = s.run({rd, gd});
  EXPECT_EQ(rr[0].to_vector<double>(), (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(rr[1].to_vector<double>(), (std::vector<double>{-0.0625, -4.0}));  // -x^-1.5 / 2
}

// conv2d_transpose: output_shape's channels against the filter's are the kernel's to refuse
// (TF 2.21 builds the op), and the shape is checked when built.
TEST_F(Tf1TrainingTest, Conv2dTransposeChecks) {
  auto x = sf::zeros({1, 2, 2, 2});
  auto f = sf::zeros({3, 3, 4, 2});
  auto bad = sf::nn::conv2d_transpose(x, f, {1, 4, 4, 5}, {1, 2, 2, 1});
  sf::Session s;
  EXPECT_THROW(s.run(bad), sf::InvalidArgumentError);
  EXPECT_THROW(sf::nn::conv2d_transpose(x, f, {1, 4, 4}, {1, 2, 2, 1}), sf::ValueError);
  EXPECT_THROW(sf::nn::conv2d_transpose(x, f, {1, 0, 4, 4}, {1, 2, 2, 1}), sf::ValueError);
  auto ok = sf::nn::conv2d_transpose(x, f, {1, 4, 4, 4}, {1, 2, 2, 1});
  EXPECT_EQ(ok.shape(), sf::Shape({1, 4, 4, 4}));
  EXPECT_EQ(s.run(ok).num_elements(), 64);
  EXPECT_THROW(sf::nn::l2_normalize(x, {}, std::nan("")), sf::ValueError);
}

}  // namespace
