// CPU reference kernels of the CNN op set: small hand-computed cases, TF's padding rule, and
// finite-difference checks that each gradient kernel is the derivative of its forward kernel.
#include <gtest/gtest.h>

#include <array>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "kernels/apply/apply.h"
#include "kernels/bias_add/bias_add.h"
#include "kernels/conv2d/conv2d.h"
#include "kernels/kernel.h"
#include "kernels/matmul/matmul.h"
#include "kernels/pool/pool.h"
#include "kernels/reduce/reduce.h"
#include "kernels/relu/relu.h"
#include "kernels/softmax_xent/softmax_xent.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;

namespace {
std::vector<float> random_vec(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}
// Checks grad == d/dv <dy, f(v)> by central differences at a few coordinates.
void check_gradient(std::vector<float> v, const std::vector<float>& grad,
                    const std::vector<float>& dy,
                    const std::function<std::vector<float>(const std::vector<float>&)>& f,
                    const char* what) {
  for (std::size_t i = 0; i < v.size(); i += std::max<std::size_t>(1, v.size() / 17)) {
    const float h = 1e-2f, saved = v[i];
    v[i] = saved + h;
    const double up = dot(dy, f(v));
    v[i] = saved - h;
    const double down = dot(dy, f(v));
    v[i] = saved;
    EXPECT_NEAR(grad[i], (up - down) / (2 * h), 2e-3) << what << " coordinate " << i;
  }
}
}  // namespace

TEST(WindowTest, TfPaddingRule) {
  auto same = k::window_dim(5, 3, 2, 1, "SAME", "t");
  EXPECT_EQ(same.out, 3);
  EXPECT_EQ(same.pad_before, 1);
  auto valid = k::window_dim(5, 3, 2, 1, "VALID", "t");
  EXPECT_EQ(valid.out, 2);
  EXPECT_EQ(k::window_dim(28, 5, 1, 1, "SAME", "t").pad_before, 2);
  EXPECT_EQ(k::window_dim(4, 2, 2, 1, "SAME", "t").pad_before, 0);  // pad total 0
  EXPECT_EQ(k::window_dim(6, 3, 1, 2, "VALID", "t").out, 2);        // dilation 2: effective 5
  EXPECT_THROW(k::window_dim(2, 3, 1, 1, "VALID", "t"), sf::InvalidArgumentError);
  EXPECT_THROW(k::window_dim(5, 3, 1, 1, "FULL", "t"), sf::InvalidArgumentError);
}

TEST(ReluTest, ForwardBackwardAndEdges) {
  std::vector<float> x{-1.0f, -0.0f, 0.0f, 2.5f, NAN}, y(5), dx(5);
  k::relu_forward_ref(x.data(), y.data(), 5);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[3], 2.5f);
  EXPECT_TRUE(std::isnan(y[4]));
  std::vector<float> dy(5, 1.0f);
  k::relu_backward_ref(dy.data(), x.data(), dx.data(), 5);
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0, 1, 0}));
}

TEST(BiasAddTest, ForwardAndGradient) {
  std::vector<float> x{1, 2, 3, 4, 5, 6}, b{10, 20, 30}, y(6), db(3);
  k::bias_add_forward_ref(x.data(), b.data(), y.data(), 2, 3);
  EXPECT_EQ(y, (std::vector<float>{11, 22, 33, 14, 25, 36}));
  k::bias_add_backward_ref(x.data(), db.data(), 2, 3);
  EXPECT_EQ(db, (std::vector<float>{5, 7, 9}));
}

TEST(MatMulTest, TransposeFlags) {
  std::vector<float> a{1, 2, 3, 4, 5, 6}, b{1, 0, 0, 1, 1, 1}, c(4);
  k::matmul_forward_ref(a.data(), b.data(), c.data(), 2, 2, 3, false, false);  // [2,3] x [3,2]
  EXPECT_EQ(c, (std::vector<float>{4, 5, 10, 11}));
  k::matmul_forward_ref(a.data(), a.data(), c.data(), 2, 2, 3, false, true);  // a a^T
  EXPECT_EQ(c, (std::vector<float>{14, 32, 32, 77}));
}

