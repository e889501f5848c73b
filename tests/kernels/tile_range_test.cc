// CPU reference kernels of Tile, Range, DynamicStitch, FloorMod / FloorDiv, ZerosLike and
// OnesLike: hand-computed values (TF 2.21's for the same inputs), edge values (integer
// extremes, empty results, rank 0) and TF's errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "kernels/kernel.h"

namespace sf = scopeflow;
using sf::Shape;
using sf::Tensor;
using sf::devices::DeviceType;

namespace {

Tensor run(const char* op, sf::DType key_dtype, std::vector<Tensor> inputs,
           const sf::AttrMap& attrs = {}) {
  sf::kernels::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &attrs;
  c.node_name = op;
  c.inputs = std::move(inputs);
  sf::kernels::kernel_registry().find(op, DeviceType::kCPU, key_dtype, "ref")(c);
  return c.outputs.at(0);
}

template <class T>
Tensor vec(std::vector<T> v, Shape s = Shape::unknown()) {
  if (!s.has_rank()) s = Shape{static_cast<std::int64_t>(v.size())};
  return Tensor::from_vector<T>(v, s);
}

// The InvalidArgumentError's message of `f`, or "no error".
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const sf::InvalidArgumentError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TileTest, ValuesShapesAndDtypes) {
  const Tensor x = vec<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = run("Tile", sf::float32, {x, vec<std::int32_t>({2, 2})});
  EXPECT_EQ(t.shape(), (Shape{4, 6}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6,
                                                      1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}));
  // int64 multiples, a 1 and a 0.
  t = run("Tile", sf::float32, {x, vec<std::int64_t>({1, 0})});
  EXPECT_EQ(t.shape(), (Shape{2, 0}));
  // Rank 0: an empty multiples vector copies the scalar.
  t = run("Tile", sf::int64, {Tensor::from_scalar(std::int64_t{7}), vec<std::int32_t>({})});
  EXPECT_EQ(t.shape(), Shape{});
  EXPECT_EQ(t.to_vector<std::int64_t>(), std::vector<std::int64_t>{7});
  // The inner dimension tiled, rank 3, strings.
  t = run("Tile", sf::int32,
          {vec<std::int32_t>({1, 2, 3, 4}, {2, 1, 2}), vec<std::int32_t>({1, 2, 2})});
  EXPECT_EQ(t.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(t.to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{1, 2, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 3, 4}));
  t = run("Tile", sf::DType::kString,
          {Tensor::from_strings({"a", "b"}, Shape{2}), vec<std::int32_t>({2})});
  EXPECT_EQ(t.to_strings(), (std::vector<std::string>{"a", "b", "a", "b"}));
}

TEST(TileTest, Errors) {
  const Tensor x = vec<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_NE(error_of([&] {
              run("Tile", sf::float32, {x, vec<std::int32_t>({2})});
            }).find("Expected multiples argument to be a vector of length 2 but got length 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              run("Tile", sf::float32, {x, vec<std::int32_t>({1, -1})});
            }).find("Expected multiples[1] >= 0, but got -1"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              run("Tile", sf::float32, {x, vec<float>({1, 1})});
            }).find("multiples must be int32 or int64"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              run("Tile", sf::float32,
                  {x, vec<std::int64_t>({std::numeric_limits<std::int64_t>::max(), 1})});
            }).find("overflows int64"),
            std::string::npos);
}

