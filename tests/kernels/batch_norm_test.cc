// FusedBatchNormV3 / FusedBatchNormGradV3 on the CPU: against a direct double-precision
// computation (training, blending, inference, each layout), finite differences for the
// gradient kernel, the edge cases TF defines (one element per channel, an empty batch), and
// the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "kernels/batch_norm/batch_norm.h"
#include "kernels/kernel.h"

namespace sf = scopeflow;
using sf::Shape;
using sf::Tensor;

namespace {

Tensor random_tensor(const Shape& s, unsigned seed, float lo = -2.0f, float hi = 3.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(s.num_elements()));
  for (auto& x : v) x = d(g);
  return Tensor::from_vector<float>(v, s);
}

struct Attrs {
  float epsilon = 1e-3f, factor = 1.0f;
  bool training = true;
  std::string format = "NHWC";
  sf::AttrMap map() const {
    sf::AttrMap a;
    a.set("epsilon", epsilon);
    a.set("exponential_avg_factor", factor);
    a.set("is_training", training);
    a.set("data_format", format);
    return a;
  }
};

std::vector<Tensor> run(const char* op, std::vector<Tensor> inputs, const Attrs& at) {
  const sf::AttrMap a = at.map();
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &a;
  c.node_name = "bn";
  c.inputs = std::move(inputs);
  sf::kernels::kernel_registry().find(op, sf::devices::DeviceType::kCPU, sf::float32)(c);
  return c.outputs;
}

// Channel and flat index helpers for x viewed as [outer, C, inner].
struct View {
  std::int64_t outer, channels, inner;
};
View view_of(const Shape& s, bool channels_first) {
  const auto& d = s.dims();
  if (channels_first) {
    std::int64_t inner = 1;
    for (std::size_t i = 2; i < d.size(); ++i) inner *= d[i];
    return {d[0], d[1], inner};
  }
  return {s.num_elements() / d.back(), d.back(), 1};
}

// The batch statistics in double: mean and biased variance per channel.
void statistics(const Tensor& x, const View& v, std::vector<double>& mean,
                std::vector<double>& var) {
  const float* p = x.data<float>();
  mean.assign(static_cast<std::size_t>(v.channels), 0.0);
  var.assign(static_cast<std::size_t>(v.channels), 0.0);
  const double n = static_cast<double>(v.outer * v.inner);
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t c = 0; c < v.channels; ++c)
      for (std::int64_t k = 0; k < v.inner; ++k)
        mean[static_cast<std::size_t>(c)] += p[(o * v.channels + c) * v.inner + k] / n;
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t c = 0; c < v.channels; ++c)
      for (std::int64_t k = 0; k < v.inner; ++k) {
        const double d = p[(o * v.channels + c) * v.inner + k] - mean[static_cast<std::size_t>(c)];
        var[static_cast<std::size_t>(c)] += d * d / n;
      }
}