TEST(Conv2DTest, HandComputedSame) {
  // 1x3x3x1 input 1..9, 2x2x1x1 filter of ones, stride 1, SAME: pad total 1 (after only).
  k::Conv2DGeom g{1, 1, 1, k::window_dim(3, 2, 1, 1, "SAME", "t"),
                  k::window_dim(3, 2, 1, 1, "SAME", "t")};
  std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9}, f{1, 1, 1, 1}, y(9);
  k::conv2d_forward_ref(g, x.data(), f.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{12, 16, 9, 24, 28, 15, 15, 17, 9}));
}

TEST(Conv2DTest, GradientsAreTheForwardsDerivatives) {
  for (const char* padding : {"SAME", "VALID"}) {
    k::Conv2DGeom g{2, 3, 4, k::window_dim(7, 3, 2, 1, padding, "t"),
                    k::window_dim(6, 2, 1, 2, padding, "t")};
    const std::size_t nx = 2 * 7 * 6 * 3, nf = 3 * 2 * 3 * 4,
                      ny = static_cast<std::size_t>(2 * g.h.out * g.w.out * 4);
    auto x = random_vec(nx, 1), f = random_vec(nf, 2), dy = random_vec(ny, 3);
    std::vector<float> dx(nx), df(nf);
    k::conv2d_backward_input_ref(g, f.data(), dy.data(), dx.data());
    k::conv2d_backward_filter_ref(g, x.data(), dy.data(), df.data());
    auto fwd_x = [&](const std::vector<float>& xv) {
      std::vector<float> y(ny);
      k::conv2d_forward_ref(g, xv.data(), f.data(), y.data());
      return y;
    };
    auto fwd_f = [&](const std::vector<float>& fv) {
      std::vector<float> y(ny);
      k::conv2d_forward_ref(g, x.data(), fv.data(), y.data());
      return y;
    };
    check_gradient(x, dx, dy, fwd_x, "conv2d dx");
    check_gradient(f, df, dy, fwd_f, "conv2d df");
  }
}

TEST(PoolTest, MaxAndAvgWithGradients) {
  k::PoolGeom g{1, 1, k::window_dim(4, 2, 2, 1, "VALID", "t"),
                k::window_dim(4, 2, 2, 1, "VALID", "t")};
  std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, y(4);
  k::max_pool_forward_ref(g, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{6, 8, 14, 16}));
  k::avg_pool_forward_ref(g, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}));
  k::PoolGeom s{2, 3, k::window_dim(5, 3, 2, 1, "SAME", "t"),
                k::window_dim(5, 2, 1, 1, "SAME", "t")};
  const std::size_t nx = 2 * 5 * 5 * 3, ny = static_cast<std::size_t>(2 * s.h.out * s.w.out * 3);
  // Distinct values 0.05 apart, so a finite-difference step of 0.01 never changes an argmax.
  std::vector<float> xs(nx);
  for (std::size_t i = 0; i < nx; ++i) xs[i] = 0.05f * static_cast<float>((i * 37) % nx);
  auto dy = random_vec(ny, 5);
  std::vector<float> dx(nx);
  k::max_pool_backward_ref(s, xs.data(), dy.data(), dx.data());
  check_gradient(
      xs, dx, dy,
      [&](const std::vector<float>& v) {
        std::vector<float> out(ny);
        k::max_pool_forward_ref(s, v.data(), out.data());
        return out;
      },
      "max_pool dx");
  k::avg_pool_backward_ref(s, dy.data(), dx.data());
  check_gradient(
      xs, dx, dy,
      [&](const std::vector<float>& v) {
        std::vector<float> out(ny);
        k::avg_pool_forward_ref(s, v.data(), out.data());
        return out;
      },
      "avg_pool dx");
}

TEST(ReduceTest, AxesAndKeepDims) {
  std::vector<float> x{1, 2, 3, 4, 5, 6};
  sf::Shape in{2, 3};
  auto m = k::reduction_mask(in, {1}, "t");
  EXPECT_EQ(k::reduced_shape(in, m, false), sf::Shape({2}));
  EXPECT_EQ(k::reduced_shape(in, m, true), sf::Shape({2, 1}));
  std::vector<float> y(2);
  k::reduce_forward_ref(k::ReduceOp::kSum, x.data(), in, m, y.data());
  EXPECT_EQ(y, (std::vector<float>{6, 15}));
  std::vector<float> y3(3);
  k::reduce_forward_ref(k::ReduceOp::kMax, x.data(), in, k::reduction_mask(in, {-2}, "t"),
                        y3.data());
  EXPECT_EQ(y3, (std::vector<float>{4, 5, 6}));
  k::reduce_forward_ref(k::ReduceOp::kMean, x.data(), in, k::reduction_mask(in, {0}, "t"),
                        y3.data());
  EXPECT_EQ(y3, (std::vector<float>{2.5f, 3.5f, 4.5f}));
  std::vector<float> all(1);
  k::reduce_forward_ref(k::ReduceOp::kMean, x.data(), in, k::reduction_mask(in, {}, "t"),
                        all.data());
  EXPECT_FLOAT_EQ(all[0], 3.5f);
  EXPECT_THROW(k::reduction_mask(in, {2}, "t"), sf::InvalidArgumentError);
}

