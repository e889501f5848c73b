// tf.tensordot and what it is built from: reduce_prod on integers (op Prod), invert_permutation,
// transpose by a computed perm (its gradient through InvertPermutation), Reshape's gradient with
// one unknown dimension (TF's -1 Const), and tf.layers.dense on inputs of rank > 2. Values
// against a direct sum, static and run-time shape paths against each other, gradients by finite
// differences, TF's op names, and errors.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/gradient_check.h"

namespace {

class TensordotTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

using scopeflow::testing::check_gradient;
using scopeflow::testing::random_floats;

std::vector<std::string> op_names() {
  std::vector<std::string> out;
  for (const auto& o : sf::get_default_graph().operations())
    out.push_back(o.name() + " " + o.type());
  return out;
}

bool has_op(const std::string& line) {
  const auto names = op_names();
  return std::find(names.begin(), names.end(), line) != names.end();
}

// out = sum over the paired axes of a * b, by visiting every index of a and b (row-major).
std::vector<float> direct_tensordot(const std::vector<float>& a,
                                    const std::vector<std::int64_t>& ad,
                                    const std::vector<float>& b,
                                    const std::vector<std::int64_t>& bd,
                                    const std::vector<std::int64_t>& aa,
                                    const std::vector<std::int64_t>& ba) {
  auto strides = [](const std::vector<std::int64_t>& d) {
    std::vector<std::int64_t> s(d.size(), 1);
    for (std::size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * d[i];
    return s;
  };
  std::vector<std::int64_t> af, bf;  // free axes
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(ad.size()); ++i)
    if (std::find(aa.begin(), aa.end(), i) == aa.end()) af.push_back(i);
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(bd.size()); ++i)
    if (std::find(ba.begin(), ba.end(), i) == ba.end()) bf.push_back(i);
  std::vector<std::int64_t> od, cd;
  for (auto i : af) od.push_back(ad[static_cast<std::size_t>(i)]);
  for (auto i : bf) od.push_back(bd[static_cast<std::size_t>(i)]);
  for (auto i : aa) cd.push_back(ad[static_cast<std::size_t>(i)]);
  std::int64_t on = 1, cn = 1;
  for (auto d : od) on *= d;
  for (auto d : cd) cn *= d;
  const auto as = strides(ad), bs = strides(bd), os = strides(od), cs = strides(cd);
  std::vector<float> out(static_cast<std::size_t>(on), 0.0f);
  for (std::int64_t o = 0; o < on; ++o) {
    double acc = 0.0;
    for (std::int64_t k = 0; k < cn; ++k) {
      std::int64_t ai = 0, bi = 0;
      for (std::size_t j = 0; j < af.size(); ++j)
        ai += (o / os[j] % od[j]) * as[static_cast<std::size_t>(af[j])];
      for (std::size_t j = 0; j < bf.size(); ++j)
        bi += (o / os[af.size() + j] % od[af.size() + j]) * bs[static_cast<std::size_t>(bf[j])];
      for (std::size_t j = 0; j < aa.size(); ++j) {
        const std::int64_t c = k / cs[j] % cd[j];
        ai += c * as[static_cast<std::size_t>(aa[j])];
        bi += c * bs[static_cast<std::size_t>(ba[j])];
      }
      acc += double(a[static_cast<std::size_t>(ai)]) * b[static_cast<std::size_t>(bi)];
    }
    out[static_cast<std::size_t>(o)] = static_cast<float>(acc);
  }
  return out;
}

struct Case {
  std::vector<std::int64_t> ad, bd, aa, ba;
};