void expect_near_vec(const Tensor& got, const std::vector<double>& want, double tol,
                     const std::string& what) {
  ASSERT_EQ(got.num_elements(), static_cast<std::int64_t>(want.size())) << what;
  const auto g = got.to_vector<float>();
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(g[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
}

}  // namespace

TEST(FusedBatchNormTest, TrainingNormalizesWithTheBatchStatisticsInEveryLayout) {
  struct Case {
    Shape shape;
    std::string format;
  };
  unsigned seed = 1;
  for (const Case& k :
       {Case{{4, 5, 6, 7}, "NHWC"}, Case{{3, 8, 5, 5}, "NCHW"}, Case{{2, 3, 4, 5, 6}, "NDHWC"},
        Case{{2, 6, 3, 4, 5}, "NCDHW"}, Case{{1, 1, 1, 300}, "NHWC"}}) {
    SCOPED_TRACE(k.format + " " + k.shape.to_string());
    const bool first = k.format == "NCHW" || k.format == "NCDHW";
    const View v = view_of(k.shape, first);
    const Tensor x = random_tensor(k.shape, seed++);
    const Tensor scale = random_tensor(Shape{v.channels}, seed++, 0.5f, 2.0f);
    const Tensor offset = random_tensor(Shape{v.channels}, seed++);
    const Tensor empty = Tensor::from_vector<float>({}, Shape{0});
    Attrs at;
    at.format = k.format;
    const auto out = run("FusedBatchNormV3", {x, scale, offset, empty, empty}, at);
    ASSERT_EQ(out.size(), 6u);
    std::vector<double> mean, var;
    statistics(x, v, mean, var);
    const double n = static_cast<double>(v.outer * v.inner);
    std::vector<double> unbiased(var);
    for (auto& u : unbiased) u *= n / std::max(n - 1.0, 1.0);
    expect_near_vec(out[1], mean, 1e-5, "batch_mean");
    expect_near_vec(out[2], unbiased, 1e-5, "batch_variance (Bessel-corrected)");
    expect_near_vec(out[3], mean, 1e-5, "reserve_space_1");
    expect_near_vec(out[4], var, 1e-5, "reserve_space_2 (biased)");
    EXPECT_EQ(out[5].shape(), Shape{0});
    ASSERT_EQ(out[0].shape(), k.shape);
    const float* px = x.data<float>();
    const float* py = out[0].data<float>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t c = 0; c < v.channels; ++c)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const std::int64_t e = (o * v.channels + c) * v.inner + i;
          const auto q = static_cast<std::size_t>(c);
          const double want =
              (px[e] - mean[q]) / std::sqrt(var[q] + 1e-3) * scale.data<float>()[c] +
              offset.data<float>()[c];
          ASSERT_NEAR(py[e], want, 1e-4 * (1 + std::abs(want))) << "y element " << e;
        }
  }
}

TEST(FusedBatchNormTest, ExponentialAverageFactorBlendsAndInferenceUsesTheGivenStatistics) {
  const Shape s{3, 4, 2, 5};
  const Tensor x = random_tensor(s, 11);
  const Tensor scale = random_tensor(Shape{5}, 12, 0.5f, 2.0f);
  const Tensor offset = random_tensor(Shape{5}, 13);
  const Tensor mean_in = random_tensor(Shape{5}, 14);
  const Tensor var_in = random_tensor(Shape{5}, 15, 0.5f, 2.0f);
  std::vector<double> mean, var;
  statistics(x, view_of(s, false), mean, var);
  Attrs at;
  at.factor = 0.3f;
  const auto blended = run("FusedBatchNormV3", {x, scale, offset, mean_in, var_in}, at);
  std::vector<double> want_mean(5), want_var(5);
  for (std::size_t c = 0; c < 5; ++c) {
    want_mean[c] = 0.7 * mean_in.data<float>()[c] + 0.3 * mean[c];
    want_var[c] = 0.7 * var_in.data<float>()[c] + 0.3 * var[c] * 24.0 / 23.0;
  }
  expect_near_vec(blended[1], want_mean, 1e-5, "blended mean");
  expect_near_vec(blended[2], want_var, 1e-5, "blended variance");
  expect_near_vec(blended[3], mean, 1e-5, "reserve_space_1 is the batch's");

  at.factor = 1.0f;
  at.training = false;
  const auto inf = run("FusedBatchNormV3", {x, scale, offset, mean_in, var_in}, at);
  for (int i = 1; i <= 4; ++i) {
    const auto want = (i % 2 == 1 ? mean_in : var_in).to_vector<float>();
    EXPECT_EQ(inf[static_cast<std::size_t>(i)].to_vector<float>(), want) << "output " << i;
  }
  const auto y = inf[0].to_vector<float>();
  const auto xv = x.to_vector<float>();
  for (std::size_t e = 0; e < xv.size(); ++e) {
    const std::size_t c = e % 5;
    const double want = (xv[e] - mean_in.data<float>()[c]) /
                            std::sqrt(double(var_in.data<float>()[c]) + 1e-3) *
                            scale.data<float>()[c] +
                        offset.data<float>()[c];
    ASSERT_NEAR(y[e], want, 1e-4 * (1 + std::abs(want))) << e;
  }
}