TEST(SoftmaxXentTest, LossAndBackprop) {
  const std::int64_t b = 3, c = 4;
  auto logits = random_vec(b * c, 6);
  logits[0] = 80.0f;  // large logits stay finite
  std::vector<std::int64_t> labels{0, 3, 1};
  std::vector<float> loss(b), back(b * c);
  k::sparse_xent_forward_ref(logits.data(), labels.data(), loss.data(), back.data(), b, c, "t");
  for (auto l : loss) EXPECT_TRUE(std::isfinite(l) && l >= 0);
  for (std::int64_t r = 0; r < b; ++r) {
    double s = 0;
    for (std::int64_t j = 0; j < c; ++j) s += back[r * c + j];
    EXPECT_NEAR(s, 0.0, 1e-6);  // softmax sums to 1, minus the one-hot
  }
  std::vector<float> ones(b, 1.0f);
  check_gradient(
      logits, back, ones,
      [&](const std::vector<float>& v) {
        std::vector<float> l(b), bp(b * c);
        k::sparse_xent_forward_ref(v.data(), labels.data(), l.data(), bp.data(), b, c, "t");
        return l;
      },
      "xent");
  labels[1] = 4;
  try {
    k::sparse_xent_forward_ref(logits.data(), labels.data(), loss.data(), back.data(), b, c,
                               "xent");
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "Received a label value of 4 which is outside the valid range of [0, 4)"),
              std::string::npos);
  }
}

// Logits of no class in a non-empty batch: TF's shape error, naming the shape.
TEST(SparseXentTest, NoClassIsAShapeError) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.node_name = "xent";
  c.inputs = {sf::Tensor(sf::float32, sf::Shape{2, 0}),
              sf::Tensor::from_vector<std::int32_t>({0, 0}, {2})};
  try {
    sf::kernels::kernel_registry().find("SparseSoftmaxCrossEntropyWithLogits",
                                        sf::devices::DeviceType::kCPU, sf::float32)(c);
    FAIL() << "no error";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(
        std::string(e.what()).find("xent: Must have at least one class, but got logits shape"),
        std::string::npos)
        << e.what();
  }
}

// Every CPU label of Conv2D (and its gradients) and MatMul against the reference kernel.
namespace {
sf::Tensor run_kernel(const char* op, const std::string& label, std::vector<sf::Tensor> inputs,
                      const sf::AttrMap& attrs) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &attrs;
  c.node_name = op;
  c.inputs = std::move(inputs);
  sf::kernels::kernel_registry().find(op, sf::devices::DeviceType::kCPU, sf::float32, label)(c);
  return c.outputs.at(0);
}
void expect_close(const sf::Tensor& got, const sf::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = got.to_vector<float>(), w = want.to_vector<float>();
  for (std::size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], 1e-4f * (1.0f + std::abs(w[i]))) << what << " element " << i;
}
}  // namespace