TEST(RangeTest, IntegerAndFloatingValues) {
  auto range32 = [](std::int32_t a, std::int32_t b, std::int32_t d) {
    return run("Range", sf::int32,
               {Tensor::from_scalar(a), Tensor::from_scalar(b), Tensor::from_scalar(d)})
        .to_vector<std::int32_t>();
  };
  EXPECT_EQ(range32(0, 5, 1), (std::vector<std::int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(range32(1, 10, 3), (std::vector<std::int32_t>{1, 4, 7}));
  EXPECT_EQ(range32(10, 1, -4), (std::vector<std::int32_t>{10, 6, 2}));
  EXPECT_EQ(range32(3, 3, 1), std::vector<std::int32_t>{});
  // The whole int32 span in steps of 2^30: no overflow in the count or the values.
  constexpr auto lo = std::numeric_limits<std::int32_t>::min();
  constexpr auto hi = std::numeric_limits<std::int32_t>::max();
  EXPECT_EQ(range32(lo, hi, 1 << 30), (std::vector<std::int32_t>{lo, lo + (1 << 30), 0, 1 << 30}));
  EXPECT_EQ(range32(hi, lo, -(1 << 30)).size(), 4u);
  const Tensor f =
      run("Range", sf::float32,
          {Tensor::from_scalar(0.5f), Tensor::from_scalar(2.0f), Tensor::from_scalar(0.25f)});
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f}));
  // start + i * delta, as TF (checked against tf.range in float32): 8 * 0.1 is 0.8, eight
  // additions of 0.1 give 0.7999999999999999.
  const Tensor d =
      run("Range", sf::float64,
          {Tensor::from_scalar(0.0), Tensor::from_scalar(0.85), Tensor::from_scalar(0.1)});
  ASSERT_EQ(d.num_elements(), 9);
  EXPECT_EQ(d.to_vector<double>()[8], 0.8);
  const Tensor l = run("Range", sf::int64,
                       {Tensor::from_scalar(std::int64_t{-5}), Tensor::from_scalar(std::int64_t{5}),
                        Tensor::from_scalar(std::int64_t{4})});
  EXPECT_EQ(l.to_vector<std::int64_t>(), (std::vector<std::int64_t>{-5, -1, 3}));
}

TEST(RangeTest, Errors) {
  auto err = [](Tensor a, Tensor b, Tensor d) {
    return error_of([&] { run("Range", a.dtype(), {a, b, d}); });
  };
  using I = std::int32_t;
  EXPECT_NE(err(Tensor::from_scalar(I{1}), Tensor::from_scalar(I{5}), Tensor::from_scalar(I{0}))
                .find("Requires delta != 0: 0"),
            std::string::npos);
  EXPECT_NE(err(Tensor::from_scalar(I{5}), Tensor::from_scalar(I{1}), Tensor::from_scalar(I{1}))
                .find("Requires start <= limit when delta > 0: 5/1"),
            std::string::npos);
  EXPECT_NE(err(Tensor::from_scalar(I{1}), Tensor::from_scalar(I{5}), Tensor::from_scalar(I{-1}))
                .find("Requires start >= limit when delta < 0: 1/5"),
            std::string::npos);
  EXPECT_NE(err(vec<I>({1, 2}), Tensor::from_scalar(I{5}), Tensor::from_scalar(I{1}))
                .find("start must be a scalar, not shape [2]"),
            std::string::npos);
  EXPECT_NE(err(Tensor::from_scalar(I{1}), Tensor::from_scalar(std::int64_t{5}),
                Tensor::from_scalar(I{1}))
                .find("must have one dtype"),
            std::string::npos);
  EXPECT_NE(err(Tensor::from_scalar(0.0f), Tensor::from_scalar(1e30f), Tensor::from_scalar(1e-30f))
                .find("Requires ((limit - start) / delta) <= 9223372036854775807"),
            std::string::npos);
}

TEST(FloorModDivTest, SignsExtremesAndZeroDivisors) {
  using I = std::int32_t;
  const Tensor x = vec<I>({7, -7, 7, -7, 0, std::numeric_limits<I>::min()});
  const Tensor y = vec<I>({3, 3, -3, -3, 5, -1});
  EXPECT_EQ(run("FloorMod", sf::int32, {x, y}).to_vector<I>(),
            (std::vector<I>{1, 2, -2, -1, 0, 0}));
  EXPECT_EQ(run("FloorDiv", sf::int32, {x, y}).to_vector<I>(),
            (std::vector<I>{2, -3, -3, 2, 0, std::numeric_limits<I>::min()}));
  const Tensor fx = vec<float>({5.5f, -5.5f, 5.5f, -5.5f});
  const Tensor fy = vec<float>({2, 2, -2, -2});
  EXPECT_EQ(run("FloorMod", sf::float32, {fx, fy}).to_vector<float>(),
            (std::vector<float>{1.5f, 0.5f, -0.5f, -1.5f}));
  EXPECT_EQ(run("FloorDiv", sf::float32, {fx, fy}).to_vector<float>(),
            (std::vector<float>{2, -3, -3, 2}));
  // Broadcasting a scalar divisor, int64.
  EXPECT_EQ(run("FloorMod", sf::int64,
                {vec<std::int64_t>({-1, 4, 9}), Tensor::from_scalar(std::int64_t{4})})
                .to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{3, 0, 1}));
  for (const char* op : {"FloorMod", "FloorDiv"})
    EXPECT_NE(error_of([&] {
                run(op, sf::int32, {vec<I>({1, 2}), vec<I>({1, 0})});
              }).find("Integer division by zero"),
              std::string::npos)
        << op;
}

