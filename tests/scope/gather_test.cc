// Gathers and embeddings through graphs and sessions: GatherV2 along every axis (int32/int64
// indices, multi-dimensional indices, strings), UnsortedSegmentSum (negative ids dropped),
// TF's error texts for out-of-range indices, finite-difference checks of both gradients,
// sf::nn::embedding_lookup over a tensor, a list of shards and a partitioned variable with the
// "mod" and "div" strategies against TF's own assignment rule, training through a lookup, and
// on a GPU (skipped without one) the CUDA kernels against the CPU's.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "tests/support/gradient_check.h"

namespace {

class GatherTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::vector<float> iota(std::size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(i);
  return v;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sf::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// out[o, j, k] = params[o, idx[j], k] over params [outer, limit, inner].
std::vector<float> gather_ref(const std::vector<float>& p, std::int64_t outer, std::int64_t limit,
                              std::int64_t inner, const std::vector<std::int64_t>& idx) {
  std::vector<float> out;
  for (std::int64_t o = 0; o < outer; ++o)
    for (auto i : idx)
      for (std::int64_t k = 0; k < inner; ++k)
        out.push_back(p[static_cast<std::size_t>((o * limit + i) * inner + k)]);
  return out;
}

TEST_F(GatherTest, GatherAlongEveryAxis) {
  const auto pv = iota(2 * 3 * 4);
  auto params = sf::constant(pv, {2, 3, 4});
  auto idx32 = sf::constant(std::vector<std::int32_t>{2, 0, 2, 1}, {2, 2});
  auto g0 = sf::gather(params, sf::constant(std::vector<std::int32_t>{1, 1, 0}, {3}));
  auto g1 = sf::gather(params, idx32, 1);
  auto g2 = sf::gather(params, sf::constant(std::vector<std::int32_t>{3, 0}, {2}), -1);
  EXPECT_EQ(g0.op().name(), "GatherV2");
  EXPECT_EQ(g0.op().inputs()[2].op().name(), "GatherV2/axis");
  EXPECT_EQ(g1.op().name(), "GatherV2_1");
  EXPECT_EQ(g0.shape(), sf::Shape({3, 3, 4}));
  EXPECT_EQ(g1.shape(), sf::Shape({2, 2, 2, 4}));
  EXPECT_EQ(g2.shape(), sf::Shape({2, 3, 2}));
  sf::Session s;
  auto r = s.run({g0, g1, g2});
  EXPECT_EQ(r[0].to_vector<float>(), gather_ref(pv, 1, 2, 12, {1, 1, 0}));
  EXPECT_EQ(r[1].to_vector<float>(), gather_ref(pv, 2, 3, 4, {2, 0, 2, 1}));
  EXPECT_EQ(r[2].to_vector<float>(), gather_ref(pv, 6, 4, 1, {3, 0}));
  // int64 indices, a scalar index (the axis disappears), strings.
  auto gs = sf::gather(params, sf::constant(std::int64_t{1}), 1);
  EXPECT_EQ(gs.shape(), sf::Shape({2, 4}));
  EXPECT_EQ(s.run(gs).to_vector<float>(), gather_ref(pv, 2, 3, 4, {1}));
  auto words = sf::constant(std::vector<std::string>{"a", "b", "c"}, {3});
  auto gw = sf::gather(words, sf::constant(std::vector<std::int32_t>{2, 2, 0}, {3}));
  EXPECT_EQ(s.run(gw).to_strings(), (std::vector<std::string>{"c", "c", "a"}));
}

TEST_F(GatherTest, OutOfRangeIndicesAndBadAxesAreErrors) {
  auto params = sf::constant(iota(10), {5, 2});
  auto ids = sf::placeholder(sf::int32, {2, 2}, "ids");
  auto g = sf::gather(params, ids);
  sf::Session s;
  const auto msg = error_of([&] {
    s.run(g, {{ids, sf::Tensor::from_vector<std::int32_t>({0, 1, 7, 2}, {2, 2})}});
  });
  EXPECT_NE(msg.find("indices[1,0] = 7 is not in [0, 5)"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] {
              s.run(g, {{ids, sf::Tensor::from_vector<std::int32_t>({0, -1, 1, 2}, {2, 2})}});
            }).find("indices[0,1] = -1 is not in [0, 5)"),
            std::string::npos);
  // The session stays usable.
  EXPECT_EQ(s.run(g, {{ids, sf::Tensor::from_vector<std::int32_t>({4, 0, 0, 4}, {2, 2})}})
                .to_vector<float>(),
            (std::vector<float>{8, 9, 0, 1, 0, 1, 8, 9}));
  EXPECT_THROW(sf::gather(params, ids, 2), sf::ValueError);
  EXPECT_THROW(sf::gather(params, sf::constant(1.0f)), sf::ValueError);  // float indices
}

TEST_F(GatherTest, UnsortedSegmentSum) {
  auto data = sf::constant(iota(8), {4, 2});
  auto ids = sf::constant(std::vector<std::int32_t>{2, 0, -1, 2}, {4});
  auto sum = sf::unsorted_segment_sum(data, ids, 3);
  EXPECT_EQ(sum.op().name(), "UnsortedSegmentSum");
  EXPECT_EQ(sum.shape(), sf::Shape({3, 2}));
  sf::Session s;
  // Row 2 (id -1) is dropped; rows 0 and 3 go to segment 2, row 1 to 0, nothing to 1.
  EXPECT_EQ(s.run(sum).to_vector<float>(), (std::vector<float>{2, 3, 0, 0, 6, 8}));
  auto bad =
      sf::unsorted_segment_sum(data, sf::constant(std::vector<std::int32_t>{0, 3, 1, 1}, {4}), 3);
  EXPECT_NE(error_of([&] { s.run(bad); }).find("segment_ids[1] = 3 is out of range [0, 3)"),
            std::string::npos);
  EXPECT_THROW(
      sf::unsorted_segment_sum(data, sf::constant(std::vector<std::int32_t>{0, 1}, {2}), 3),
      sf::ValueError);  // ids' shape does not prefix data's
}

using scopeflow::testing::check_gradient;

TEST_F(GatherTest, GradientsMatchFiniteDifferences) {
  // Repeated indices add up; an axis after leading dimensions offsets the segments.
  check_gradient(
      {4, 3},
      [](sf::Output x) {
        return sf::gather(x, sf::constant(std::vector<std::int32_t>{3, 0, 3, 3}, {2, 2}));
      },
      1);
  check_gradient(
      {2, 3, 2},
      [](sf::Output x) {
        return sf::gather(x, sf::constant(sf::Tensor::from_vector<std::int64_t>({2, 2, 0}, {3})),
                          1);
      },
      2);
  check_gradient(
      {2, 5},
      [](sf::Output x) {
        return sf::gather(x, sf::constant(std::vector<std::int32_t>{4, 1}, {2}), -1);
      },
      3);
  check_gradient(
      {5, 2},
      [](sf::Output x) {
        return sf::unsorted_segment_sum(
            x, sf::constant(std::vector<std::int32_t>{1, 0, 1, 2, 0}, {5}), 4);
      },
      4);
}

// TF's embedding_lookup assignment (embedding_ops.py): shard and row within it of each id.
std::pair<std::int64_t, std::int64_t> tf_assignment(std::int64_t id, const std::string& strategy,
                                                    std::int64_t np, std::int64_t total) {
  if (strategy == "mod") return {id % np, id / np};
  const std::int64_t ipp = total / np, extras = total % np;
  const std::int64_t p = std::max(id / (ipp + 1), ipp > 0 ? (id - extras) / ipp : 0);
  return {p, p < extras ? id % (ipp + 1) : (id - extras) % ipp};
}

TEST_F(GatherTest, EmbeddingLookupOverShardsFollowsTfsStrategies) {
  // 10 rows of width 2 in 3 shards of 4, 3, 3 rows (TF's fixed_size_partitioner sizes).
  const std::vector<std::int64_t> rows = {4, 3, 3};
  std::vector<sf::Output> shards;
  std::vector<std::vector<float>> values;
  for (std::size_t p = 0; p < rows.size(); ++p) {
    values.push_back(iota(static_cast<std::size_t>(rows[p] * 2), 1.0f));
    for (auto& v : values.back()) v += 100.0f * static_cast<float>(p);
    shards.push_back(sf::constant(values.back(), {rows[p], 2}));
  }
  std::vector<std::int64_t> idv = {0, 9, 4, 5, 3, 7, 1, 8};
  auto ids = sf::constant(std::vector<std::int32_t>(idv.begin(), idv.end()), {2, 4});
  sf::Session s;
  for (const std::string strategy : {"mod", "div"}) {
    auto e = sf::nn::embedding_lookup(shards, ids, strategy);
    EXPECT_EQ(e.shape(), sf::Shape({2, 4, 2})) << strategy;
    std::vector<float> want;
    for (auto id : idv) {
      auto [p, r] = tf_assignment(id, strategy, 3, 10);
      want.push_back(values[static_cast<std::size_t>(p)][static_cast<std::size_t>(2 * r)]);
      want.push_back(values[static_cast<std::size_t>(p)][static_cast<std::size_t>(2 * r + 1)]);
    }
    EXPECT_EQ(s.run(e).to_vector<float>(), want) << strategy;
    auto out_of_range = sf::nn::embedding_lookup(
        shards, sf::constant(std::vector<std::int32_t>{10}, {1}), strategy);
    EXPECT_NE(error_of([&] { s.run(out_of_range); }).find("ids[0] = 10 is not in [0, 10)"),
              std::string::npos)
        << strategy;
  }
  // One tensor: a plain gather, named as TF names it.
  auto single =
      sf::nn::embedding_lookup(shards[0], sf::constant(std::vector<std::int32_t>{3, 1}, {2}));
  EXPECT_EQ(single.op().type(), "Identity");
  EXPECT_EQ(single.op().inputs()[0].op().type(), "GatherV2");
  EXPECT_EQ(s.run(single).to_vector<float>(), (std::vector<float>{6, 7, 2, 3}));
  EXPECT_THROW(sf::nn::embedding_lookup(shards, ids, "range"), sf::ValueError);
  EXPECT_THROW(sf::nn::embedding_lookup(std::vector<sf::Output>{}, ids), sf::ValueError);
  EXPECT_THROW(sf::nn::embedding_lookup({shards[0], sf::constant(iota(6), {2, 3})}, ids),
               sf::ValueError);
}

// A partitioned embedding variable, looked up and trained: SGD moves exactly the rows looked up,
// by lr times their count (mod strategy over 3 shards of a [7, 2] table).
TEST_F(GatherTest, TrainsAPartitionedEmbeddingVariable) {
  auto emb = sf::get_variable(
      "emb", {7, 2},
      {.initializer = sf::constant_initializer(1.0), .partitioner = sf::fixed_size_partitioner(3)});
  ASSERT_EQ(emb.partitions().size(), 3u);
  auto ids = sf::constant(sf::Tensor::from_vector<std::int64_t>({5, 1, 5, 6}, {4}));
  auto e = sf::nn::embedding_lookup(emb, ids);
  auto loss = sf::reduce_sum(e);
  auto train = sf::train::GradientDescentOptimizer(0.5).minimize(loss);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(train);
  // mod over 3 shards of 3, 2, 2 rows: id 5 -> shard 2 row 1, id 1 -> shard 1 row 0,
  // id 6 -> shard 0 row 2.
  std::vector<std::vector<float>> want = {
      {1, 1, 1, 1, 0.5f, 0.5f}, {0.5f, 0.5f, 1, 1}, {1, 1, 0, 0}};
  for (std::size_t p = 0; p < 3; ++p)
    EXPECT_EQ(s.run(emb.partitions()[p]).to_vector<float>(), want[p]) << "shard " << p;
  // Partitioned along axis 1: refused.
  auto wide = sf::get_variable("wide", {4, 6}, {.partitioner = sf::fixed_size_partitioner(2, 1)});
  EXPECT_THROW(sf::nn::embedding_lookup(wide, ids), sf::ValueError);
}

// TF1's MomentumOptimizer on an embedding_lookup gradient (IndexedSlices) runs
// SparseApplyMomentum: only the rows a step looks up move, and only their momentum changes; a
// dense ApplyMomentum would move every row by its momentum in every step. Values recorded from
// TensorFlow 2.21 (tf.compat.v1, graph mode): emb = arange(15) / 10 as [5, 3], loss =
// reduce_sum(embedding_lookup(emb, ids) * [1, -2, 0.5]), MomentumOptimizer(0.1, 0.9), three steps
// with ids [1, 3, 1], [0, 0, 4], [2, 1, 2] (row 3 is looked up in the first step only).
TEST_F(GatherTest, MomentumOnALookupMovesOnlyTheRowsLookedUpAsTf) {
  struct Case {
    bool nesterov;
    std::vector<float> emb, momentum;
  };
  const std::vector<float> accum = {2.0f, -4.0f, 1.0f,  2.8f, -5.6f, 1.4f,  2.0f, -4.0f,
                                    1.0f, 1.0f,  -2.0f, 0.5f, 1.0f,  -2.0f, 0.5f};
  const std::vector<Case> cases = {
      {false,
       {-0.2f, 0.5f, 0.1f, -0.18f, 1.36f, 0.26f, 0.4f, 1.1f, 0.7f, 0.8f, 1.2f, 1.05f, 1.1f, 1.5f,
        1.35f},
       accum},
      {true,
       {-0.38f, 0.86f, 0.01f, -0.432f, 1.864f, 0.134f, 0.22f, 1.46f, 0.61f, 0.71f, 1.38f, 1.005f,
        1.01f, 1.68f, 1.305f},
       accum},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.nesterov ? "nesterov" : "momentum");
    sf::reset_default_graph();
    std::vector<float> init(15);
    for (int i = 0; i < 15; ++i) init[static_cast<std::size_t>(i)] = static_cast<float>(i) / 10.0f;
    auto emb = sf::get_variable(
        "emb", sf::GetVariableOptions{.initializer = sf::Tensor::from_vector(init, {5, 3})});
    auto ids = sf::placeholder(sf::int32, sf::Shape{3}, "ids");
    auto w = sf::constant(std::vector<float>{1.0f, -2.0f, 0.5f}, {1, 3});
    auto loss = sf::reduce_sum(sf::nn::embedding_lookup(emb, ids) * w);
    sf::train::MomentumOptimizer opt(0.1, 0.9, "Momentum", c.nesterov);
    auto train = opt.minimize(loss);
    // The sparse update, named as TF names it.
    bool sparse = false;
    for (const auto& op : sf::get_default_graph().operations())
      sparse = sparse || (op.type() == "_SparseApplyMomentumRows" &&
                          op.name() == "Momentum/update_emb/SparseApplyMomentum");
    EXPECT_TRUE(sparse);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (const auto& step : std::vector<std::vector<std::int32_t>>{{1, 3, 1}, {0, 0, 4}, {2, 1, 2}})
      s.run(train, {{ids, sf::Tensor::from_vector<std::int32_t>(step)}});
    const auto got = s.run(emb.value()).to_vector<float>();
    const auto slot = s.run(opt.get_slot(emb, "momentum").value()).to_vector<float>();
    for (std::size_t i = 0; i < 15; ++i) {
      EXPECT_NEAR(got[i], c.emb[i], 1e-6f) << "emb element " << i;
      EXPECT_NEAR(slot[i], c.momentum[i], 1e-6f) << "momentum element " << i;
    }
  }
}