TEST_F(TensordotTest, ValuesMatchADirectSumOnBothShapePaths) {
  const std::vector<Case> cases = {
      {{2, 3, 4}, {4, 3, 5}, {1, 2}, {1, 0}},   // TF's docs: permuted pairs
      {{2, 3, 4}, {4, 5}, {2}, {0}},            // dense's case
      {{2, 3}, {4, 5}, {}, {}},                 // axes 0: the outer product
      {{3, 4}, {4, 3}, {0, 1}, {1, 0}},         // a full contraction: a scalar
      {{2, 3, 4}, {3, 2}, {1, 0}, {0, 1}},      // contracting a's leading axes (a transposed)
      {{5, 2, 3}, {2, 6, 3}, {-1, 1}, {2, 0}},  // negative axes
  };
  unsigned seed = 1;
  for (const auto& c : cases) {
    sf::reset_default_graph();
    std::int64_t an = 1, bn = 1;
    for (auto d : c.ad) an *= d;
    for (auto d : c.bd) bn *= d;
    const auto av = random_floats(static_cast<std::size_t>(an), seed++);
    const auto bv = random_floats(static_cast<std::size_t>(bn), seed++);
    auto a = sf::placeholder(sf::float32, sf::Shape(c.ad), "a");
    auto b = sf::placeholder(sf::float32, sf::Shape(c.bd), "b");
    // Every dimension unknown: the run-time path for both sides.
    auto au = sf::placeholder(sf::float32, sf::Shape(std::vector<std::int64_t>(c.ad.size(), -1)));
    auto bu = sf::placeholder(sf::float32, sf::Shape(std::vector<std::int64_t>(c.bd.size(), -1)));
    auto t = sf::tensordot(a, b, c.aa, c.ba);
    auto tu = sf::tensordot(au, bu, c.aa, c.ba);
    std::vector<std::int64_t> aa, ba;
    for (auto x : c.aa) aa.push_back(x < 0 ? x + static_cast<std::int64_t>(c.ad.size()) : x);
    for (auto x : c.ba) ba.push_back(x < 0 ? x + static_cast<std::int64_t>(c.bd.size()) : x);
    const auto want = direct_tensordot(av, c.ad, bv, c.bd, aa, ba);
    sf::Session s;
    auto at = sf::Tensor::from_vector<float>(av, sf::Shape(c.ad));
    auto bt = sf::Tensor::from_vector<float>(bv, sf::Shape(c.bd));
    auto r = s.run({t, tu}, {{a, at}, {b, bt}, {au, at}, {bu, bt}});
    EXPECT_EQ(r[0].shape(), r[1].shape());
    EXPECT_EQ(r[0].shape(), t.shape()) << "static shape of the fully defined path";
    ASSERT_EQ(r[0].num_elements(), static_cast<std::int64_t>(want.size()));
    const auto got = r[0].to_vector<float>(), gotu = r[1].to_vector<float>();
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::abs(want[i]))) << i;
      EXPECT_EQ(got[i], gotu[i]) << "the two paths run the same MatMul";
    }
  }
}

TEST_F(TensordotTest, IntegerAxesAndTfNames) {
  auto a = sf::placeholder(sf::float32, {2, 3, 4}, "a");
  auto b = sf::placeholder(sf::float32, {3, 4, 5}, "b");
  auto t = sf::tensordot(a, b, 2);  // a's last two against b's first two
  EXPECT_EQ(t.shape(), sf::Shape({2, 5}));
  EXPECT_EQ(t.op().name(), "Tensordot/MatMul");  // TF returns the MatMul when it has the shape
  auto outer = sf::tensordot(a, b, 0);
  EXPECT_EQ(outer.shape(), sf::Shape({2, 3, 4, 3, 4, 5}));
  EXPECT_EQ(outer.op().name(), "Tensordot_1");
  EXPECT_TRUE(has_op("Tensordot_1/shape Const"));
  // TF's tensordot on [None, 5, 3] x [3, 4]: the run-time shape arithmetic, op for op.
  auto x = sf::placeholder(sf::float32, {-1, 5, 3}, "x");
  auto w = sf::placeholder(sf::float32, {3, 4}, "w");
  auto y = sf::tensordot(x, w, {2}, {0}, "td");
  EXPECT_EQ(y.op().name(), "td");
  EXPECT_EQ(y.op().type(), "Reshape");
  EXPECT_EQ(y.shape(), sf::Shape({-1, 5, 4}));
  for (const char* line :
       {"td/axes Const", "td/free Const", "td/Shape Shape", "td/GatherV2 GatherV2",
        "td/GatherV2_1 GatherV2", "td/Const Const", "td/Prod Prod", "td/Const_1 Const",
        "td/Prod_1 Prod", "td/concat ConcatV2", "td/stack Pack", "td/transpose Transpose",
        "td/Reshape Reshape", "td/MatMul MatMul", "td/Const_2 Const", "td/concat_1 ConcatV2"})
    EXPECT_TRUE(has_op(line)) << line;
  // The transpose's perm is a ConcatV2 of Consts: its static shape is known, as TF's.
  EXPECT_EQ(sf::get_default_graph().find_operation("td/transpose")->output(0).shape(),
            sf::Shape({-1, 5, 3}));
  EXPECT_EQ(sf::get_default_graph().find_operation("td/MatMul")->output(0).shape(),
            sf::Shape({-1, 4}));
  std::vector<float> xv = random_floats(2 * 5 * 3, 7), wv = random_floats(12, 8);
  sf::Session s;
  auto r = s.run(y, {{x, sf::Tensor::from_vector<float>(xv, {2, 5, 3})},
                     {w, sf::Tensor::from_vector<float>(wv, {3, 4})}});
  EXPECT_EQ(r.shape(), sf::Shape({2, 5, 4}));
  const auto want = direct_tensordot(xv, {2, 5, 3}, wv, {3, 4}, {2}, {0});
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(r.to_vector<float>()[i], want[i], 1e-5f);
}