TEST(CpuLabelsTest, ConvolutionLabelsMatchTheReference) {
  const auto labels =
      sf::kernels::kernel_registry().labels("Conv2D", sf::devices::DeviceType::kCPU, sf::float32);
  ASSERT_EQ(labels.back(), "ref");
  // The fast path is the default CPU label: oneDNN where built (faster on the benchmark
  // shapes, all three passes), else OpenBLAS.
  const auto& reg = sf::kernels::kernel_registry();
  const auto cpu = sf::devices::DeviceType::kCPU;
  if (sf::kernels::built_with_onednn()) {
    EXPECT_EQ(labels.front(), "onednn") << "the fast path must be the default CPU label";
    EXPECT_EQ(reg.labels("Conv2DBackpropFilter", cpu, sf::float32).front(), "onednn");
    EXPECT_EQ(reg.labels("Conv2DBackpropInput", cpu, sf::float32).front(), "onednn");
  } else if (sf::kernels::built_with_openblas()) {
    EXPECT_EQ(labels.front(), "openblas") << "the fast path must be the default CPU label";
  }
  struct Case {
    std::int64_t n, h, w, c, kh, kw, o, stride, dil;
    const char* padding;
  };
  for (const Case& k :
       {Case{2, 9, 7, 3, 3, 3, 5, 1, 1, "SAME"}, Case{1, 10, 10, 4, 5, 5, 6, 2, 1, "SAME"},
        Case{3, 8, 9, 2, 3, 2, 4, 2, 1, "VALID"}, Case{1, 9, 9, 3, 3, 3, 2, 1, 2, "SAME"}}) {
    sf::AttrMap a;
    a.set("strides", std::vector<std::int64_t>{1, k.stride, k.stride, 1});
    a.set("dilations", std::vector<std::int64_t>{1, k.dil, k.dil, 1});
    a.set("padding", std::string(k.padding));
    auto x = sf::Tensor::from_vector<float>(
        random_vec(static_cast<std::size_t>(k.n * k.h * k.w * k.c), 7), {k.n, k.h, k.w, k.c});
    auto f = sf::Tensor::from_vector<float>(
        random_vec(static_cast<std::size_t>(k.kh * k.kw * k.c * k.o), 8), {k.kh, k.kw, k.c, k.o});
    auto y_ref = run_kernel("Conv2D", "ref", {x, f}, a);
    auto dy = sf::Tensor::from_vector<float>(
        random_vec(static_cast<std::size_t>(y_ref.num_elements()), 9), y_ref.shape());
    auto xs = sf::Tensor::from_vector<std::int64_t>(x.shape().dims());
    auto fs = sf::Tensor::from_vector<std::int64_t>(f.shape().dims());
    for (const auto& label : labels) {
      expect_close(run_kernel("Conv2D", label, {x, f}, a), y_ref, "Conv2D/" + label);
      expect_close(run_kernel("Conv2DBackpropInput", label, {xs, f, dy}, a),
                   run_kernel("Conv2DBackpropInput", "ref", {xs, f, dy}, a),
                   "Conv2DBackpropInput/" + label);
      expect_close(run_kernel("Conv2DBackpropFilter", label, {x, fs, dy}, a),
                   run_kernel("Conv2DBackpropFilter", "ref", {x, fs, dy}, a),
                   "Conv2DBackpropFilter/" + label);
    }
  }
}

// Sum / Mean / Max / L2Loss's "cpu" label against "ref": one block (leading, trailing, middle
// axes: bit for bit, each output summed in the same order), a reduction to one value (blocked
// partials: within rounding), a pattern that is not one block (the reference's way), NaN.
TEST(CpuLabelsTest, ReductionLabelsMatchTheReference) {
  const auto cpu = sf::devices::DeviceType::kCPU;
  for (const char* op : {"Sum", "Mean", "Max", "L2Loss"})
    EXPECT_EQ(sf::kernels::kernel_registry().labels(op, cpu, sf::float32).front(), "cpu") << op;
  struct Case {
    sf::Shape shape;
    std::vector<std::int32_t> axes;
    bool exact;
  };
  const std::vector<Case> cases = {
      {{4, 2304, 3}, {0}, true},   {{7, 5, 300}, {2}, true}, {{3, 1, 600, 9}, {1, 2}, true},
      {{5, 40000}, {0, 1}, false}, {{70001}, {0}, false},    {{4, 3, 5}, {0, 2}, true},
      {{2, 1, 3}, {1}, true},      {{0, 3}, {0}, true},      {{3, 0}, {1}, true},
  };
  for (const char* op : {"Sum", "Mean", "Max"})
    for (const auto& k : cases) {
      auto xv = random_vec(static_cast<std::size_t>(k.shape.num_elements()), 31);
      if (xv.size() > 100) xv[77] = std::nanf("");
      auto x = sf::Tensor::from_vector<float>(xv, k.shape);
      auto axes =
          sf::Tensor::from_vector<std::int32_t>(k.axes, {static_cast<std::int64_t>(k.axes.size())});
      sf::AttrMap a;
      a.set("keep_dims", false);
      const auto want = run_kernel(op, "ref", {x, axes}, a);
      const auto got = run_kernel(op, "cpu", {x, axes}, a);
      ASSERT_EQ(got.shape(), want.shape()) << op;
      const auto g = got.to_vector<float>(), w = want.to_vector<float>();
      for (std::size_t i = 0; i < g.size(); ++i) {
        if (std::isnan(w[i])) {
          EXPECT_TRUE(std::isnan(g[i])) << op << " " << k.shape.to_string() << " " << i;
        } else if (k.exact) {
          EXPECT_EQ(g[i], w[i]) << op << " " << k.shape.to_string() << " " << i;
        } else {
          EXPECT_NEAR(g[i], w[i], 1e-5 * (1 + std::fabs(w[i]))) << op << " " << k.shape.to_string();
        }
      }
    }
  for (std::int64_t n : {0, 1, 33333, 100000}) {
    auto x = sf::Tensor::from_vector<float>(random_vec(static_cast<std::size_t>(n), 32), {n});
    const float want = run_kernel("L2Loss", "ref", {x}, {}).scalar<float>();
    EXPECT_NEAR(run_kernel("L2Loss", "cpu", {x}, {}).scalar<float>(), want, 1e-6 * (1 + want));
  }
}

