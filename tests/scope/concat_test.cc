// tf.concat / tf.split (ConcatV2 / SplitV): values, shapes, -1 sizes, negative axes, errors,
// gradients both ways, and the GPU kernels against the CPU ones.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <numeric>

namespace {

class ConcatTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

sf::Output iota(const sf::Shape& s, float start) {
  std::vector<float> v(static_cast<std::size_t>(s.num_elements()));
  std::iota(v.begin(), v.end(), start);
  return sf::constant(v, s);
}

TEST_F(ConcatTest, JoinsAlongAnyAxis) {
  auto a = iota({2, 2}, 0);   // [[0,1],[2,3]]
  auto b = iota({2, 1}, 10);  // [[10],[11]]
  auto c = sf::concat({a, b}, 1);
  EXPECT_EQ(c.op().name(), "concat");
  EXPECT_EQ(c.op().type(), "ConcatV2");
  EXPECT_EQ(c.shape(), sf::Shape({2, 3}));
  auto d = sf::concat({a, iota({1, 2}, 20)}, -2);
  EXPECT_EQ(d.shape(), sf::Shape({3, 2}));
  sf::Session s;
  EXPECT_EQ(s.run(c).to_vector<float>(), (std::vector<float>{0, 1, 10, 2, 3, 11}));
  EXPECT_EQ(s.run(d).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 20, 21}));
  // Unknown sizes are checked when the step runs.
  auto p = sf::placeholder(sf::float32, sf::Shape{-1, 3});
  auto e = sf::concat({p, iota({2, 3}, 0)}, 0);
  EXPECT_EQ(e.shape(), sf::Shape({-1, 3}));
  EXPECT_EQ(s.run(e, {{p, sf::Tensor::from_vector<float>({7, 8, 9}, {1, 3})}}).shape(),
            sf::Shape({3, 3}));
}

TEST_F(ConcatTest, SplitsBySizesAndByCount) {
  auto x = iota({2, 6}, 0);
  auto parts = sf::split(x, std::vector<std::int64_t>{1, -1, 2}, 1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].shape(), sf::Shape({2, 3})) << "-1 resolved from the known dimension";
  auto halves = sf::split(x, 2, 0);
  EXPECT_EQ(halves[1].shape(), sf::Shape({1, 6}));
  sf::Session s;
  auto r = s.run(parts);
  EXPECT_EQ(r[0].to_vector<float>(), (std::vector<float>{0, 6}));
  EXPECT_EQ(r[1].shape(), sf::Shape({2, 3}));
  EXPECT_EQ(r[1].to_vector<float>(), (std::vector<float>{1, 2, 3, 7, 8, 9}));
  EXPECT_EQ(r[2].to_vector<float>(), (std::vector<float>{4, 5, 10, 11}));
  EXPECT_EQ(s.run(halves[1]).to_vector<float>(), (std::vector<float>{6, 7, 8, 9, 10, 11}));
  // Round trip.
  EXPECT_EQ(s.run(sf::concat(parts, 1)).to_vector<float>(), s.run(x).to_vector<float>());
}

TEST_F(ConcatTest, BadInputIsAClearError) {
  auto a = iota({2, 2}, 0);
  EXPECT_THROW(sf::concat({a, iota({3, 3}, 0)}, 0), sf::ValueError);  // dimension 1 differs
  EXPECT_THROW(sf::concat({a, iota({2}, 0)}, 0), sf::ValueError);     // ranks differ
  EXPECT_THROW(sf::concat({a}, 2), sf::ValueError);
  EXPECT_THROW(sf::concat({}, 0), sf::ValueError);
  EXPECT_THROW(sf::split(iota({5}, 0), 2), sf::ValueError);  // 5 does not divide by 2
  EXPECT_THROW(sf::split(iota({5}, 0), std::vector<std::int64_t>{2, 2}), sf::ValueError);
  auto p = sf::placeholder(sf::float32, sf::Shape{-1});
  auto pieces = sf::split(p, std::vector<std::int64_t>{2, 2});
  sf::Session s;
  EXPECT_THROW(s.run(pieces[0], {{p, sf::Tensor::from_vector<float>({1, 2, 3})}}),
               sf::InvalidArgumentError);
}