TEST_F(TensordotTest, GradientsOnBothPaths) {
  auto w = sf::constant(random_floats(3 * 4 * 2, 3), {3, 4, 2});
  // x [2, 3, 4] against w [3, 4, 2] over x's axes (1, 2), w's (0, 1); and a transposed pairing.
  check_gradient(
      {2, 3, 4},
      [&](sf::Output x) {
        return sf::tensordot(x, w, {1, 2}, {0, 1});
      },
      11);
  check_gradient(
      {4, 3, 2},
      [&](sf::Output x) {
        return sf::tensordot(x, w, {1, 0}, {0, 1});
      },
      12);
  // The run-time path: x of unknown batch. Its transpose has a computed perm, whose gradient
  // is TF's InvertPermutation; the reshape back to x's [?, 3, 4] takes TF's -1 Const.
  sf::reset_default_graph();
  auto x = sf::placeholder(sf::float32, {-1, 3, 4}, "x");
  auto w2 = sf::constant(random_floats(4 * 5, 4), {4, 5});
  auto y = sf::tensordot(x, w2, 1);
  auto loss = sf::reduce_sum(y * y);
  auto g = sf::gradients(loss, {x})[0];
  EXPECT_TRUE(has_op("gradients/Tensordot/transpose_grad/InvertPermutation InvertPermutation"));
  EXPECT_TRUE(has_op("gradients/Tensordot/transpose_grad/transpose Transpose"));
  EXPECT_TRUE(has_op("gradients/Tensordot/Reshape_grad/Reshape/shape Const"));
  EXPECT_FALSE(has_op("gradients/Tensordot/Reshape_grad/Shape Shape"));
  EXPECT_EQ(g.shape(), sf::Shape({-1, 3, 4}));
  // TF's in_grad.set_shape(t_in.get_shape()): w2's gradient comes out of a MatMul of the
  // [?, ?] matrix, yet has w2's static shape.
  auto gw = sf::gradients(loss, {w2})[0];
  EXPECT_EQ(gw.shape(), sf::Shape({4, 5}));
  // Against the same model on the static path.
  auto xs = sf::placeholder(sf::float32, {2, 3, 4}, "xs");
  auto ys = sf::tensordot(xs, w2, 1);
  auto gs = sf::gradients(sf::reduce_sum(ys * ys), {xs})[0];
  const auto xv = sf::Tensor::from_vector<float>(random_floats(24, 5), {2, 3, 4});
  sf::Session s;
  auto r = s.run({g, gs}, {{x, xv}, {xs, xv}});
  EXPECT_EQ(r[0].shape(), sf::Shape({2, 3, 4}));
  EXPECT_EQ(r[0].to_vector<float>(), r[1].to_vector<float>());
}

TEST_F(TensordotTest, Errors) {
  auto a = sf::placeholder(sf::float32, {2, 3, 4}, "a");
  auto b = sf::placeholder(sf::float32, {4, 3}, "b");
  auto unknown = sf::placeholder(sf::float32, sf::Shape::unknown(), "u");
  auto expect_value_error = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; wanted " << needle;
    } catch (const sf::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_value_error(
      [&] {
        (void)sf::tensordot(a, b, {1, 2}, {1});
      },
      "Different number of contraction axes `a` and `b`, 2 != 1.");
  expect_value_error([&] { (void)sf::tensordot(a, b, {3}, {0}); }, "out of range");
  expect_value_error([&] { (void)sf::tensordot(a, b, {1, -2}, {1, 0}); }, "named twice");
  // Paired dimensions must agree: 3 x 4 against 4 x 3 has equal products but is not a
  // contraction (TF's reshape would silently multiply the wrong elements).
  expect_value_error([&] { (void)sf::tensordot(a, b, {1, 2}, {0, 1}); }, "differ: 3 != 4");
  expect_value_error([&] { (void)sf::tensordot(a, b, -1); }, "`axes` must be at least 0");
  expect_value_error([&] { (void)sf::tensordot(a, b, 4); }, "must not be larger");
  expect_value_error([&] { (void)sf::tensordot(unknown, b, {0}, {0}); }, "needs a known rank");
  // Prod is integer shape arithmetic here.
  expect_value_error([&] { (void)sf::reduce_prod(a); }, "int32 or int64");
  // A contraction whose dimensions differ only at run time: MatMul's error, not a wrong value.
  auto p = sf::placeholder(sf::float32, {-1, -1}, "p");
  auto q = sf::placeholder(sf::float32, {-1, -1}, "q");
  auto t = sf::tensordot(p, q, 1);
  sf::Session s;
  EXPECT_THROW(s.run(t, {{p, sf::Tensor::from_vector<float>(std::vector<float>(6), {2, 3})},
                         {q, sf::Tensor::from_vector<float>(std::vector<float>(8), {4, 2})}}),
               sf::InvalidArgumentError);
}

