// CPU reference kernels of Cast, Equal/NotEqual/Less/Greater, ArgMax, Softmax/LogSoftmax and
// Exp: hand-computed values, edge values (0, -0, NaN, inf), broadcasting, batch 1, empty
// tensors. Expected values are TF 2.x's (tf.compat.v1, x86 CPU) for the same inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/kernel.h"
#include "kernels/softmax/softmax.h"

namespace sf = scopeflow;
using sf::devices::DeviceType;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs the CPU "ref" kernel of `op`, looked up by `key_dtype` as the session does (the node's
// first output dtype).
sf::Tensor run(const char* op, sf::DType key_dtype, std::vector<sf::Tensor> inputs,
               const sf::AttrMap& attrs = {}) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &attrs;
  c.node_name = op;
  c.inputs = std::move(inputs);
  sf::kernels::kernel_registry().find(op, DeviceType::kCPU, key_dtype, "ref")(c);
  return c.outputs.at(0);
}

sf::Tensor cast(const sf::Tensor& x, sf::DType to, bool truncate = false) {
  sf::AttrMap a;
  a.set("SrcT", x.dtype());
  a.set("DstT", to);
  a.set("Truncate", truncate);
  return run("Cast", to, {x}, a);
}

sf::Tensor argmax(const sf::Tensor& x, std::int32_t axis, sf::DType out = sf::int64) {
  sf::AttrMap a;
  a.set("output_type", out);
  return run("ArgMax", out, {x, sf::Tensor::from_scalar(axis)}, a);
}

std::vector<bool> cmp(const char* op, const sf::Tensor& a, const sf::Tensor& b) {
  return run(op, sf::bool_, {a, b}).to_vector<bool>();
}

std::vector<float> softmax(const char* op, const std::vector<float>& x, const sf::Shape& s) {
  return run(op, sf::float32, {sf::Tensor::from_vector<float>(x, s)}).to_vector<float>();
}
}  // namespace

// ---------------------------------------------------------------- Cast
TEST(CastTest, FloatToIntTruncatesTowardZeroAndNaNIsTheMinimum) {
  auto x = sf::Tensor::from_vector<float>(
      {1.7f, -1.7f, 0.0f, -0.0f, kNaN, kInf, -kInf, 3e9f, -2147483648.0f, 2147483520.0f});
  // tf.cast(x, tf.int32) on an x86 CPU.
  constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
  EXPECT_EQ(cast(x, sf::int32).to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{1, -1, 0, 0, kMin, kMin, kMin, kMin, kMin, 2147483520}));
  constexpr std::int64_t kMin64 = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(cast(x, sf::int64).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, -1, 0, 0, kMin64, kMin64, kMin64, 3000000000LL,
                                       -2147483648LL, 2147483520LL}));
  // int8/uint8 go through int32 and keep the low bits.
  auto small = sf::Tensor::from_vector<float>({300.0f, -1.0f, 127.9f, -128.5f});
  EXPECT_EQ(cast(small, sf::uint8).to_vector<std::uint8_t>(),
            (std::vector<std::uint8_t>{44, 255, 127, 128}));
  EXPECT_EQ(cast(small, sf::int8).to_vector<std::int8_t>(),
            (std::vector<std::int8_t>{44, -1, 127, -128}));
  auto d = sf::Tensor::from_vector<double>({-2.5, 9.99, std::nan("")});
  EXPECT_EQ(cast(d, sf::int32).to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{-2, 9, std::numeric_limits<std::int32_t>::min()}));
}