TEST_F(ConcatTest, GradientsCutAndJoin) {
  auto a = sf::get_variable("a", {2, 2}, {.initializer = sf::ones_initializer()});
  auto b = sf::get_variable("b", {2, 1}, {.initializer = sf::ones_initializer()});
  auto w = iota({2, 3}, 1);  // d(sum(c * w))/dc = w
  auto loss = sf::reduce_sum(sf::concat({a.value(), b.value()}, 1) * w);
  auto g = sf::gradients(loss, std::vector<sf::Variable>{a, b});
  // Split: only the first piece is used, the other gets zeros.
  auto pieces = sf::split(b.value() * 1.0f, std::vector<std::int64_t>{1, 1}, 0);
  auto gs = sf::gradients(sf::reduce_sum(pieces[0] * 5.0f), std::vector<sf::Variable>{b});
  sf::Session s;
  s.run(sf::global_variables_initializer());
  EXPECT_EQ(s.run(g[0]).to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(s.run(g[1]).to_vector<float>(), (std::vector<float>{3, 6}));
  EXPECT_EQ(s.run(gs[0]).to_vector<float>(), (std::vector<float>{5, 0}));
}

TEST_F(ConcatTest, GpuKernelsMatchTheCpu) {
  // Cut along axis 1 ([3,2,7], [3,2,7], [3,1,7]) and joined back in another order along the
  // same axis, counted from the end (-2; -1 would be axis 2, where the pieces' axis-1 sizes
  // differ: the graph could not be built). The graph is built before the GPU check, so a
  // machine without a GPU still checks it.
  auto x = iota({3, 5, 7}, 0);
  sf::Output joined;
  std::vector<sf::Output> parts;
  {
    auto d = sf::device("/device:GPU:0");
    parts = sf::split(x, std::vector<std::int64_t>{2, -1, 1}, 1);
    joined = sf::concat({parts[2], parts[0], parts[1]}, -2);
  }
  auto cpu = sf::concat({sf::split(x, std::vector<std::int64_t>{2, -1, 1}, 1)[2],
                         sf::split(x, std::vector<std::int64_t>{2, -1, 1}, 1)[0],
                         sf::split(x, std::vector<std::int64_t>{2, -1, 1}, 1)[1]},
                        -2);
  EXPECT_EQ(joined.shape(), sf::Shape({3, 5, 7}));
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  sf::Session s({.allow_soft_placement = false});
  EXPECT_EQ(s.assigned_device(joined.op()), "/job:localhost/replica:0/task:0/device:GPU:0");
  EXPECT_EQ(s.run(joined).to_vector<float>(), s.run(cpu).to_vector<float>());
}

// One launch moves up to 64 pieces in the widest copy unit that divides them all: 70 pieces of
// 0..3 rows (two launches, empty pieces among them) in float32 (4-byte units), float16 pieces
// of odd widths (2-byte units), int64 rows along axis 0 (16-byte units), and a wide float32
// pair; each joined on the GPU and on the CPU, then split back on the GPU.
TEST_F(ConcatTest, GpuKernelsMoveManyPiecesOfEveryWidth) {
  struct Case {
    std::vector<sf::Output> pieces;
    std::int64_t axis;
  };
  std::vector<Case> cases(4);
  float start = 0;
  for (int i = 0; i < 70; ++i) {
    const std::int64_t rows = i % 4;
    cases[0].pieces.push_back(iota({3, rows, 5}, start));
    start += 15;
  }
  cases[0].axis = 1;
  for (int i = 0; i < 9; ++i)
    cases[1].pieces.push_back(
        sf::cast(iota({2, i % 3 + 1}, static_cast<float>(i * 7)), sf::float16));
  cases[1].axis = 1;
  for (int i = 0; i < 5; ++i)
    cases[2].pieces.push_back(sf::cast(iota({i + 1, 2}, static_cast<float>(i * 100)), sf::int64));
  cases[2].axis = 0;
  cases[3].pieces = {iota({4, 1000}, 0), iota({4, 24}, 5000)};
  cases[3].axis = 1;
  std::vector<sf::Output> gpu, cpu;
  std::vector<std::vector<sf::Output>> back;
  for (const auto& c : cases) {
    {
      sf::device d("/device:GPU:0");
      std::vector<sf::Output> pieces;
      for (const auto& p : c.pieces) pieces.push_back(sf::identity(p));
      gpu.push_back(sf::concat(pieces, c.axis));
      std::vector<std::int64_t> sizes;
      for (const auto& p : c.pieces)
        sizes.push_back(p.shape().dims()[static_cast<std::size_t>(c.axis)]);
      back.push_back(sf::split(gpu.back(), sizes, c.axis));
    }
    sf::device d("/device:CPU:0");
    cpu.push_back(sf::concat(c.pieces, c.axis));
  }
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  sf::Session s({.allow_soft_placement = false});
  auto as_float = [](const sf::Tensor& t) { return sf::cast(sf::constant(t), sf::float32); };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    const auto g = s.run(gpu[i]), c = s.run(cpu[i]);
    ASSERT_EQ(g.shape(), c.shape());
    EXPECT_EQ(s.run(as_float(g)).to_vector<float>(), s.run(as_float(c)).to_vector<float>());
    for (std::size_t k = 0; k < back[i].size(); ++k)
      EXPECT_EQ(s.run(as_float(s.run(back[i][k]))).to_vector<float>(),
                s.run(as_float(s.run(cases[i].pieces[k]))).to_vector<float>())
          << "piece " << k;
  }
}

}  // namespace