TEST_F(TensordotTest, ReduceProdAndInvertPermutation) {
  auto x = sf::constant(std::vector<std::int32_t>{2, 3, 4, 5, 6, 7}, {2, 3});
  auto all = sf::reduce_prod(x);
  auto rows = sf::reduce_prod(x, {1});
  auto cols = sf::reduce_prod(x, {0}, true);
  EXPECT_EQ(all.op().name(), "Prod");
  EXPECT_EQ(all.dtype(), sf::int32);
  EXPECT_EQ(cols.shape(), sf::Shape({1, 3}));
  auto big = sf::constant(std::vector<std::int32_t>{65536, 65536, 3}, {3});
  auto wrapped = sf::reduce_prod(big);  // 2^32 * 3 wraps to 0, as TF's int32 multiply
  auto i64 =
      sf::reduce_prod(sf::constant(sf::Tensor::from_vector<std::int64_t>({65536, 65536, -3}, {3})));
  auto perm = sf::constant(std::vector<std::int32_t>{2, 0, 3, 1}, {4});
  auto inv = sf::invert_permutation(perm);
  auto bad = sf::placeholder(sf::int32, {-1}, "bad");
  auto inv_bad = sf::invert_permutation(bad);
  sf::Session s;
  auto r = s.run({all, rows, cols, wrapped, i64, inv});
  EXPECT_EQ(r[0].scalar<std::int32_t>(), 5040);
  EXPECT_EQ(r[1].to_vector<std::int32_t>(), (std::vector<std::int32_t>{24, 210}));
  EXPECT_EQ(r[2].to_vector<std::int32_t>(), (std::vector<std::int32_t>{10, 18, 28}));
  EXPECT_EQ(r[3].scalar<std::int32_t>(), 0);
  EXPECT_EQ(r[4].scalar<std::int64_t>(), -3LL * 65536 * 65536);
  EXPECT_EQ(r[5].to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 3, 0, 2}));
  EXPECT_THROW(s.run(inv_bad, {{bad, sf::Tensor::from_vector<std::int32_t>({0, 2}, {2})}}),
               sf::InvalidArgumentError);
  EXPECT_THROW(s.run(inv_bad, {{bad, sf::Tensor::from_vector<std::int32_t>({1, 1}, {2})}}),
               sf::InvalidArgumentError);
  EXPECT_THROW(sf::invert_permutation(sf::constant(std::vector<float>{0, 1}, {2})), sf::ValueError);
  // Transpose by a computed perm: values, and the gradient through InvertPermutation.
  sf::reset_default_graph();
  auto v = sf::placeholder(sf::float32, {2, 3, 4}, "v");
  auto pt = sf::concat({sf::constant(std::vector<std::int32_t>{2}, {1}),
                        sf::constant(std::vector<std::int32_t>{0, 1}, {2})},
                       0);
  auto tv = sf::transpose(v, pt);
  EXPECT_EQ(tv.shape(), sf::Shape({4, 2, 3}));  // the perm's value is known to the graph
  auto tc = sf::transpose(v, {2, 0, 1});
  auto gv =
      sf::gradients(sf::reduce_sum(tv * sf::constant(random_floats(24, 9), {4, 2, 3})), {v})[0];
  auto gc =
      sf::gradients(sf::reduce_sum(tc * sf::constant(random_floats(24, 9), {4, 2, 3})), {v})[0];
  sf::Session s2;
  const auto vv = sf::Tensor::from_vector<float>(random_floats(24, 10), {2, 3, 4});
  auto r2 = s2.run({tv, tc, gv, gc}, {{v, vv}});
  EXPECT_EQ(r2[0].to_vector<float>(), r2[1].to_vector<float>());
  EXPECT_EQ(r2[2].to_vector<float>(), r2[3].to_vector<float>());
  EXPECT_THROW(sf::transpose(v, sf::constant(std::vector<float>{0, 1, 2}, {3})), sf::ValueError);
}