// Where TF's gradient is dense, so is the update: the variable also used densely (an AddN of the
// two gradients), a gather along another axis, a gradient that an Add passed on unchanged.
TEST_F(GatherTest, MomentumWhereTfsGradientIsDenseStaysDense) {
  auto apply_ops = [] {
    std::vector<std::string> types;
    for (const auto& op : sf::get_default_graph().operations())
      if (op.type().find("ApplyMomentum") != std::string::npos) types.push_back(op.type());
    return types;
  };
  auto row_ids = [] { return sf::constant(std::vector<std::int32_t>{1, 3}, {2}); };
  {  // used densely too: rows 0, 2 and 4 move by the dense gradient's rows
    auto emb = sf::get_variable("emb", {5, 3}, {.initializer = sf::ones_initializer()});
    auto x = sf::constant(std::vector<float>(10, 1.0f), {2, 5});
    auto loss = sf::reduce_sum(sf::matmul(x, emb)) +
                sf::reduce_sum(sf::nn::embedding_lookup(emb, row_ids()));
    auto train = sf::train::MomentumOptimizer(0.1, 0.9).minimize(loss);
    EXPECT_EQ(apply_ops(), std::vector<std::string>{"ApplyMomentum"});
    sf::Session s;
    s.run(sf::global_variables_initializer());
    s.run(train);
    const auto v = s.run(emb.value()).to_vector<float>();
    EXPECT_FLOAT_EQ(v[0], 1.0f - 0.1f * 2.0f);           // row 0: the matmul's gradient
    EXPECT_FLOAT_EQ(v[3], 1.0f - 0.1f * (2.0f + 1.0f));  // row 1: both
  }
  sf::reset_default_graph();
  {  // along axis 1 of a [1, 5, 3] variable: every looked-up column trains
    auto emb = sf::get_variable("emb", {1, 5, 3}, {.initializer = sf::ones_initializer()});
    auto loss = sf::reduce_sum(sf::gather(emb.value(), row_ids(), 1));
    auto train = sf::train::MomentumOptimizer(0.1, 0.9).minimize(loss);
    EXPECT_EQ(apply_ops(), std::vector<std::string>{"ApplyMomentum"});
    sf::Session s;
    s.run(sf::global_variables_initializer());
    s.run(train);
    const auto v = s.run(emb.value()).to_vector<float>();
    EXPECT_FLOAT_EQ(v[3], 0.9f);  // [0, 1, 0]
    EXPECT_FLOAT_EQ(v[9], 0.9f);  // [0, 3, 0]
    EXPECT_FLOAT_EQ(v[0], 1.0f);
  }
  sf::reset_default_graph();
  {  // gather(emb + c): TF's _AddGrad densifies the IndexedSlices
    auto emb = sf::get_variable("emb", {5, 3}, {.initializer = sf::ones_initializer()});
    auto c = sf::constant(std::vector<float>(15, 0.5f), {5, 3});
    auto loss = sf::reduce_sum(sf::gather(emb.value() + c, row_ids()));
    sf::train::MomentumOptimizer(0.1, 0.9).minimize(loss);
    EXPECT_EQ(apply_ops(), std::vector<std::string>{"ApplyMomentum"});
  }
}