TEST(FusedBatchNormTest, GradientIsTheDerivativeOfTheForwardKernel) {
  for (bool training : {true, false})
    for (const char* format : {"NHWC", "NCHW"}) {
      SCOPED_TRACE(std::string(format) + (training ? " training" : " inference"));
      const Shape s{2, 3, 3, 4};
      const std::int64_t C = std::string(format) == "NHWC" ? 4 : 3;
      Tensor x = random_tensor(s, 21);
      Tensor scale = random_tensor(Shape{C}, 22, 0.5f, 2.0f);
      Tensor offset = random_tensor(Shape{C}, 23);
      const Tensor mean_in = random_tensor(Shape{C}, 24);
      const Tensor var_in = random_tensor(Shape{C}, 25, 0.5f, 2.0f);
      const Tensor dy = random_tensor(s, 26, -1.0f, 1.0f);
      Attrs at;
      at.training = training;
      at.format = format;
      // L = sum(dy * y(x, scale, offset)), in double.
      auto loss = [&] {
        const auto y = run("FusedBatchNormV3", {x, scale, offset, mean_in, var_in}, at)[0];
        double l = 0;
        for (std::int64_t e = 0; e < y.num_elements(); ++e)
          l += double(dy.data<float>()[e]) * y.data<float>()[e];
        return l;
      };
      const auto fwd = run("FusedBatchNormV3", {x, scale, offset, mean_in, var_in}, at);
      const auto g = training
                         ? run("FusedBatchNormGradV3", {dy, x, scale, fwd[3], fwd[4], fwd[5]}, at)
                         : run("FusedBatchNormGradV3", {dy, x, scale, mean_in, var_in, fwd[5]}, at);
      ASSERT_EQ(g.size(), 5u);
      EXPECT_EQ(g[3].shape(), Shape{});
      EXPECT_EQ(g[4].shape(), Shape{});
      auto check = [&](Tensor& t, const Tensor& grad, const char* what) {
        for (std::int64_t i = 0; i < t.num_elements();
             i += std::max<std::int64_t>(1, t.num_elements() / 13)) {
          float* p = t.data<float>() + i;
          const float saved = *p, h = 1e-2f;
          *p = saved + h;
          const double up = loss();
          *p = saved - h;
          const double down = loss();
          *p = saved;
          EXPECT_NEAR(grad.data<float>()[i], (up - down) / (2 * h), 2e-3) << what << " " << i;
        }
      };
      check(x, g[0], "x_backprop");
      check(scale, g[1], "scale_backprop");
      check(offset, g[2], "offset_backprop");
    }
}

TEST(FusedBatchNormTest, OnePassStatisticsStayAccurateAwayFromZeroAndWithOutliers) {
  // Both statistics come from one pass of shifted sums: check them against the two-pass
  // double computation where a plain E[x^2] - E[x]^2 in float would cancel (a large mean) or a
  // badly chosen shift would (an outlier first element), in both layouts.
  std::mt19937 g(7);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const std::int64_t rows = 4096;
  std::vector<float> v(static_cast<std::size_t>(rows * 3));
  for (std::int64_t r = 0; r < rows; ++r) {
    v[static_cast<std::size_t>(r * 3)] = 1.0e4f + noise(g);               // a large mean
    v[static_cast<std::size_t>(r * 3 + 1)] = noise(g) * 1e-3f;            // a tiny variance
    v[static_cast<std::size_t>(r * 3 + 2)] = r == 0 ? 1.0e3f : noise(g);  // an outlier first
  }
  for (const char* format : {"NHWC", "NCHW"}) {
    SCOPED_TRACE(format);
    const bool first = std::string(format) == "NCHW";
    const Shape s = first ? Shape{1, 3, rows, 1} : Shape{1, rows, 1, 3};
    std::vector<float> data(v.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < 3; ++c)
        data[static_cast<std::size_t>(first ? c * rows + r : r * 3 + c)] =
            v[static_cast<std::size_t>(r * 3 + c)];
    const Tensor x = Tensor::from_vector<float>(data, s);
    const Tensor ones = Tensor::from_vector<float>({1, 1, 1}, Shape{3});
    const Tensor empty = Tensor::from_vector<float>({}, Shape{0});
    Attrs at;
    at.format = format;
    const auto out = run("FusedBatchNormV3", {x, ones, ones, empty, empty}, at);
    std::vector<double> mean, var;
    statistics(x, view_of(s, first), mean, var);
    const auto got_mean = out[3].to_vector<float>(), got_var = out[4].to_vector<float>();
    for (std::size_t c = 0; c < 3; ++c) {
      // float's resolution of the data: relative to the mean's size and the spread
      EXPECT_NEAR(got_mean[c], mean[c], 1e-6 * (std::abs(mean[c]) + std::sqrt(var[c])))
          << "mean " << c;
      EXPECT_NEAR(got_var[c], var[c], 1e-4 * var[c]) << "variance " << c;
    }
  }
}