TEST_F(TensordotTest, ReshapeGradientTakesTfsWildcard) {
  // TF's _ReshapeGrad: one unknown dimension and no zero -> a Const with -1; more unknowns, or
  // a 0, -> the run-time Shape op.
  auto one = sf::placeholder(sf::float32, {-1, 4}, "one");
  auto two = sf::placeholder(sf::float32, {-1, -1}, "two");
  auto zero = sf::placeholder(sf::float32, {-1, 0, 3}, "zero");
  auto r0 = sf::reshape(one, std::vector<std::int64_t>{-1});
  auto r1 = sf::reshape(two, std::vector<std::int64_t>{-1});
  auto r2 = sf::reshape(zero, std::vector<std::int64_t>{-1});
  auto g = sf::gradients({sf::reduce_sum(r0 * 2.0f), sf::reduce_sum(r1), sf::reduce_sum(r2)},
                         {one, two, zero});
  EXPECT_TRUE(has_op("gradients/Reshape_grad/Reshape/shape Const"));
  EXPECT_TRUE(has_op("gradients/Reshape_1_grad/Shape Shape"));
  EXPECT_TRUE(has_op("gradients/Reshape_2_grad/Shape Shape"));
  EXPECT_EQ(g[0].shape(), sf::Shape({-1, 4}));
  sf::Session s;
  auto r = s.run({g[0], g[1], g[2]},
                 {{one, sf::Tensor::from_vector<float>(std::vector<float>(12, 1), {3, 4})},
                  {two, sf::Tensor::from_vector<float>(std::vector<float>(6, 1), {2, 3})},
                  {zero, sf::Tensor::from_vector<float>({}, {5, 0, 3})}});
  EXPECT_EQ(r[0].shape(), sf::Shape({3, 4}));
  EXPECT_EQ(r[0].to_vector<float>(), std::vector<float>(12, 2.0f));
  EXPECT_EQ(r[1].shape(), sf::Shape({2, 3}));
  EXPECT_EQ(r[2].shape(), sf::Shape({5, 0, 3}));
}

TEST_F(TensordotTest, DenseOnSequencesSharesOneKernelAndTrains) {
  // tf.layers.dense on [batch, time, features]: one kernel for every step, the leading
  // dimensions kept (unknown batch too), equal to the per-step matrix product.
  auto x = sf::placeholder(sf::float32, {-1, 5, 3}, "x");
  auto y = sf::layers::dense(
      x, 4, {.activation = [](const sf::Output& v) { return sf::nn::relu(v); }, .name = "proj"});
  EXPECT_EQ(y.shape(), sf::Shape({-1, 5, 4}));
  EXPECT_TRUE(has_op("proj/Tensordot Reshape"));
  EXPECT_TRUE(has_op("proj/BiasAdd BiasAdd"));
  auto x2 = sf::placeholder(sf::float32, {2, 5, 3}, "x2");
  auto y2 = sf::layers::dense(x2, 4, {.name = "proj", .reuse = true});
  EXPECT_EQ(y2.shape(), sf::Shape({2, 5, 4}));
  EXPECT_EQ(sf::global_variables().size(), 2u);  // proj/kernel, proj/bias, shared
  auto flat = sf::reshape(x2, std::vector<std::int64_t>{10, 3});
  auto per_step = sf::reshape(sf::nn::bias_add(sf::matmul(flat, sf::global_variables()[0].value()),
                                               sf::global_variables()[1].value()),
                              std::vector<std::int64_t>{2, 5, 4});
  // Units 0 (TF 2.21 builds it); rank 1, an unknown last dimension and units < 0 are refused.
  auto none = sf::layers::dense(x2, 0, {.name = "none"});
  EXPECT_EQ(none.shape(), sf::Shape({2, 5, 0}));
  EXPECT_THROW(sf::layers::dense(sf::placeholder(sf::float32, {3}), 2), sf::ValueError);
  EXPECT_THROW(sf::layers::dense(sf::placeholder(sf::float32, {3, -1}), 2), sf::ValueError);
  EXPECT_THROW(sf::layers::dense(sf::placeholder(sf::float32, sf::Shape::unknown()), 2),
               sf::ValueError);
  EXPECT_THROW(sf::layers::dense(x2, -1), sf::ValueError);

  // Train: fit y = x . w_true per step with the projection (no activation), unknown batch.
  auto target = sf::placeholder(sf::float32, {-1, 5, 2}, "target");
  auto fit = sf::layers::dense(x, 2, {.name = "fit"});
  auto loss = sf::reduce_mean(sf::square(fit - target));
  auto train = sf::train::GradientDescentOptimizer(0.1f).minimize(loss);
  const auto xv = random_floats(4 * 5 * 3, 21, 1.0f);
  const std::vector<float> w_true{0.5f, -1.0f, 2.0f, 0.25f, -0.5f, 1.5f};
  std::vector<float> tv(4 * 5 * 2, 0.0f);
  for (int r = 0; r < 20; ++r)
    for (int u = 0; u < 2; ++u)
      for (int k = 0; k < 3; ++k)
        tv[static_cast<std::size_t>(r * 2 + u)] +=
            xv[static_cast<std::size_t>(r * 3 + k)] * w_true[static_cast<std::size_t>(k * 2 + u)];
  sf::Session s;
  s.run({}, {sf::global_variables_initializer()});
  const sf::FeedDict feed{{x, sf::Tensor::from_vector<float>(xv, {4, 5, 3})},
                          {target, sf::Tensor::from_vector<float>(tv, {4, 5, 2})}};
  const float first = s.run(loss, feed).scalar<float>();
  for (int step = 0; step < 300; ++step) s.run({}, {train}, feed);
  EXPECT_LT(s.run(loss, feed).scalar<float>(), first * 1e-3f);
  auto xv2 = sf::Tensor::from_vector<float>(random_floats(30, 22), {2, 5, 3});
  auto r = s.run({y2, per_step, none}, {{x2, xv2}});
  EXPECT_EQ(r[0].to_vector<float>(), r[1].to_vector<float>());
  EXPECT_EQ(r[2].shape(), sf::Shape({2, 5, 0}));
}