// Two lookups of one table, their gradients summed (TF concatenates their IndexedSlices and
// stays sparse: ResourceSparseApplyMomentum): the rows either touches, and no others, move.
// TensorFlow 2.21 gives the same values.
TEST_F(GatherTest, SparseMomentumOverSeveralLookupsOfOneTable) {
  auto emb = sf::get_variable("emb", {5, 2}, {.initializer = sf::zeros_initializer()});
  auto a = sf::placeholder(sf::int32, sf::Shape{2}, "a");
  auto b = sf::placeholder(sf::int64, sf::Shape{1}, "b");
  auto loss = sf::reduce_sum(sf::nn::embedding_lookup(emb, a)) +
              2.0f * sf::reduce_sum(sf::nn::embedding_lookup(emb, b));
  auto train = sf::train::MomentumOptimizer(0.1, 0.9).minimize(loss);
  bool sparse = false;
  for (const auto& op : sf::get_default_graph().operations())
    sparse = sparse || op.type() == "_SparseApplyMomentumRows";
  EXPECT_TRUE(sparse);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(train, {{a, sf::Tensor::from_vector<std::int32_t>({0, 2})},
                {b, sf::Tensor::from_vector<std::int64_t>({2})}});
  s.run(train, {{a, sf::Tensor::from_vector<std::int32_t>({4, 4})},
                {b, sf::Tensor::from_vector<std::int64_t>({4})}});
  // Step 1: row 0 g = 1, row 2 g = 1 + 2. Step 2: row 4 g = 1 + 1 + 2; rows 0 and 2 keep still.
  const auto v = s.run(emb.value()).to_vector<float>();
  const std::vector<float> want = {-0.1f, -0.1f, 0, 0, -0.3f, -0.3f, 0, 0, -0.4f, -0.4f};
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(v[i], want[i]) << i;
}