TEST(CastTest, BoolAndIntegerConversions) {
  auto x = sf::Tensor::from_vector<float>({0.0f, -0.0f, kNaN, 0.5f, -kInf});
  EXPECT_EQ(cast(x, sf::bool_).to_vector<bool>(),
            (std::vector<bool>{false, false, true, true, true}));
  auto b = sf::Tensor::from_vector<bool>({true, false});
  EXPECT_EQ(cast(b, sf::float32).to_vector<float>(), (std::vector<float>{1, 0}));
  EXPECT_EQ(cast(b, sf::int64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(static_cast<float>(cast(b, sf::float16).to_vector<sf::half>()[0]), 1.0f);
  auto i = sf::Tensor::from_vector<std::int32_t>({16777217, -3, 0});
  EXPECT_EQ(cast(i, sf::float32).to_vector<float>(), (std::vector<float>{16777216.0f, -3, 0}));
  EXPECT_EQ(cast(i, sf::bool_).to_vector<bool>(), (std::vector<bool>{true, true, false}));
  auto big = sf::Tensor::from_vector<std::int64_t>({(std::int64_t{1} << 32) + 5, -1});
  EXPECT_EQ(cast(big, sf::int32).to_vector<std::int32_t>(), (std::vector<std::int32_t>{5, -1}));
  EXPECT_EQ(cast(sf::Tensor::from_vector<std::int32_t>({-1}), sf::uint8).scalar<std::uint8_t>(),
            255);
}

TEST(CastTest, HalfAndBfloat16RoundToNearestEvenOrTruncate) {
  // 1 + 0.75 ulp of float16 (ulp 2^-10 at 1) and of bfloat16 (ulp 2^-7).
  const float h = 1.0f + 0.75f * std::ldexp(1.0f, -10);
  const float b = 1.0f + 0.75f * std::ldexp(1.0f, -7);
  auto x = sf::Tensor::from_vector<float>({h, -h, 65520.0f, kNaN, 0.0f});
  auto rn = cast(x, sf::float16).to_vector<sf::half>();
  auto tr = cast(x, sf::float16, true).to_vector<sf::half>();
  EXPECT_EQ(rn[0].bits, 0x3c01);
  EXPECT_EQ(tr[0].bits, 0x3c00);
  EXPECT_EQ(rn[1].bits, 0xbc01);
  EXPECT_EQ(tr[1].bits, 0xbc00);
  EXPECT_EQ(rn[2].bits, 0x7c00) << "65520 rounds to inf";
  EXPECT_EQ(tr[2].bits, 0x7bff) << "truncation keeps the largest finite half, 65504";
  EXPECT_TRUE(std::isnan(static_cast<float>(rn[3])));
  EXPECT_TRUE(std::isnan(static_cast<float>(tr[3])));
  EXPECT_EQ(tr[4].bits, 0x0000);
  auto xb = sf::Tensor::from_vector<float>({b, kNaN});
  EXPECT_EQ(cast(xb, sf::bfloat16).to_vector<sf::bfloat16_t>()[0].bits, 0x3f81);
  EXPECT_EQ(cast(xb, sf::bfloat16, true).to_vector<sf::bfloat16_t>()[0].bits, 0x3f80);
  EXPECT_TRUE(
      std::isnan(static_cast<float>(cast(xb, sf::bfloat16, true).to_vector<sf::bfloat16_t>()[1])));
  // Back to float is exact; to int truncates.
  auto halves = cast(sf::Tensor::from_vector<float>({2.5f, -7.75f}), sf::float16);
  EXPECT_EQ(cast(halves, sf::float32).to_vector<float>(), (std::vector<float>{2.5f, -7.75f}));
  EXPECT_EQ(cast(halves, sf::int32).to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, -7}));
  EXPECT_EQ(cast(cast(halves, sf::bfloat16), sf::float64).to_vector<double>(),
            (std::vector<double>{2.5, -7.75}));
}

TEST(CastTest, SameTypeForwardsEmptyTensorsAndErrors) {
  auto x = sf::Tensor::from_vector<float>({1, 2});
  EXPECT_TRUE(cast(x, sf::float32).shares_buffer_with(x));
  auto empty = sf::Tensor::from_vector<float>({}, {0, 3});
  auto e = cast(empty, sf::int64);
  EXPECT_EQ(e.shape(), sf::Shape({0, 3}));
  EXPECT_EQ(e.dtype(), sf::int64);
  sf::AttrMap bad;
  bad.set("SrcT", sf::int32);
  bad.set("DstT", sf::float64);
  EXPECT_THROW(run("Cast", sf::float64, {x}, bad), sf::InvalidArgumentError);
  EXPECT_THROW(cast(sf::Tensor::from_strings({"a"}, {1}), sf::float32), sf::InvalidArgumentError);
}