TEST_F(TensordotTest, GpuDenseOnSequencesMatchesTheCpu) {
  // A dense projection of [None, 5, 3] (the run-time path: Shape, GatherV2, Prod, ConcatV2,
  // Pack, a transpose by a computed perm, InvertPermutation in its gradient) trained by
  // momentum on GPU:0, CUDA graphs off and on, against the CPU.
  auto train = [](const char* device, bool graphs) {
    sf::Graph g;
    auto as = g.as_default();
    sf::device d(device);
    sf::set_random_seed(5);
    auto x = sf::placeholder(sf::float32, {-1, 5, 3}, "x");
    auto target = sf::placeholder(sf::float32, {-1, 5, 2}, "target");
    auto h = sf::layers::dense(x, 4, {.activation = [](const sf::Output& v) {
                                        return sf::tanh(v);
                                      }});
    auto y = sf::tensordot(h, sf::get_variable("w", {4, 2}), 1);
    auto loss = sf::reduce_mean(sf::square(y - target));
    auto step = sf::train::MomentumOptimizer(0.1, 0.9).minimize(loss);
    sf::Session s({.allow_soft_placement = false, .use_cuda_graphs = graphs}, g);
    s.run(sf::global_variables_initializer());
    const sf::FeedDict feed{
        {x, sf::Tensor::from_vector<float>(random_floats(60, 31, 1.0f), {4, 5, 3})},
        {target, sf::Tensor::from_vector<float>(random_floats(40, 32, 1.0f), {4, 5, 2})}};
    for (int i = 0; i < 5; ++i) s.run(step, feed);
    std::vector<float> out;
    for (const auto& v : sf::global_variables())
      for (float f : s.run(v.value()).to_vector<float>()) out.push_back(f);
    out.push_back(s.run(loss, feed).scalar<float>());
    return out;
  };
  const auto cpu = train("/device:CPU:0", false);
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable (the CPU run passed): "
                 << sf::devices::gpu_inventory().unavailable_reason;
  for (bool graphs : {false, true}) {
    SCOPED_TRACE(graphs ? "CUDA graphs" : "no CUDA graphs");
    const auto gpu = train("/device:GPU:0", graphs);
    ASSERT_EQ(gpu.size(), cpu.size());
    for (std::size_t i = 0; i < cpu.size(); ++i)
      EXPECT_NEAR(gpu[i], cpu[i], 1e-4f * (1.0f + std::abs(cpu[i]))) << i;
  }
}

}  // namespace