// A partitioned table (3 shards of 3, 2, 2 rows, TF's "mod" lookup): each shard's update is sparse
// too, over its own rows. Values from TensorFlow 2.21 (tf.compat.v1, fixed_size_partitioner(3),
// constant_initializer(0.5), loss = reduce_sum(tf.compat.v1.nn.embedding_lookup(emb, ids) *
// [1, -2]), MomentumOptimizer(0.1, 0.9),
// ids [5, 1, 5], [6, 6, 0], [2, 1, 3]): TF runs ResourceSparseApplyMomentum per shard.
TEST_F(GatherTest, SparseMomentumOnAPartitionedTableAsTf) {
  auto emb = sf::get_variable(
      "emb", {7, 2},
      {.initializer = sf::constant_initializer(0.5), .partitioner = sf::fixed_size_partitioner(3)});
  auto ids = sf::placeholder(sf::int64, sf::Shape{3}, "ids");
  auto w = sf::constant(std::vector<float>{1.0f, -2.0f}, {1, 2});
  auto train = sf::train::MomentumOptimizer(0.1, 0.9).minimize(
      sf::reduce_sum(sf::nn::embedding_lookup(emb, ids) * w));
  int sparse = 0;
  for (const auto& op : sf::get_default_graph().operations())
    sparse += op.type() == "_SparseApplyMomentumRows" ? 1 : 0;
  EXPECT_EQ(sparse, 3);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  for (const auto& step : std::vector<std::vector<std::int64_t>>{{5, 1, 5}, {6, 6, 0}, {2, 1, 3}})
    s.run(train, {{ids, sf::Tensor::from_vector<std::int64_t>(step)}});
  const std::vector<std::vector<float>> want = {
      {0.4f, 0.7f, 0.4f, 0.7f, 0.3f, 0.9f}, {0.21f, 1.08f, 0.5f, 0.5f}, {0.4f, 0.7f, 0.3f, 0.9f}};
  for (std::size_t p = 0; p < 3; ++p) {
    const auto got = s.run(emb.partitions()[p].value()).to_vector<float>();
    ASSERT_EQ(got.size(), want[p].size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[p][i], 1e-6f) << "shard " << p << " element " << i;
  }
}