// ---------------------------------------------------------------- comparisons
TEST(CompareTest, EdgeValuesBroadcastingAndTypes) {
  auto a = sf::Tensor::from_vector<float>({0.0f, -0.0f, kNaN, kInf, 1.0f, 2.0f});
  auto b = sf::Tensor::from_vector<float>({-0.0f, 0.0f, kNaN, kInf, 2.0f, 1.0f});
  EXPECT_EQ(cmp("Equal", a, b), (std::vector<bool>{true, true, false, true, false, false}));
  EXPECT_EQ(cmp("NotEqual", a, b), (std::vector<bool>{false, false, true, false, true, true}));
  EXPECT_EQ(cmp("Less", a, b), (std::vector<bool>{false, false, false, false, true, false}));
  EXPECT_EQ(cmp("Greater", a, b), (std::vector<bool>{false, false, false, false, false, true}));
  // [2, 3] against [3] and a [2, 1] column.
  auto m = sf::Tensor::from_vector<std::int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto row = sf::Tensor::from_vector<std::int64_t>({1, 5, 3});
  auto col = sf::Tensor::from_vector<std::int64_t>({2, 5}, {2, 1});
  auto eq = run("Equal", sf::bool_, {m, row});
  EXPECT_EQ(eq.shape(), sf::Shape({2, 3}));
  EXPECT_EQ(eq.to_vector<bool>(), (std::vector<bool>{true, false, true, false, true, false}));
  EXPECT_EQ(cmp("Less", col, m), (std::vector<bool>{false, false, true, false, false, true}));
  EXPECT_EQ(
      cmp("Equal", sf::Tensor::from_vector<bool>({true, false}), sf::Tensor::from_scalar(true)),
      (std::vector<bool>{true, false}));
  EXPECT_EQ(cmp("Greater", sf::Tensor::from_vector<std::int32_t>({3}),
                sf::Tensor::from_scalar(std::int32_t{2})),
            (std::vector<bool>{true}));
  auto empty = run("Equal", sf::bool_,
                   {sf::Tensor::from_vector<float>({}, {0}), sf::Tensor::from_vector<float>({1})});
  EXPECT_EQ(empty.shape(), sf::Shape({0}));
  EXPECT_THROW(run("Equal", sf::bool_, {a, sf::Tensor::from_vector<float>({1, 2})}),
               sf::InvalidArgumentError);
  EXPECT_THROW(run("Equal", sf::bool_, {m, sf::Tensor::from_vector<std::int32_t>({1})}),
               sf::InvalidArgumentError);
  EXPECT_THROW(cmp("Less", sf::Tensor::from_vector<bool>({true}), sf::Tensor::from_scalar(true)),
               sf::InvalidArgumentError);
}

// ---------------------------------------------------------------- ArgMax
TEST(ArgMaxTest, TiesNaNAndInfinities) {
  auto x = sf::Tensor::from_vector<float>(
      {1, 3, 3, kNaN, 2, 1, kNaN, kNaN, kNaN, -kInf, -kInf, -kInf, -0.0f, 0.0f, -1, 1, kInf, kNaN},
      {6, 3});
  // Ties: the first index. NaN skipped (TF's CPU kernel); all-NaN and all -inf rows give 0.
  EXPECT_EQ(argmax(x, 1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1, 0, 0, 0, 1}));
  auto i32 = argmax(x, -1, sf::int32);
  EXPECT_EQ(i32.dtype(), sf::int32);
  EXPECT_EQ(i32.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 1, 0, 0, 0, 1}));
}

TEST(ArgMaxTest, AxesShapesAndErrors) {
  auto x = sf::Tensor::from_vector<std::int32_t>({5, 1, 7, 2, 9, 0}, {2, 3});
  auto a0 = argmax(x, 0);
  EXPECT_EQ(a0.shape(), sf::Shape({3}));
  EXPECT_EQ(a0.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 0}));
  // [2, 3, 2]: the middle axis.
  auto y = sf::Tensor::from_vector<double>({1, 6, 3, 5, 2, 4, 0, 0, 9, -1, 9, 8}, {2, 3, 2});
  auto a1 = argmax(y, 1);
  EXPECT_EQ(a1.shape(), sf::Shape({2, 2}));
  EXPECT_EQ(a1.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0, 1, 2}));
  // Batch 1, a 1-D input (scalar output), an empty outer dimension.
  EXPECT_EQ(argmax(sf::Tensor::from_vector<float>({0.1f, 0.7f, 0.2f}, {1, 3}), 1)
                .to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1}));
  auto s = argmax(sf::Tensor::from_vector<std::int64_t>({4, 8, 8}), 0);
  EXPECT_EQ(s.shape(), sf::Shape{});
  EXPECT_EQ(s.scalar<std::int64_t>(), 1);
  EXPECT_EQ(argmax(sf::Tensor::from_vector<float>({}, {0, 4}), 1).shape(), sf::Shape({0}));
  // TF: "Reduction axis 1 is empty in shape [4,0]"; axis out of range.
  EXPECT_THROW(argmax(sf::Tensor::from_vector<float>({}, {4, 0}), 1), sf::InvalidArgumentError);
  EXPECT_THROW(argmax(x, 2), sf::InvalidArgumentError);
  EXPECT_THROW(argmax(x, -3), sf::InvalidArgumentError);
}