// LRN / LRNGrad's "cpu" label (running window sums, rows in parallel) against "ref" (each window
// summed anew in double): every radius up to beyond the depth, betas with and without their
// square-root forms, and a huge value followed by small ones (the running sum recomputes).
TEST(CpuLabelsTest, LrnLabelsMatchTheReference) {
  EXPECT_EQ(sf::kernels::kernel_registry()
                .labels("LRN", sf::devices::DeviceType::kCPU, sf::float32)
                .front(),
            "cpu");
  for (std::int64_t radius : {0, 1, 2, 5, 70})
    for (float beta : {0.75f, 0.5f, 0.6f})
      for (const sf::Shape& shape : {sf::Shape{3, 5, 7, 64}, sf::Shape{1, 1, 2, 3}}) {
        sf::AttrMap a;
        a.set("depth_radius", radius);
        a.set("bias", 1.0f);
        a.set("alpha", 0.7f);
        a.set("beta", beta);
        auto xv = random_vec(static_cast<std::size_t>(shape.num_elements()), 21);
        if (xv.size() > 40) {
          xv[3] = 1e15f;  // then small values in the same row: no cancellation
          xv[10] = -3e14f;
        }
        auto x = sf::Tensor::from_vector<float>(xv, shape);
        auto dy = sf::Tensor::from_vector<float>(
            random_vec(static_cast<std::size_t>(shape.num_elements()), 22), shape);
        const std::string what =
            "radius " + std::to_string(radius) + " beta " + std::to_string(beta);
        auto y = run_kernel("LRN", "ref", {x}, a);
        expect_close(run_kernel("LRN", "cpu", {x}, a), y, "LRN " + what);
        expect_close(run_kernel("LRNGrad", "cpu", {dy, x, y}, a),
                     run_kernel("LRNGrad", "ref", {dy, x, y}, a), "LRNGrad " + what);
      }
}