// Rank-2 int64 ids with repeats, two steps: the rows never looked up never move, the others
// move by TF's sparse momentum (accum = 0.9 accum + g; var -= 0.1 accum).
TEST_F(GatherTest, SparseMomentumWithRank2Int64Ids) {
  auto emb = sf::get_variable("emb", {6, 2}, {.initializer = sf::zeros_initializer()});
  auto ids = sf::placeholder(sf::int64, sf::Shape{2, 2}, "ids");
  auto train = sf::train::MomentumOptimizer(0.1, 0.9).minimize(
      sf::reduce_sum(sf::nn::embedding_lookup(emb, ids)));
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(train, {{ids, sf::Tensor::from_vector<std::int64_t>({4, 1, 4, 4}, {2, 2})}});
  s.run(train, {{ids, sf::Tensor::from_vector<std::int64_t>({1, 1, 2, 1}, {2, 2})}});
  const auto v = s.run(emb.value()).to_vector<float>();
  // row 4: g = 3 once (accum 3, var -0.3), then untouched. row 1: g = 1 (accum 1, var -0.1),
  // then g = 3 (accum 3.9, var -0.49). row 2: g = 1 in step 2 (var -0.1). Rows 0, 3, 5: 0.
  EXPECT_FLOAT_EQ(v[8], -0.3f);
  EXPECT_FLOAT_EQ(v[9], -0.3f);
  EXPECT_FLOAT_EQ(v[2], -0.1f - 0.1f * 3.9f);
  EXPECT_FLOAT_EQ(v[4], -0.1f);
  for (int r : {0, 3, 5}) {
    EXPECT_EQ(v[static_cast<std::size_t>(2 * r)], 0.0f) << r;
    EXPECT_EQ(v[static_cast<std::size_t>(2 * r + 1)], 0.0f) << r;
  }
}