// ---------------------------------------------------------------- Softmax / LogSoftmax
TEST(SoftmaxTest, HandComputedAndStable) {
  // tf.nn.softmax([[1., 2., 3.]]) = [[0.09003057, 0.24472848, 0.66524094]]
  auto y = softmax("Softmax", {1, 2, 3, 1000, 1000, -1000}, {2, 3});
  EXPECT_NEAR(y[0], 0.09003057f, 1e-7);
  EXPECT_NEAR(y[1], 0.24472848f, 1e-7);
  EXPECT_NEAR(y[2], 0.66524094f, 1e-7);
  EXPECT_EQ(y[3], 0.5f) << "large logits: no overflow";
  EXPECT_EQ(y[4], 0.5f);
  EXPECT_EQ(y[5], 0.0f);
  // tf.nn.log_softmax([[1., 2., 3.]]) = [[-2.4076061, -1.4076061, -0.40760598]]
  auto l = softmax("LogSoftmax", {1, 2, 3, 0, -1000, -1000}, {2, 3});
  EXPECT_NEAR(l[0], -2.4076061f, 1e-6);
  EXPECT_NEAR(l[1], -1.4076061f, 1e-6);
  EXPECT_NEAR(l[2], -0.40760598f, 1e-6);
  EXPECT_NEAR(l[3], -std::log1p(2 * std::exp(-1000.0)), 1e-7);
  EXPECT_EQ(l[4], -1000.0f) << "no log(0) for tiny probabilities";
}

TEST(SoftmaxTest, EdgeValuesAndShapes) {
  // -inf gets probability 0; a NaN or +inf poisons its row (NaN), as in TF; other rows are fine.
  auto y = softmax("Softmax", {-kInf, 0, 0, 1, kNaN, 0, kInf, 1, -0.0f, 0.0f}, {5, 2});
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_NEAR(y[2], 0.26894142f, 1e-7);  // tf.nn.softmax([0., 1.])
  EXPECT_NEAR(y[3], 0.73105858f, 1e-7);
  EXPECT_TRUE(std::isnan(y[4]) && std::isnan(y[5]));
  EXPECT_TRUE(std::isnan(y[6]) && std::isnan(y[7]));
  EXPECT_EQ(y[8], 0.5f);
  EXPECT_EQ(y[9], 0.5f);
  auto l = softmax("LogSoftmax", {-kInf, 0}, {1, 2});
  EXPECT_EQ(l[0], -kInf);
  EXPECT_EQ(l[1], 0.0f);
  // 1-D input, batch 1, 3-D input (last axis), empty tensors.
  EXPECT_EQ(softmax("Softmax", {5}, {1}), (std::vector<float>{1.0f}));
  auto three = softmax("Softmax", {0, 0, 0, 0, 1, 1, 1, 1}, {2, 2, 2});
  for (float v : three) EXPECT_EQ(v, 0.5f);
  EXPECT_EQ(run("Softmax", sf::float32, {sf::Tensor::from_vector<float>({}, {0, 5})}).shape(),
            sf::Shape({0, 5}));
  EXPECT_EQ(run("LogSoftmax", sf::float32, {sf::Tensor::from_vector<float>({}, {3, 0})}).shape(),
            sf::Shape({3, 0}));
  EXPECT_THROW(run("Softmax", sf::float32, {sf::Tensor::from_scalar(1.0f)}),
               sf::InvalidArgumentError);
}

TEST(ExpTest, Values) {
  auto y = run("Exp", sf::float32, {sf::Tensor::from_vector<float>({0, 1, -kInf, kNaN})})
               .to_vector<float>();
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_FLOAT_EQ(y[1], 2.7182817f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_TRUE(std::isnan(y[3]));
}