TEST(FusedBatchNormTest, NanAndInfSpreadAsInTf) {
  // TF's sums: a NaN in a channel makes its mean and variance NaN; an inf its mean inf and its
  // variance NaN (inf - inf); the other channels are untouched. Both layouts.
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const char* format : {"NHWC", "NCHW"}) {
    SCOPED_TRACE(format);
    const bool first = std::string(format) == "NCHW";
    const std::int64_t rows = 100;
    std::vector<float> v(static_cast<std::size_t>(rows * 3));
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < 3; ++c) {
        float x = static_cast<float>((r * 7 + c * 3) % 11) - 5.0f;
        if (c == 0 && r == 37) x = nan;
        if (c == 1 && r == 0) x = inf;  // inside the shift's sample too
        v[static_cast<std::size_t>(first ? c * rows + r : r * 3 + c)] = x;
      }
    const Shape s = first ? Shape{1, 3, rows, 1} : Shape{1, rows, 1, 3};
    const Tensor x = Tensor::from_vector<float>(v, s);
    const Tensor ones = Tensor::from_vector<float>({1, 1, 1}, Shape{3});
    const Tensor empty = Tensor::from_vector<float>({}, Shape{0});
    Attrs at;
    at.format = format;
    const auto out = run("FusedBatchNormV3", {x, ones, ones, empty, empty}, at);
    const auto mean = out[1].to_vector<float>(), var = out[2].to_vector<float>();
    EXPECT_TRUE(std::isnan(mean[0]));
    EXPECT_TRUE(std::isnan(var[0]));
    EXPECT_EQ(mean[1], inf);
    EXPECT_TRUE(std::isnan(var[1]));
    EXPECT_TRUE(std::isfinite(mean[2]) && std::isfinite(var[2]) && var[2] > 0.0f);
  }
}

TEST(FusedBatchNormTest, OnePassStatisticsSurviveOutliersAtTheStart) {
  // A large mean with a small spread (the sums of squares cancel without a good shift) and the
  // first rows far from the rest (a shift sampled from them alone would be a poor one): the
  // variance still agrees with the two-pass double computation.
  const std::int64_t rows = 50000;
  std::vector<float> v(static_cast<std::size_t>(rows * 2));
  std::mt19937 g(3);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    v[static_cast<std::size_t>(r * 2)] = 1.0e4f + (r < 8 ? 1000.0f : noise(g));
    v[static_cast<std::size_t>(r * 2 + 1)] = static_cast<float>(r) * 0.01f;  // a ramp
  }
  const Tensor x = Tensor::from_vector<float>(v, Shape{1, rows, 1, 2});
  const Tensor ones = Tensor::from_vector<float>({1, 1}, Shape{2});
  const Tensor empty = Tensor::from_vector<float>({}, Shape{0});
  const auto out = run("FusedBatchNormV3", {x, ones, ones, empty, empty}, Attrs{});
  std::vector<double> mean, var;
  statistics(x, view_of(x.shape(), false), mean, var);
  const auto got = out[4].to_vector<float>();
  for (std::size_t c = 0; c < 2; ++c) EXPECT_NEAR(got[c], var[c], 1e-5 * var[c]) << c;
}