// What the review of the first version found: gradients drop what the forward pass drops
// (negative segment ids; out-of-range gather indices, which a GPU gathers as zeros), a scalar
// index's error text, an axis that does not fit, 16-bit float sums, "mod" over uneven shards
// and the strategy ignored for one tensor (both as TF).
TEST_F(GatherTest, EdgeCasesAsTf) {
  auto x = sf::placeholder(sf::float32, {3, 2}, "x");
  auto seg = sf::unsorted_segment_sum(x, sf::constant(std::vector<std::int32_t>{0, -1, 1}, {3}), 2);
  auto gx = sf::gradients(sf::reduce_sum(seg), {x})[0];
  auto p = sf::placeholder(sf::float32, {2, 3}, "p");
  auto gp = sf::gradients(
      sf::reduce_sum(sf::gather(p, sf::constant(std::vector<std::int32_t>{-1, 2, 3}, {3}), 1)),
      {p})[0];
  sf::Session s;
  EXPECT_EQ(s.run(gx).to_vector<float>(), (std::vector<float>{1, 1, 0, 0, 1, 1}));
  // Only index 2 is valid: one per leading row, nothing spilled into the neighbouring row.
  EXPECT_EQ(s.run(gp).to_vector<float>(), (std::vector<float>{0, 0, 1, 0, 0, 1}));
  auto scalar = sf::gather(sf::constant(iota(4), {4}), sf::constant(7));
  EXPECT_NE(error_of([&] { s.run(scalar); }).find("indices = 7 is not in [0, 4)"),
            std::string::npos);
  EXPECT_THROW(sf::gather(sf::constant(iota(4), {2, 2}), sf::constant(0), std::int64_t{1} << 32),
               sf::ValueError);
  auto halves = sf::unsorted_segment_sum(
      sf::cast(sf::constant(std::vector<float>{2048, 1, 1}, {3}), sf::float16),
      sf::constant(std::vector<std::int32_t>{0, 0, 0}, {3}), 1);
  // 2048 + 1 rounds back to 2048 in float16 at each add, as TF's CPU kernel does.
  EXPECT_EQ(s.run(sf::cast(halves, sf::float32)).to_vector<float>(), (std::vector<float>{2048}));
  // "mod" over shards of 2 and 3 rows: id 5 is shard 1's row 2 (TF finds it too).
  std::vector<sf::Output> uneven = {sf::constant(iota(4), {2, 2}),
                                    sf::constant(iota(6, 10), {3, 2})};
  auto e = sf::nn::embedding_lookup(uneven, sf::constant(std::vector<std::int32_t>{5, 0}, {2}));
  EXPECT_EQ(s.run(e).to_vector<float>(), (std::vector<float>{40, 50, 0, 1}));
  EXPECT_NO_THROW(sf::nn::embedding_lookup(uneven[0], sf::constant(0), "range"));
  EXPECT_NE(
      error_of([&] {
        sf::nn::embedding_lookup(uneven, sf::constant(0), "range");
      }).find("Unrecognized partition strategy: range. Must be one of either `mod` or `div`."),
      std::string::npos);
}

// ---------------------------------------------------------------- GPU
#define SKIP_WITHOUT_GPU()                       \
  if (sf::devices::gpu_inventory().gpus.empty()) \
  GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason

// The CUDA kernels against the CPU's: gathers along each axis and of every element size (1, 2, 4
// and 8 bytes), an empty gather, the segment sum of every dtype with negative ids dropped
// (atomics: equal within rounding), embedding rows for both strategies; out-of-range indices
// raise the same error on both.
TEST_F(GatherTest, GpuKernelsMatchTheCpu) {
  auto build = [](const std::string& dev) {
    sf::device d(dev);
    const auto pv = iota(3 * 1001 * 5, 0.25f);
    auto params = sf::constant(pv, {3, 1001, 5});
    std::vector<std::int32_t> idv;
    for (int i = 0; i < 2000; ++i) idv.push_back((i * 7919) % 1001);
    auto idx = sf::constant(idv, {40, 50});
    auto table = sf::constant(pv, {1001, 15});
    // Segment ids with negatives (dropped) among them.
    std::vector<std::int32_t> seg = idv;
    for (std::size_t i = 0; i < seg.size(); i += 7) seg[i] = -1;
    auto segments = sf::constant(seg, {40, 50});
    auto rows = sf::gather(table, idx);  // [40, 50, 15]
    auto as = [](const sf::Output& x, sf::DType t) { return sf::cast(x, t); };
    std::vector<sf::Output> out = {
        sf::gather(params, idx, 1),
        sf::gather(params, idx),  // axis 0: every index past 3 is out of range on the CPU...
        as(sf::gather(as(params, sf::float16), idx, 1), sf::float32),
        as(sf::gather(as(params, sf::float64), idx, 1), sf::float32),
        as(sf::gather(as(sf::floor(params), sf::int8), idx, -2), sf::float32),
        as(sf::gather(as(params, sf::bool_), idx, 1), sf::float32),
        sf::gather(sf::constant(iota(0), {0, 3}), sf::constant(std::vector<std::int32_t>{}, {0})),
        sf::unsorted_segment_sum(rows, segments, 1001),
        as(sf::unsorted_segment_sum(as(sf::floor(rows), sf::int64), segments, 1001), sf::float32),
        as(sf::unsorted_segment_sum(as(sf::floor(rows), sf::int32), segments, 1001), sf::float32),
        as(sf::unsorted_segment_sum(as(rows, sf::float16), segments, 1001), sf::float32),
    };
    std::vector<sf::Output> shards = {sf::constant(iota(8), {4, 2}), sf::constant(iota(6), {3, 2}),
                                      sf::constant(iota(6), {3, 2})};
    auto ids = sf::constant(sf::Tensor::from_vector<std::int64_t>({9, 0, 4, 7, 5}, {5}));
    out.push_back(sf::nn::embedding_lookup(shards, ids, "mod"));
    out.push_back(sf::nn::embedding_lookup(shards, ids, "div"));
    return out;
  };
  std::vector<sf::Output> cpu, gpu;
  {
    sf::Graph g;
    auto as = g.as_default();
    cpu = build("/device:CPU:0");
    gpu = build("/device:GPU:0");
    sf::Session s(sf::SessionOptions{.allow_soft_placement = false}, g);
    // ...so the axis-0 gather (output 1) fails on either device, with the same message: the
    // first index out of range is element 1 (7919 % 1001 = 912).
    std::vector<sf::Output> cpu_ok = cpu, gpu_ok = gpu;
    cpu_ok.erase(cpu_ok.begin() + 1);
    gpu_ok.erase(gpu_ok.begin() + 1);
    const std::string first_bad = "indices[0,1] = 912 is not in [0, 3)";
    EXPECT_NE(error_of([&] { s.run(cpu[1]); }).find(first_bad), std::string::npos);
    auto rc = s.run(cpu_ok);  // the CPU half runs everywhere
    SKIP_WITHOUT_GPU();
    EXPECT_NE(error_of([&] { s.run(gpu[1]); }).find(first_bad), std::string::npos);
    auto rg = s.run(gpu_ok);
    for (std::size_t i = 0; i < rc.size(); ++i) {
      auto a = rc[i].to_vector<float>();
      auto b = rg[i].to_vector<float>();
      ASSERT_EQ(a.size(), b.size()) << i;
      for (std::size_t k = 0; k < a.size(); ++k)
        // float16 sums round per add in either order: allow their last bit or two.
        ASSERT_NEAR(a[k], b[k], (i == 9 ? 2e-2 : 1e-5) * std::abs(a[k]) + 1e-6)
            << "output " << i << " @" << k;
    }
  }
}