// LRN's "cpu" label at the edges (a review's cases): a NaN or an infinity spoils only the windows
// holding it, as in the reference; norms whose 1.5th power leaves float's range (beta 0.75) stay
// finite, as TF's exp(-beta log(norm)).
TEST(CpuLabelsTest, LrnLabelEdgesMatchTheReference) {
  auto same = [](const sf::Tensor& got, const sf::Tensor& want, const std::string& what) {
    const auto g = got.to_vector<float>(), w = want.to_vector<float>();
    ASSERT_EQ(g.size(), w.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
      if (std::isnan(w[i]) || std::isinf(w[i])) {
        EXPECT_EQ(std::isnan(g[i]), std::isnan(w[i])) << what << " element " << i;
        if (!std::isnan(w[i])) {
          EXPECT_EQ(g[i], w[i]) << what << " element " << i;
        }
      } else {
        EXPECT_NEAR(g[i], w[i], 1e-5f * std::fabs(w[i]) + 1e-30f) << what << " element " << i;
      }
    }
  };
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    sf::AttrMap a;
    a.set("depth_radius", std::int64_t{4});
    a.set("bias", 1.0f);
    a.set("alpha", 0.001f / 9.0f);
    a.set("beta", 0.75f);
    auto xv = random_vec(128, 41);
    xv[10] = bad;
    auto x = sf::Tensor::from_vector<float>(xv, {1, 1, 2, 64});
    auto dy = sf::Tensor::from_vector<float>(random_vec(128, 42), {1, 1, 2, 64});
    auto y = run_kernel("LRN", "ref", {x}, a);
    same(run_kernel("LRN", "cpu", {x}, a), y, "LRN with " + std::to_string(bad));
    same(run_kernel("LRNGrad", "cpu", {dy, x, y}, a), run_kernel("LRNGrad", "ref", {dy, x, y}, a),
         "LRNGrad with " + std::to_string(bad));
  }
  for (auto [value, bias] : {std::pair{1e14f, 1.0f}, {1e-16f, 0.0f}}) {
    sf::AttrMap a;
    a.set("depth_radius", std::int64_t{2});
    a.set("bias", bias);
    a.set("alpha", 1.0f);
    a.set("beta", 0.75f);
    auto x = sf::Tensor::from_vector<float>(std::vector<float>(8, value), {1, 1, 1, 8});
    auto y = run_kernel("LRN", "ref", {x}, a);
    EXPECT_TRUE(std::isfinite(y.to_vector<float>()[0]));
    same(run_kernel("LRN", "cpu", {x}, a), y, "LRN of " + std::to_string(value));
    auto dy = sf::Tensor::from_vector<float>(std::vector<float>(8, 1.0f), {1, 1, 1, 8});
    same(run_kernel("LRNGrad", "cpu", {dy, x, y}, a), run_kernel("LRNGrad", "ref", {dy, x, y}, a),
         "LRNGrad of " + std::to_string(value));
  }
}

// The optimizer updates' "cpu" label (parallel_for chunks) against "ref" (one loop): in place on
// var and its slots, bit for bit, on a size that spans several chunks and does not divide.
TEST(CpuLabelsTest, ApplyLabelsAgreeBitForBitWithTheReference) {
  const std::int64_t n = 3 * 16384 + 17;
  auto fresh = [&](unsigned seed) {
    return sf::Tensor::from_vector<float>(random_vec(static_cast<std::size_t>(n), seed), {n});
  };
  auto scalar = [](float x) { return sf::Tensor::from_scalar(x); };
  struct Case {
    const char* op;
    int slots;  // inputs updated in place besides var
    std::function<std::vector<sf::Tensor>(const std::vector<sf::Tensor>&)> rest;
    int nonnegative_slot = -1;  // a second moment (Adam's v, RMSProp's ms): made >= 0
  };
  const std::vector<Case> cases = {
      {"ApplyGradientDescent", 0,
       [&](const std::vector<sf::Tensor>&) {
         return std::vector<sf::Tensor>{scalar(0.01f), fresh(9)};
       }},
      {"ApplyMomentum", 1,
       [&](const std::vector<sf::Tensor>&) {
         return std::vector<sf::Tensor>{scalar(0.01f), fresh(9), scalar(0.9f)};
       }},
      {"ApplyAdam", 2,
       [&](const std::vector<sf::Tensor>&) {
         return std::vector<sf::Tensor>{scalar(0.81f),  scalar(0.998f), scalar(1e-3f), scalar(0.9f),
                                        scalar(0.999f), scalar(1e-8f),  fresh(9)};
       },
       1},
      {"ApplyAdagrad", 1,
       [&](const std::vector<sf::Tensor>&) {
         return std::vector<sf::Tensor>{scalar(0.01f), fresh(9)};
       },
       0},
      {"ApplyRMSProp", 2,
       [&](const std::vector<sf::Tensor>&) {
         return std::vector<sf::Tensor>{scalar(0.01f), scalar(0.9f), scalar(0.9f), scalar(1.0f),
                                        fresh(9)};
       },
       0},
      {"ApplyCenteredRMSProp", 3,
       [&](const std::vector<sf::Tensor>&) {
         return std::vector<sf::Tensor>{scalar(0.01f), scalar(0.9f), scalar(0.5f), scalar(1e-3f),
                                        fresh(9)};
       },
       1}};
  for (const auto& cs : cases) {
    for (bool nesterov : {false, true}) {
      if (nesterov && std::string(cs.op) != "ApplyMomentum") continue;
      sf::AttrMap a;
      a.set("use_nesterov", nesterov);
      std::vector<std::vector<float>> results;
      for (const char* label : {"ref", "cpu"}) {
        std::vector<sf::Tensor> inputs{fresh(1)};
        for (int k = 0; k < cs.slots; ++k) {
          auto values = random_vec(static_cast<std::size_t>(n), 2 + static_cast<unsigned>(k));
          if (k == cs.nonnegative_slot)
            for (auto& x : values) x = std::abs(x) + (cs.slots == 3 ? 4.0f : 0.0f);
          inputs.push_back(sf::Tensor::from_vector<float>(values, {n}));
        }
        auto state = inputs;  // the tensors the kernel updates in place
        for (auto& t : cs.rest(inputs)) inputs.push_back(t);
        run_kernel(cs.op, label, inputs, a);
        std::vector<float> all;
        for (const auto& t : state)
          for (float x : t.to_vector<float>()) all.push_back(x);
        results.push_back(all);
      }
      ASSERT_EQ(results[0].size(), results[1].size());
      for (std::size_t i = 0; i < results[0].size(); ++i)
        ASSERT_EQ(std::memcmp(&results[0][i], &results[1][i], sizeof(float)), 0)
            << cs.op << " element " << i << ": " << results[0][i] << " vs " << results[1][i];
      EXPECT_NE(results[0], fresh(1).to_vector<float>()) << cs.op << " did not update var";
    }
  }
}

