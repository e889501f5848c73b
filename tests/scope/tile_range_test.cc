// tf.tile, tf.range, floormod / floordiv, tf.dynamic_stitch, zeros_like / ones_like from the
// graph API: static shapes as TF's shape functions give them (with the small constant
// subgraphs graph construction evaluates, Node::constant), run-time values, gradients, and the
// errors at graph construction. Op-for-op agreement with TF 2.21: tf_golden case
// math_tile_range_reductions.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <string>

namespace {

class TileRangeTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

template <class F>
std::string value_error(F f) {
  try {
    f();
  } catch (const sf::ValueError& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(TileRangeTest, StaticShapes) {
  auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
  EXPECT_EQ(sf::tile(x, {2, 1}).shape(), (sf::Shape{-1, 3}));
  EXPECT_EQ(sf::tile(x, {1, 0}).shape(), (sf::Shape{-1, 0}));
  // Multiples computed from a shape: partly known, as TF's constant_value_as_shape.
  EXPECT_EQ(sf::tile(x, sf::shape(x)).shape(), (sf::Shape{-1, 9}));
  auto m = sf::placeholder(sf::int32, {2}, "m");
  EXPECT_EQ(sf::tile(x, m).shape(), (sf::Shape{-1, -1}));
  EXPECT_EQ(sf::range(5).shape(), (sf::Shape{5}));
  EXPECT_EQ(sf::range(0.5, 2.0, 0.25).dtype(), sf::float32);
  auto n = sf::placeholder(sf::int32, {}, "n");
  EXPECT_EQ(sf::range(n).shape(), (sf::Shape{-1}));
  EXPECT_EQ(sf::range(n, 10, 2).dtype(), sf::int32);
  // int64 beyond int32, and casts to the widest dtype.
  EXPECT_EQ(sf::range(std::int64_t{1} << 40, (std::int64_t{1} << 40) + 3).dtype(), sf::int64);
  EXPECT_EQ(sf::range(n, 2.5).dtype(), sf::float32);
  // A shape computed by graph ops is a constant to shape inference (TF's shape refiner
  // evaluates small constant subgraphs): reduced_shape's DynamicStitch of a Range and a FloorMod.
  auto idx = sf::range(2);
  auto axis = sf::floormod(sf::constant(-1) + sf::constant(2), sf::constant(2));
  auto shp = sf::constant(std::vector<std::int32_t>{4, 3}, {2});
  auto ones = sf::constant(std::vector<std::int32_t>{1}, {1});
  auto axes = sf::reshape(axis, std::vector<std::int64_t>{1});
  auto stitched = sf::dynamic_stitch({idx, axes}, {shp, ones});
  EXPECT_EQ(stitched.shape(), (sf::Shape{2}));
  EXPECT_EQ(sf::reshape(sf::placeholder(sf::float32, {4}), stitched).shape(), (sf::Shape{4, 1}));
  // Indices known only at run time: the first dimension is too.
  auto run_idx = sf::placeholder(sf::int32, {3}, "run_idx");
  EXPECT_EQ(sf::dynamic_stitch({run_idx}, {sf::placeholder(sf::float32, {3, 2})}).shape(),
            (sf::Shape{-1, 2}));
  EXPECT_EQ(sf::zeros_like(x).shape(), (sf::Shape{-1, 3}));
  // tf.rank: a Const where the rank is known, else a Rank op; a reduction over every axis of an
  // unknown rank goes through range(0, rank(x)) and is a scalar, as TF's.
  EXPECT_EQ(sf::rank(x).op().type(), "Const");
  auto u = sf::placeholder(sf::float32, sf::Shape::unknown(), "u");
  EXPECT_EQ(sf::rank(u).op().type(), "Rank");
  EXPECT_EQ(sf::reduce_sum(u).shape(), sf::Shape{});
  EXPECT_FALSE(sf::reduce_sum(u, {}, true).shape().has_rank());
  // A dimension that overflows int64 is TF's ValueError, not a wrapped size.
  EXPECT_NE(value_error([] {
              sf::tile(sf::placeholder(sf::float32, {4}), {std::int64_t{1} << 62});
            }).find("Negative dimension size caused by overflow"),
            std::string::npos);
  EXPECT_EQ(sf::ones_like(x, sf::int64).dtype(), sf::int64);
}

TEST_F(TileRangeTest, ValuesAtRunTime) {
  auto x = sf::placeholder(sf::float32, {-1, 2}, "x");
  auto n = sf::placeholder(sf::int32, {}, "n");
  auto t = sf::tile(x, {1, 2});
  auto r = sf::range(n, 0, -3);
  auto mod = sf::range(-3, 4) % 3;
  auto div = sf::floordiv(sf::range(-3, 4), sf::constant(2));
  auto z = sf::zeros_like(x);
  auto o = sf::ones_like(x);
  // Integers beyond 2^53 stay exact (Python's int64 Consts), and Rank runs.
  const std::int64_t big = (std::int64_t{1} << 60) + 1;
  auto rb = sf::range(big, big + 3);
  auto u = sf::placeholder(sf::float32, sf::Shape::unknown(), "u");
  auto rk = sf::rank(u);
  sf::Session s;
  const auto exact =
      s.run({rb, rk}, {{u, sf::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 1, 2})}});
  EXPECT_EQ(exact[0].to_vector<std::int64_t>(), (std::vector<std::int64_t>{big, big + 1, big + 2}));
  EXPECT_EQ(exact[1].to_vector<std::int32_t>(), std::vector<std::int32_t>{3});
  const auto out =
      s.run({t, r, mod, div, z, o}, {{x, sf::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2})},
                                     {n, sf::Tensor::from_scalar(std::int32_t{8})}});
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4}));
  EXPECT_EQ(out[1].to_vector<std::int32_t>(), (std::vector<std::int32_t>{8, 5, 2}));
  EXPECT_EQ(out[2].to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_EQ(out[3].to_vector<std::int32_t>(), (std::vector<std::int32_t>{-2, -1, -1, 0, 0, 1, 1}));
  EXPECT_EQ(out[4].to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(out[5].to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
  // A run-time Range error names the op.
  try {
    s.run(r, {{n, sf::Tensor::from_scalar(std::int32_t{-1})}});
    FAIL() << "expected InvalidArgumentError";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("Requires start >= limit when delta < 0: -1/0"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(TileRangeTest, GradientsSumTheTiledCopies) {
  auto x = sf::placeholder(sf::float32, {-1, 2}, "x");
  auto w = sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 6});
  auto loss = sf::reduce_sum(sf::tile(x, {1, 3}) * w);
  auto gx = sf::gradients(loss, {x})[0];
  EXPECT_EQ(gx.shape(), (sf::Shape{-1, 2}));
  // floormod's gradient: dy for x, -dy * floordiv(x, y) for y.
  auto y = sf::placeholder(sf::float32, {2}, "y");
  auto gm = sf::gradients(sf::reduce_sum(sf::floormod(x, y)), {x, y});
  // dynamic_stitch's: the merged gradient gathered at each input's indices.
  auto d0 = sf::placeholder(sf::float32, {2}, "d0");
  auto d1 = sf::placeholder(sf::float32, {1}, "d1");
  auto st = sf::dynamic_stitch({sf::constant(std::vector<std::int32_t>{2, 0}, {2}),
                                sf::constant(std::vector<std::int32_t>{2}, {1})},
                               {d0, d1});
  auto gs = sf::gradients(sf::reduce_sum(st * sf::constant(std::vector<float>{10, 20, 30}, {3})),
                          {d0, d1});
  sf::Session s;
  const auto out = s.run({gx, gm[0], gm[1], gs[0], gs[1]},
                         {{x, sf::Tensor::from_vector<float>({5.5f, -5.5f, 1, 2}, {2, 2})},
                          {y, sf::Tensor::from_vector<float>({2, 2}, {2})},
                          {d0, sf::Tensor::from_vector<float>({1, 2}, {2})},
                          {d1, sf::Tensor::from_vector<float>({3}, {1})}});
  EXPECT_EQ(out[0].to_vector<float>(),
            (std::vector<float>{1 + 3 + 5, 2 + 4 + 6, 7 + 9 + 11, 8 + 10 + 12}));
  EXPECT_EQ(out[1].to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
  // -(floor(5.5 / 2) + floor(1 / 2)), -(floor(-5.5 / 2) + floor(2 / 2)).
  EXPECT_EQ(out[2].to_vector<float>(), (std::vector<float>{-2, 2}));
  // Index 2 is named twice: the later input (d1) holds it, but TF's gradient gathers the
  // merged gradient at every index, so d0's first element gets 30 too.
  EXPECT_EQ(out[3].to_vector<float>(), (std::vector<float>{30, 10}));
  EXPECT_EQ(out[4].to_vector<float>(), (std::vector<float>{30}));
}

TEST_F(TileRangeTest, ErrorsAtGraphConstruction) {
  auto y = sf::placeholder(sf::float32, {2, 3}, "y");
  EXPECT_NE(value_error([&] {
              sf::tile(y, {1, 2, 3});
            }).find("Shape must be rank 2 but is rank 3"),
            std::string::npos);
  EXPECT_NE(value_error([&] {
              sf::tile(y, {1, -2});
            }).find("Expected multiples[1] >= 0"),
            std::string::npos);
  EXPECT_NE(value_error([&] {
              sf::tile(y, sf::constant(std::vector<float>{1, 1}, {2}));
            }).find("multiples must be int32 or int64"),
            std::string::npos);
  EXPECT_NE(value_error([] { sf::range(1, 5, 0); }).find("Requires delta != 0"), std::string::npos);
  EXPECT_NE(value_error([] { sf::range(sf::constant("a")); }).find("range takes int32"),
            std::string::npos);
  EXPECT_NE(value_error([] {
              sf::range(sf::constant(std::vector<std::int32_t>{1, 2}, {2}));
            }).find("must be a scalar, not shape [2]"),
            std::string::npos);
  EXPECT_NE(value_error([&] { sf::dynamic_stitch({}, {}); }).find("needs as many indices"),
            std::string::npos);
  EXPECT_NE(value_error([&] {
              sf::dynamic_stitch({sf::constant(std::vector<std::int32_t>{0, 1, 2}, {3})}, {y});
            }).find("does not start with indices[0].shape"),
            std::string::npos);
  EXPECT_NE(value_error([&] { sf::ones_like(sf::constant("s")); }).find("string"),
            std::string::npos);
}

}  // namespace