// A GPU kernel cannot raise without waiting for its stream: its out-of-range indices are reported
// after the step (kernels::DeferredCheck) with the CPU's message, the first in index order, in
// ordinary runs and in CUDA-graph replays alike, and the session stays usable.
TEST_F(GatherTest, GpuOutOfRangeIndicesAreErrorsAfterTheStep) {
  struct Case {
    const char* device;
    bool graphs;
  };
  for (const Case& c :
       {Case{"/device:CPU:0", false}, Case{"/device:GPU:0", false}, Case{"/device:GPU:0", true}}) {
    const bool gpu = std::string(c.device) != "/device:CPU:0";
    if (gpu && sf::devices::gpu_inventory().gpus.empty())
      GTEST_SKIP() << "GPU:0 unavailable (the CPU case ran): "
                   << sf::devices::gpu_inventory().unavailable_reason;
    const bool graphs = c.graphs;
    SCOPED_TRACE(std::string(c.device) + (graphs ? ", CUDA graphs" : ""));
    sf::Graph g;
    auto as = g.as_default();
    sf::device d(c.device);
    auto ids = sf::placeholder(sf::int32, {2, 3}, "ids");
    auto rows = sf::gather(sf::constant(iota(10), {5, 2}), ids);                  // [2, 3, 2]
    auto sums = sf::unsorted_segment_sum(sf::constant(iota(6), {2, 3}), ids, 5);  // [5]
    std::vector<sf::Output> shards = {sf::constant(iota(6), {3, 2}), sf::constant(iota(4), {2, 2})};
    auto looked = sf::nn::embedding_lookup(shards, ids, "div");  // 5 ids
    auto total = sf::reduce_sum(rows) + sf::reduce_sum(sums) + sf::reduce_sum(looked);
    sf::Session s({.allow_soft_placement = false, .use_cuda_graphs = graphs}, g);
    auto feed = [&](std::vector<std::int32_t> v) {
      return sf::FeedDict{{ids, sf::Tensor::from_vector<std::int32_t>(v, {2, 3})}};
    };
    // Gathered rows sum to 4r + 1 (62), the segments to the data's sum (15), the looked-up
    // rows of the concatenated shards ([0,1] [2,3] [4,5] [0,1] [2,3]) to 26.
    const std::vector<std::int32_t> good = {4, 3, 2, 1, 0, 4};
    for (int i = 0; i < 3; ++i) EXPECT_EQ(s.run(total, feed(good)).scalar<float>(), 62 + 15 + 26);
    if (gpu && graphs) {
      EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
    }
    // 7 and 5 are out of range; 7 comes first.
    const std::string msg = error_of([&] { s.run(total, feed({0, 7, 1, 5, 2, 3})); });
    EXPECT_TRUE(msg.find("indices[0,1] = 7 is not in [0, 5)") != std::string::npos ||
                msg.find("segment_ids[0,1] = 7 is out of range [0, 5)") != std::string::npos ||
                msg.find("ids[0,1] = 7 is not in [0, 5)") != std::string::npos)
        << msg;
    EXPECT_NE(error_of([&] {
                s.run(rows, feed({0, 1, 2, 3, 4, -1}));
              }).find("indices[1,2] = -1 is not in [0, 5)"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                s.run(sums, feed({0, 1, 2, 3, 4, 9}));
              }).find("segment_ids[1,2] = 9 is out of range [0, 5)"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                s.run(looked, feed({0, 1, 2, 3, 6, 4}));
              }).find("ids[1,1] = 6 is not in [0, 5)"),
              std::string::npos);
    // Negative segment ids are dropped, not errors (TF).
    EXPECT_EQ(s.run(sums, feed({0, 1, 2, -1, -1, -1})).to_vector<float>(),
              (std::vector<float>{0, 1, 2, 0, 0}));
    EXPECT_EQ(s.run(total, feed(good)).scalar<float>(), 62 + 15 + 26);
  }
}

// The deferred checks hold no input: a CUDA-graph plan that gathers by a variable's indices (a
// buffer the step reads in place) replays step after step, and a bad index assigned to the
// variable is still reported.
TEST_F(GatherTest, GpuGatherByAVariableReplays) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  sf::device d("/device:GPU:0");
  auto ids = sf::get_variable("ids", {3},
                              {.dtype = sf::int32, .initializer = sf::constant_initializer(1.0)});
  auto rows = sf::gather(sf::constant(iota(10), {5, 2}), ids.value());
  auto total = sf::reduce_sum(rows);
  sf::Session s({.allow_soft_placement = false, .use_cuda_graphs = true});
  s.run(sf::global_variables_initializer());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.run(total).scalar<float>(), 3 * 5);  // rows [2, 3]
  EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
  s.run(ids.assign(sf::constant(std::vector<std::int32_t>{0, 9, 4}, {3})));
  EXPECT_NE(error_of([&] { s.run(total); }).find("indices[1] = 9 is not in [0, 5)"),
            std::string::npos);
}

}  // namespace