// apply_adam_ref (vectorized: -fno-math-errno lets its sqrt vectorize) against TF's formula
// written out one element at a time here, bit for bit: vector sqrt, division and the other
// operations round exactly as the scalar ones, and nothing is reassociated or contracted.
TEST(CpuLabelsTest, AdamIsTheScalarFormulaElementByElement) {
  const std::size_t n = 1003;
  auto var = random_vec(n, 21), m = random_vec(n, 22), v = random_vec(n, 23), g = random_vec(n, 24);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = i % 7 == 0 ? 0.0f : std::abs(v[i]) * (i % 3 == 0 ? 1e-6f : 1.0f);
    if (i % 11 == 0) g[i] = 0.0f;
    if (i % 13 == 0) g[i] *= 1e4f;
  }
  const float b1p = 0.729f, b2p = 0.997f, lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  auto want_var = var, want_m = m, want_v = v;
  const float alpha = lr * std::sqrt(1.0f - b2p) / (1.0f - b1p);
  for (std::size_t i = 0; i < n; ++i) {
    want_m[i] = want_m[i] + (g[i] - want_m[i]) * (1.0f - b1);
    want_v[i] = want_v[i] + (g[i] * g[i] - want_v[i]) * (1.0f - b2);
    want_var[i] = want_var[i] - alpha * want_m[i] / (std::sqrt(want_v[i]) + eps);
  }
  k::apply_adam_ref(var.data(), m.data(), v.data(), b1p, b2p, lr, b1, b2, eps, g.data(),
                    static_cast<std::int64_t>(n));
  ASSERT_EQ(std::memcmp(m.data(), want_m.data(), n * sizeof(float)), 0);
  ASSERT_EQ(std::memcmp(v.data(), want_v.data(), n * sizeof(float)), 0);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(std::memcmp(&var[i], &want_var[i], sizeof(float)), 0)
        << "element " << i << ": " << var[i] << " vs " << want_var[i];
}

TEST(CpuLabelsTest, MatMulLabelsMatchTheReference) {
  for (const auto& label : sf::kernels::kernel_registry().labels(
           "MatMul", sf::devices::DeviceType::kCPU, sf::float32)) {
    // M x K x N: tiny, sizes that no blocking divides, an empty sum (K = 0: zeros), a row.
    for (const auto& [m, k, n] : std::vector<std::array<std::int64_t, 3>>{
             {5, 7, 3}, {65, 130, 33}, {4, 0, 6}, {1, 300, 17}}) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        sf::AttrMap a;
        a.set("transpose_a", ta);
        a.set("transpose_b", tb);
        auto x = sf::Tensor::from_vector<float>(random_vec(static_cast<std::size_t>(m * k), 10),
                                                ta ? sf::Shape{k, m} : sf::Shape{m, k});
        auto y = sf::Tensor::from_vector<float>(random_vec(static_cast<std::size_t>(k * n), 11),
                                                tb ? sf::Shape{n, k} : sf::Shape{k, n});
        expect_close(run_kernel("MatMul", label, {x, y}, a), run_kernel("MatMul", "ref", {x, y}, a),
                     sf::str_cat("MatMul/", label, " ", m, "x", k, "x", n, " t", t));
      }
    }
  }
}