TEST(DynamicStitchTest, TheTfDocExampleDuplicatesAndGaps) {
  // tf.dynamic_stitch's documented example.
  std::vector<Tensor> in{vec<std::int32_t>({6}),
                         vec<std::int32_t>({4, 1}),
                         vec<std::int32_t>({5, 2, 0, 3}, {2, 2}),
                         vec<float>({61, 62}, {1, 2}),
                         vec<float>({41, 42, 11, 12}, {2, 2}),
                         vec<float>({51, 52, 21, 22, 1, 2, 31, 32}, {2, 2, 2})};
  Tensor m = run("DynamicStitch", sf::float32, in);
  EXPECT_EQ(m.shape(), (Shape{7, 2}));
  EXPECT_EQ(m.to_vector<float>(),
            (std::vector<float>{1, 2, 11, 12, 21, 22, 31, 32, 41, 42, 51, 52, 61, 62}));
  // A later input wins on a repeated index; a row no index names is zeros.
  m = run("DynamicStitch", sf::int64,
          {vec<std::int32_t>({0, 3}), vec<std::int32_t>({3}), vec<std::int64_t>({1, 2}),
           vec<std::int64_t>({9})});
  EXPECT_EQ(m.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0, 0, 9}));
  // No indices at all: an empty first dimension.
  m = run("DynamicStitch", sf::float32,
          {vec<std::int32_t>({}), Tensor::from_vector<float>({}, Shape{0, 3})});
  EXPECT_EQ(m.shape(), (Shape{0, 3}));
}

TEST(DynamicStitchTest, Errors) {
  EXPECT_NE(error_of([] {
              run("DynamicStitch", sf::float32, {vec<std::int32_t>({0, -1}), vec<float>({1, 2})});
            }).find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              run("DynamicStitch", sf::float32, {vec<std::int32_t>({0, 1}), vec<float>({1, 2, 3})});
            }).find("does not start with indices[0].shape = [2]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              run("DynamicStitch", sf::float32,
                  {vec<std::int32_t>({0}), vec<std::int32_t>({1}), vec<float>({1, 2}, {1, 2}),
                   vec<float>({1, 2, 3}, {1, 3})});
            }).find("Need data[0].shape[1:] = data[1].shape[1:]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              run("DynamicStitch", sf::float32, {vec<std::int64_t>({0}), vec<float>({1})});
            }).find("indices[0] must be int32"),
            std::string::npos);
}

TEST(ZerosOnesLikeTest, EveryDtype) {
  const Tensor f = vec<float>({1.5f, -2, 3}, {3, 1});
  Tensor z = run("ZerosLike", sf::float32, {f});
  EXPECT_EQ(z.shape(), (Shape{3, 1}));
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(run("OnesLike", sf::float32, {f}).to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(run("OnesLike", sf::int64, {vec<std::int64_t>({5, 6})}).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, 1}));
  const Tensor h = run("OnesLike", sf::DType::kFloat16, {Tensor(sf::DType::kFloat16, Shape{2})});
  EXPECT_EQ(h.shape(), Shape{2});
  for (auto v : h.to_vector<sf::half>()) EXPECT_EQ(v, sf::half(1.0f));
  const Tensor b = run("OnesLike", sf::DType::kBool, {Tensor(sf::DType::kBool, Shape{2})});
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{true, true}));
  EXPECT_EQ(run("ZerosLike", sf::DType::kBool, {b}).to_vector<bool>(),
            (std::vector<bool>{false, false}));
}

}  // namespace