TEST(FusedBatchNormTest, EdgeCasesFollowTf) {
  const Tensor empty = Tensor::from_vector<float>({}, Shape{0});
  // One element per channel: variance 0, Bessel's n - 1 taken as 1.
  const Tensor x = Tensor::from_vector<float>({1.5f, -2.0f}, Shape{1, 1, 1, 2});
  const Tensor ones = Tensor::from_vector<float>({1.0f, 1.0f}, Shape{2});
  const Tensor zeros = Tensor::from_vector<float>({0.0f, 0.0f}, Shape{2});
  const auto one = run("FusedBatchNormV3", {x, ones, zeros, empty, empty}, Attrs{});
  EXPECT_EQ(one[0].to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
  EXPECT_EQ(one[1].to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(one[2].to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
  // An empty batch: y is empty, the statistics NaN, the reserve spaces 0 (TF's).
  const Tensor none = Tensor::from_vector<float>({}, Shape{0, 3, 3, 2});
  const auto e = run("FusedBatchNormV3", {none, ones, zeros, empty, empty}, Attrs{});
  EXPECT_EQ(e[0].shape(), (Shape{0, 3, 3, 2}));
  for (float m : e[1].to_vector<float>()) EXPECT_TRUE(std::isnan(m));
  for (float m : e[2].to_vector<float>()) EXPECT_TRUE(std::isnan(m));
  EXPECT_EQ(e[3].to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));  // reserve spaces: 0
  EXPECT_EQ(e[4].to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
  Attrs inference;
  inference.training = false;
  const auto ei = run("FusedBatchNormV3", {none, ones, zeros, ones, ones}, inference);
  for (float m : ei[1].to_vector<float>()) EXPECT_TRUE(std::isnan(m)) << "inference too";
  EXPECT_EQ(ei[3].to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
  // Training with factor 1 does not read mean / variance: any 1-D float tensor passes.
  EXPECT_NO_THROW(run("FusedBatchNormV3",
                      {x, ones, zeros, Tensor::from_vector<float>({1, 2, 3}, Shape{3}), empty},
                      Attrs{}));
  const auto ge = run("FusedBatchNormGradV3", {none, none, ones, zeros, ones, empty}, Attrs{});
  EXPECT_EQ(ge[0].shape(), (Shape{0, 3, 3, 2}));
  EXPECT_EQ(ge[1].to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
}

TEST(FusedBatchNormTest, BadInputsAreInvalidArgumentErrorsNamingTheNode) {
  const Tensor x = random_tensor(Shape{2, 2, 2, 3}, 31);
  const Tensor c3 = random_tensor(Shape{3}, 32);
  const Tensor c2 = random_tensor(Shape{2}, 33);
  const Tensor empty = Tensor::from_vector<float>({}, Shape{0});
  auto expect_error = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one containing: " << needle;
    } catch (const sf::InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bn"), std::string::npos) << e.what();
    }
  };
  expect_error(
      [&] {
        run("FusedBatchNormV3", {x, c2, c3, empty, empty}, Attrs{});
      },
      "scale must have the same number of elements as the channels of x, got 2 and 3");
  expect_error(
      [&] {
        run("FusedBatchNormV3", {random_tensor(Shape{2, 3}, 1), c3, c3, empty, empty}, Attrs{});
      },
      "input must be 4-dimensional");
  Attrs inference;
  inference.training = false;
  expect_error(
      [&] {
        run("FusedBatchNormV3", {x, c3, c3, empty, c3}, inference);
      },
      "mean must have the same number of elements");
  Attrs bad;
  bad.format = "NWHC";
  expect_error(
      [&] {
        run("FusedBatchNormV3", {x, c3, c3, empty, empty}, bad);
      },
      "Invalid data format \"NWHC\"");
  expect_error(
      [&] {
        run("FusedBatchNormGradV3", {random_tensor(Shape{2, 2, 2, 2}, 2), x, c3, c3, c3, empty},
            Attrs{});
      },
      "y_backprop");
}
