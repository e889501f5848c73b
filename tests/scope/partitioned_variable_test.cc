// Partitioned variables (CONFORMANCE.md case 91, TF's PartitionedVariablesTestCase and
// partitioned_variables_test.py): the three partitioners' counts and errors, shard names and
// shapes, scope inheritance and overrides, reuse and TF's mismatch errors, training through
// the concatenated value, each shard's SaveSliceInfo (and its optimizer slots'), and the Saver:
// a partitioned variable saved whole (as TF saves it) and restored into another partitioning,
// none, or from a file written shard by shard.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Counts = std::vector<std::int64_t>;

class PartitionedVariableTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::vector<std::string> names(const std::vector<sf::Variable>& vars) {
  std::vector<std::string> out;
  for (const auto& v : vars) out.push_back(v.name());
  return out;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sf::ValueError& e) {
    return e.what();
  }
  return "(no ValueError)";
}

// CONFORMANCE 91: testResultNameMatchesRequested.
TEST_F(PartitionedVariableTest, ResultNameMatchesRequested) {
  sf::variable_scope s("scope0", {.partitioner = sf::fixed_size_partitioner(2)});
  sf::Variable v = sf::get_variable("name0", {3, 1, 1});
  EXPECT_TRUE(v.is_partitioned());
  EXPECT_EQ(v.name(), "scope0/name0");
  EXPECT_EQ(v.value().name(), "scope0/name0:0");
  EXPECT_EQ(v.shape(), (sf::Shape{3, 1, 1}));
  EXPECT_EQ(v.partition_counts(), (Counts{2, 1, 1}));
  EXPECT_EQ(names(v.partitions()),
            (std::vector<std::string>{"scope0/name0/part_0:0", "scope0/name0/part_1:0"}));
  EXPECT_EQ(names(sf::global_variables()),
            (std::vector<std::string>{"scope0/name0/part_0:0", "scope0/name0/part_1:0"}));
  EXPECT_EQ(names(sf::trainable_variables()), names(sf::global_variables()));
  // A scalar shape ignores the partitioner.
  sf::Variable scalar = sf::get_variable("name1", {});
  EXPECT_FALSE(scalar.is_partitioned());
  EXPECT_EQ(scalar.name(), "scope0/name1:0");
}

TEST_F(PartitionedVariableTest, UnevenShardShapesAndValues) {
  sf::Variable v = sf::get_variable("w", {7, 3},
                                    {.initializer = sf::constant_initializer(0.5f),
                                     .partitioner = sf::fixed_size_partitioner(3)});
  const auto parts = v.partitions();
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].shape(), (sf::Shape{3, 3}));
  EXPECT_EQ(parts[1].shape(), (sf::Shape{2, 3}));
  EXPECT_EQ(parts[2].shape(), (sf::Shape{2, 3}));
  EXPECT_EQ(parts[0].op().name(), "w/part_0");
  // The initializer ran per shard, under the shard's own Initializer scope.
  EXPECT_EQ(parts[1].initial_value().op().name().rfind("w/part_1/Initializer/", 0), 0u)
      << parts[1].initial_value().op().name();
  sf::Session s;
  s.run(sf::global_variables_initializer());
  sf::Tensor t = s.run(v);
  EXPECT_EQ(t.shape(), (sf::Shape{7, 3}));
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(21, 0.5f));

  // Along axis 1: 5 columns into 2 -> 3, 2; the value concatenates along axis 1.
  sf::Variable c = sf::get_variable(
      "c", {2, 5},
      {.initializer = sf::constant(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, 5}),
       .partitioner = sf::fixed_size_partitioner(2, 1)});
  EXPECT_EQ(c.partition_axis(), 1);
  EXPECT_EQ(c.partitions()[0].shape(), (sf::Shape{2, 3}));
  EXPECT_EQ(c.partitions()[1].shape(), (sf::Shape{2, 2}));
  s.run(c.initializer());
  EXPECT_EQ(s.run(c.partitions()[1]).to_vector<float>(), (std::vector<float>{3, 4, 8, 9}));
  EXPECT_EQ(s.run(c).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(PartitionedVariableTest, FixedSizePartitioner) {
  const auto p = sf::fixed_size_partitioner(4);
  EXPECT_EQ(p({10, 3}, sf::float32), (Counts{4, 3 / 3}));
  EXPECT_EQ(p({2, 3}, sf::float32), (Counts{2, 1}));  // no more shards than rows
  EXPECT_EQ(sf::fixed_size_partitioner(2, 1)({4, 6}, sf::float32), (Counts{1, 2}));
  EXPECT_EQ(sf::fixed_size_partitioner(2, -1)({4, 6}, sf::float32), (Counts{1, 2}));
  EXPECT_THROW(sf::fixed_size_partitioner(2, 2)({4, 6}, sf::float32), sf::ValueError);
  // num_shards 0: get_variable rejects the list, naming the variable.
  EXPECT_EQ(
      error_of([] { sf::get_variable("z", {4}, {.partitioner = sf::fixed_size_partitioner(0)}); }),
      "Partitioner returned zero partitions for some axes: [0] (variable z)");
}

TEST_F(PartitionedVariableTest, VariableAxisSizePartitioner) {
  // 1000 x 64 float32: a row is 256 bytes; 4096-byte shards hold 16 rows -> 63 shards.
  EXPECT_EQ(sf::variable_axis_size_partitioner(4096)({1000, 64}, sf::float32), (Counts{63, 1}));
  EXPECT_EQ(sf::variable_axis_size_partitioner(4096, 0, 16, 10)({1000, 64}, sf::float32),
            (Counts{10, 1}));
  // max_shards 0 means no limit, as TF's `if max_shards:`.
  EXPECT_EQ(sf::variable_axis_size_partitioner(4096, 0, 16, 0)({1000, 64}, sf::float32),
            (Counts{63, 1}));
  // A slice bigger than a shard is a shard of its own.
  EXPECT_EQ(sf::variable_axis_size_partitioner(1)({5, 64}, sf::float32), (Counts{5, 1}));
  // Along axis 1; strings count bytes_per_string_element each.
  EXPECT_EQ(sf::variable_axis_size_partitioner(64, 1)({4, 8}, sf::float32), (Counts{1, 2}));
  EXPECT_EQ(sf::variable_axis_size_partitioner(64, 0, 32)({8, 1}, sf::string), (Counts{4, 1}));
  EXPECT_EQ(error_of([] { sf::variable_axis_size_partitioner(0); }),
            "Both max_shard_bytes and bytes_per_string_element must be positive. Currently, "
            "max_shard_bytes is 0 andbytes_per_string_element is 16");
  EXPECT_EQ(error_of([] { sf::variable_axis_size_partitioner(10, 0, 0); }),
            "Both max_shard_bytes and bytes_per_string_element must be positive. Currently, "
            "max_shard_bytes is 10 andbytes_per_string_element is 0");
  EXPECT_EQ(error_of([] { sf::variable_axis_size_partitioner(10, 0, 16, -1); }),
            "max_shards must be positive.");
  EXPECT_EQ(error_of([] {
              sf::variable_axis_size_partitioner(10)(sf::Shape{-1, 2}, sf::float32);
            }),
            "shape is not fully defined: [?,2]");
}

TEST_F(PartitionedVariableTest, MinMaxVariablePartitioner) {
  // TF's docstring example: 1024 x 1024 float32 is 4 MiB = 16 slices of 256 KiB.
  EXPECT_EQ(sf::min_max_variable_partitioner(32)({1024, 1024}, sf::float32), (Counts{16, 1}));
  EXPECT_EQ(sf::min_max_variable_partitioner(8)({1024, 1024}, sf::float32), (Counts{8, 1}));
  EXPECT_EQ(sf::min_max_variable_partitioner()({1024, 1024}, sf::float32), (Counts{1, 1}));
  // Not more shards than rows; at least one.
  EXPECT_EQ(sf::min_max_variable_partitioner(100, 0, 4)({3, 100}, sf::float32), (Counts{3, 1}));
  EXPECT_EQ(sf::min_max_variable_partitioner(100, 0)({3, 4}, sf::float32), (Counts{1, 1}));
  EXPECT_EQ(sf::min_max_variable_partitioner(100, 1, 16)({2, 10}, sf::float32), (Counts{1, 5}));
  EXPECT_EQ(sf::min_max_variable_partitioner(100, 0, 16, 4)({8}, sf::string), (Counts{2}));
  EXPECT_EQ(error_of([] {
              sf::min_max_variable_partitioner(2, 2)({3, 4}, sf::float32);
            }),
            "Can not partition variable along axis 2 when shape is only [3,4]");
  EXPECT_THROW(sf::min_max_variable_partitioner(2, 0, 0), sf::ValueError);
}

TEST_F(PartitionedVariableTest, PartitionerValidation) {
  auto fixed = [](Counts c) { return [c](const sf::Shape&, sf::DType) { return c; }; };
  EXPECT_EQ(error_of([&] {
              sf::get_variable("a", {4, 2}, {.partitioner = fixed({2})});
            }),
            "Partitioner returned a partition list that does not match the Variable's rank: "
            "[2] vs. [4,2] (variable a)");
  EXPECT_EQ(error_of([&] {
              sf::get_variable("b", {4, 2}, {.partitioner = fixed({2, 2})});
            }),
            "Can only slice a variable along one dimension: shape: [4,2], partitioning: [2, 2] "
            "(variable b)");
  EXPECT_EQ(error_of([&] {
              sf::get_variable("c", {.initializer = sf::constant(1.f), .partitioner = fixed({})});
            }),
            "A partitioned Variable must have rank at least 1, shape: [] (variable c)");
  EXPECT_EQ(error_of([&] { sf::get_variable("d", {.partitioner = fixed({1})}); }),
            "Shape of a new partitioned variable must be fully defined, but instead was "
            "<unknown>. (variable d)");
  // A partitioner's own error names the variable too.
  EXPECT_EQ(error_of([] {
              sf::get_variable("e", {3}, {.partitioner = sf::min_max_variable_partitioner(2, 1)});
            }),
            "Can not partition variable along axis 1 when shape is only [3] (variable e)");
  EXPECT_TRUE(sf::global_variables().empty());
  // All ones: one shard "f/part_0"; the value is an Identity named "f".
  sf::Variable f = sf::get_variable("f", {4, 2}, {.partitioner = fixed({1, 1})});
  EXPECT_EQ(names(f.partitions()), (std::vector<std::string>{"f/part_0:0"}));
  EXPECT_EQ(f.value().op().type(), "Identity");
  EXPECT_EQ(f.value().name(), "f:0");
}

TEST_F(PartitionedVariableTest, InheritedOverriddenAndReentered) {
  sf::VariableScope kept;
  {
    sf::variable_scope outer("outer", {.partitioner = sf::fixed_size_partitioner(2)});
    kept = outer.get();
    EXPECT_TRUE(static_cast<bool>(outer->partitioner()));
    {
      sf::variable_scope child("child");
      EXPECT_EQ(sf::get_variable("v", {4}).partitions().size(), 2u);
    }
    // get_variable's partitioner overrides the scope's.
    EXPECT_EQ(sf::get_variable("w", {6}, {.partitioner = sf::fixed_size_partitioner(3)})
                  .partitions()
                  .size(),
              3u);
    {
      sf::variable_scope over("over", {.partitioner = sf::fixed_size_partitioner(4)});
      EXPECT_EQ(sf::get_variable("v", {8}).partitions().size(), 4u);
    }
  }
  // Outside: no partitioner.
  EXPECT_FALSE(sf::get_variable("plain", {4}).is_partitioned());
  {
    sf::variable_scope again(kept);
    EXPECT_EQ(sf::get_variable("x", {4}).partitions().size(), 2u);
    again->set_partitioner(nullptr);
    EXPECT_FALSE(sf::get_variable("y", {4}).is_partitioned());
    again->set_partitioner(sf::fixed_size_partitioner(4));
    EXPECT_EQ(sf::get_variable("z", {4}).partitions().size(), 4u);
  }
  EXPECT_EQ(names(sf::global_variables("outer/child")),
            (std::vector<std::string>{"outer/child/v/part_0:0", "outer/child/v/part_1:0"}));
}

TEST_F(PartitionedVariableTest, ReuseAndMismatchErrors) {
  const auto into2 = sf::fixed_size_partitioner(2);
  sf::Variable v;
  {
    sf::variable_scope s("scope0", {.partitioner = into2});
    v = sf::get_variable("name0", {3, 1, 1});
    // testReturnsExistingConcatenatedValueIfReuse
    sf::get_variable_scope().reuse_variables();
    EXPECT_TRUE(sf::get_variable("name0", {3, 1, 1}) == v);
  }
  {  // AUTO_REUSE, and reuse=true without a partitioner (testAllowsReuseWithoutPartitioner)
    sf::variable_scope s("scope0", {.reuse = sf::AUTO_REUSE, .partitioner = into2});
    EXPECT_TRUE(sf::get_variable("name0", {3, 1, 1}) == v);
  }
  {
    sf::variable_scope s("scope0", {.reuse = true});
    EXPECT_TRUE(sf::get_variable("name0", {3, 1, 1}) == v);
    EXPECT_EQ(error_of([] {
                sf::get_variable("name0", {4, 1, 1});
              }),
              "Trying to reuse partitioned variable scope0/name0, but specified shape [4,1,1] "
              "and found shape [3,1,1].");
    EXPECT_EQ(error_of([] {
                sf::get_variable("name0", {3, 1, 1}, {.dtype = sf::int32});
              }),
              "Trying to reuse partitioned variable scope0/name0, but specified dtype int32 and "
              "found dtype float32.");
  }
  {  // testBreaksIfPartitioningChanges
    sf::variable_scope s("scope0", {.reuse = true, .partitioner = sf::fixed_size_partitioner(3)});
    EXPECT_EQ(error_of([] {
                sf::get_variable("name0", {3, 1, 1});
              }),
              "Trying to reuse partitioned variable scope0/name0, but specified partitions "
              "[3, 1, 1] and found partitions [2, 1, 1].");
  }
  {
    sf::variable_scope s("scope0", {.reuse = true, .partitioner = sf::fixed_size_partitioner(1)});
    EXPECT_NE(error_of([] {
                sf::get_variable("name0", {3, 1, 1});
              }).find("but specified partitions [1, 1, 1] and found partitions [2, 1, 1]"),
              std::string::npos);
  }
  {
    sf::variable_scope s("scope0", {.partitioner = into2});
    EXPECT_EQ(error_of([] {
                sf::get_variable("name0", {3, 1, 1});
              }),
              "Partitioned variable with name scope0/name0 already exists. Did you mean to set "
              "reuse=true or reuse=sf::AUTO_REUSE in variable_scope?");
  }
  {
    sf::variable_scope s("scope0");
    sf::get_variable("plain", {4});
    // A plain variable where a partitioned one exists (not reuse=true).
    EXPECT_EQ(error_of([] {
                sf::get_variable("name0", {3, 1, 1});
              }),
              "No partitioner was provided, but a partitioned version of the variable was "
              "found: scope0/name0/part_0. Perhaps a variable of the same name was already "
              "created with partitioning?");
    // A partitioned variable where a plain one exists.
    EXPECT_EQ(error_of([&] { sf::get_variable("plain", {4}, {.partitioner = into2}); }),
              "A partitioner was provided, but an unpartitioned version of the variable was "
              "found: scope0/plain.  Perhaps a variable of the same name was already created "
              "without partitioning?");
  }
  {
    sf::variable_scope s("scope1", {.reuse = true, .partitioner = into2});
    EXPECT_EQ(error_of([] { sf::get_variable("nope", {4}); }),
              "PartitionedVariable scope1/nope does not exist, or was not created with "
              "get_variable(). Did you mean to set reuse=false or reuse=sf::AUTO_REUSE in "
              "variable_scope?");
  }
  // Shards that exist without their partitioned variable, in a different number.
  sf::get_variable("odd/part_0", {2});
  EXPECT_NE(error_of([&] { sf::get_variable("odd", {4}, {.partitioner = into2}); })
                .find("Partitioner returned 2 shards, and shard odd/part_0 was found, but "
                      "odd/part_1 was not."),
            std::string::npos);
  // Plain accessors that a partitioned variable lacks are ValueErrors naming it.
  EXPECT_EQ(error_of([&] { v.op(); }),
            "Variable scope0/name0 is partitioned: it has no single op; use partitions() for "
            "its shards");
  EXPECT_THROW(v.ref(), sf::ValueError);
  EXPECT_THROW(v.device(), sf::ValueError);
  EXPECT_EQ(sf::global_variables().size(), 4u);  // 2 shards, plain, odd/part_0
}

TEST_F(PartitionedVariableTest, RegularizerPerShardAndRandomInitFans) {
  sf::Regularizer r = [](const sf::Output& w) { return sf::reduce_sum(w); };
  sf::variable_scope s("reg", {.regularizer = r, .partitioner = sf::fixed_size_partitioner(2)});
  sf::Variable v = sf::get_variable("v", {3, 2}, {.initializer = sf::ones_initializer()});
  auto losses = sf::get_collection<sf::Output>(sf::GraphKeys::REGULARIZATION_LOSSES);
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_EQ(losses[1].op().name().rfind("reg/v/part_1/Regularizer/", 0), 0u)
      << losses[1].op().name();
  // glorot_uniform on shards uses the full shape's fans: limit sqrt(6 / (100 + 1)).
  sf::Variable g = sf::get_variable(
      "g", {100, 1},
      {.initializer = sf::glorot_uniform_initializer(7), .regularizer = sf::no_regularizer});
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_FLOAT_EQ(sess.run(losses[0]).scalar<float>(), 4.f);
  EXPECT_FLOAT_EQ(sess.run(losses[1]).scalar<float>(), 2.f);
  const float limit = std::sqrt(6.f / 101.f);
  float max_abs = 0;
  for (float x : sess.run(g).to_vector<float>()) max_abs = std::max(max_abs, std::abs(x));
  EXPECT_LE(max_abs, limit);
  // A shard's own fans ([50, 1]) would draw from the wider +-sqrt(6 / 51).
  EXPECT_GT(max_abs, 0.6f * limit);
}

// NOTE: as in TF, a seeded random initializer is called once per shard with the same seed,
// so shards of equal shape start equal.
TEST_F(PartitionedVariableTest, SeededRandomInitializerRepeatsPerShard) {
  sf::Variable w = sf::get_variable("w", {4, 3},
                                    {.initializer = sf::random_normal_initializer(0, 1, 5),
                                     .partitioner = sf::fixed_size_partitioner(2)});
  sf::Session s;
  s.run(w.initializer());
  const auto a = s.run(w.partitions()[0]).to_vector<float>();
  EXPECT_EQ(a, s.run(w.partitions()[1]).to_vector<float>());
  EXPECT_NE(a[0], a[1]);
}

// One SGD step on a partitioned weight equals the step on the same unpartitioned weight.
TEST_F(PartitionedVariableTest, TrainingUpdatesEveryShardLikeUnpartitioned) {
  const std::vector<float> w0 = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, 0.8f, -0.9f, 1.0f};
  const std::vector<float> xv = {1, 2, 3, 4, 5, -1, 0.5f, 2, -2, 1};
  auto run = [&](bool partitioned) {
    sf::reset_default_graph();
    auto x = sf::constant(xv, {2, 5});
    sf::Variable w = sf::get_variable(
        "w", {.initializer = sf::constant(w0, {5, 2}),
              .partitioner = partitioned ? sf::fixed_size_partitioner(3) : sf::Partitioner()});
    EXPECT_EQ(w.is_partitioned(), partitioned);
    auto y = sf::matmul(x, w);
    auto loss = sf::reduce_sum(y * y);
    auto train = sf::train::GradientDescentOptimizer(0.01).minimize(loss);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    s.run(train);
    std::vector<float> shards;
    for (const auto& p : w.partitions())
      for (float f : s.run(p).to_vector<float>()) shards.push_back(f);
    EXPECT_EQ(shards, s.run(w).to_vector<float>());
    return shards;
  };
  const auto plain = run(false);
  const auto parted = run(true);
  ASSERT_EQ(plain.size(), parted.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    EXPECT_NEAR(plain[i], parted[i], 1e-5) << i;
    EXPECT_NE(parted[i], w0[i]) << i;  // every shard moved
  }
  // compute_gradients with the partitioned variable in var_list: one pair per shard.
  sf::reset_default_graph();
  sf::Variable w = sf::get_variable("w", {5, 2}, {.partitioner = sf::fixed_size_partitioner(2)});
  auto gv =
      sf::train::GradientDescentOptimizer(0.1).compute_gradients(sf::reduce_sum(w.value()), {{w}});
  ASSERT_EQ(gv.size(), 2u);
  EXPECT_EQ(gv[1].second.name(), "w/part_1:0");
}

TEST_F(PartitionedVariableTest, AssignSplitsAcrossShards) {
  sf::Variable w = sf::get_variable("w", {3, 2}, {.partitioner = sf::fixed_size_partitioner(2)});
  sf::Session s;
  s.run(w.initializer());
  const std::vector<float> vals = {1, 2, 3, 4, 5, 6};
  auto a = w.assign(sf::constant(vals, {3, 2}));
  EXPECT_EQ(s.run(a).to_vector<float>(), vals);
  EXPECT_EQ(s.run(w.partitions()[1]).to_vector<float>(), (std::vector<float>{5, 6}));
  EXPECT_THROW(w.assign(sf::constant(vals, {2, 3})), sf::ValueError);
}

// The grouped initializer is made with the variable, not under whatever control dependencies
// or name scope are active when initializer() is first asked for.
TEST_F(PartitionedVariableTest, InitializerIgnoresTheCallersControlDependencies) {
  sf::Variable w = sf::get_variable("w", {4, 2}, {.partitioner = sf::fixed_size_partitioner(2)});
  auto x = sf::identity(sf::constant(1.0f), "x");
  sf::Operation init;
  {
    sf::control_dependencies deps({x.op()});
    sf::name_scope ns("elsewhere");
    init = w.initializer();
  }
  for (const auto& c : init.control_inputs()) EXPECT_NE(c.name(), "x");
  EXPECT_EQ(init.name().rfind("elsewhere", 0), std::string::npos) << init.name();
  EXPECT_EQ(init.name(), w.initializer().name());
}

// The tensor names in a safetensors file (its JSON header's keys, less the metadata).
std::vector<std::string> checkpoint_keys(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint64_t n = 0;
  unsigned char len[8] = {};
  in.read(reinterpret_cast<char*>(len), 8);
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  std::vector<std::string> keys;
  const nlohmann::json parsed = nlohmann::json::parse(header);
  for (auto it = parsed.begin(); it != parsed.end(); ++it)
    if (it.key() != "__metadata__") keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  return keys;
}

sf::Variable variable_named(const std::string& name) {
  for (const auto& v : sf::global_variables())
    if (v.op().name() == name) return v;
  ADD_FAILURE() << "no variable " << name;
  return sf::global_variables().front();
}

// TF's SaveSliceInfo: each shard's place in the whole, and its optimizer slots' (slot_creator:
// "emb/part_1/Adam" is a slice of "emb/Adam").
TEST_F(PartitionedVariableTest, ShardsKnowTheirSliceOfTheWhole) {
  sf::Variable w = sf::get_variable("emb", {7, 3}, {.partitioner = sf::fixed_size_partitioner(3)});
  const auto parts = w.partitions();
  ASSERT_EQ(parts.size(), 3u);
  const std::vector<Counts> offsets = {{0, 0}, {3, 0}, {5, 0}}, shapes = {{3, 3}, {2, 3}, {2, 3}};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& info = parts[i].save_slice_info();
    ASSERT_TRUE(info.has_value()) << i;
    EXPECT_EQ(info->full_name, "emb");
    EXPECT_EQ(info->full_shape, sf::Shape({7, 3}));
    EXPECT_EQ(info->var_offset, offsets[i]) << i;
    EXPECT_EQ(info->var_shape, shapes[i]) << i;
  }
  EXPECT_FALSE(w.save_slice_info().has_value());
  sf::Variable plain = sf::get_variable("plain", {2});
  EXPECT_FALSE(plain.save_slice_info().has_value());
  // A slice that does not fit is refused, naming the variable.
  EXPECT_NE(error_of([&] {
              plain.set_save_slice_info({"whole", sf::Shape({3}), {2}, {2}});
            }).find("plain"),
            std::string::npos);
  EXPECT_THROW(w.set_save_slice_info({"x", sf::Shape({7, 3}), {0, 0}, {7, 3}}), sf::ValueError);

  auto loss = sf::reduce_sum(sf::square(sf::matmul(sf::ones({1, 7}), w)));
  (void)sf::train::AdamOptimizer(0.1).minimize(loss);
  for (const char* slot : {"Adam", "Adam_1"}) {
    const auto& info = variable_named(sf::str_cat("emb/part_1/", slot)).save_slice_info();
    ASSERT_TRUE(info.has_value()) << slot;
    EXPECT_EQ(info->full_name, sf::str_cat("emb/", slot));
    EXPECT_EQ(info->var_offset, offsets[1]);
  }
  EXPECT_FALSE(variable_named("beta1_power").save_slice_info().has_value());
}

// The Saver writes a partitioned variable and its Adam slots whole ("emb", "emb/Adam"), as TF
// does, and restores them into another partitioning (another axis and count) or none: one more
// Adam step then gives the same weights as the uninterrupted run.
TEST_F(PartitionedVariableTest, SaverWritesWholeVariablesAndRestoresAnyPartitioning) {
  const fs::path dir = fs::temp_directory_path() / ("sf_whole_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::vector<float> w0(24), xv(8);
  for (std::size_t i = 0; i < w0.size(); ++i) w0[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = 0.5f * static_cast<float>(i % 3) - 0.4f;
  struct Model {
    sf::Variable w;
    sf::Operation train;
    std::unique_ptr<sf::Session> s;
  };
  auto build = [&](const sf::Partitioner& part, sf::Shape shape = {4, 6}) {
    sf::reset_default_graph();
    Model m;
    std::vector<float> init(static_cast<std::size_t>(shape.num_elements()), 0.25f);
    if (shape == sf::Shape({4, 6})) init = w0;
    m.w = sf::get_variable("emb", {.initializer = sf::constant(init, shape), .partitioner = part});
    auto x = sf::constant(xv, {2, 4});
    auto loss = sf::reduce_sum(sf::square(sf::matmul(x, m.w)));
    m.train = sf::train::AdamOptimizer(0.1).minimize(loss);
    m.s = std::make_unique<sf::Session>();
    return m;
  };
  // Three shards along axis 1, one step, saved; then a second step.
  Model a = build(sf::fixed_size_partitioner(3, 1));
  ASSERT_EQ(a.w.partitions().size(), 3u);
  a.s->run(sf::global_variables_initializer());
  a.s->run(a.train);
  const auto after_one = a.s->run(a.w).to_vector<float>();
  sf::train::Saver saver;
  const std::string path = saver.save(*a.s, (dir / "ckpt").string());
  const std::vector<std::string> want_keys = {"beta1_power", "beta2_power", "emb", "emb/Adam",
                                              "emb/Adam_1"};
  EXPECT_EQ(checkpoint_keys(path), want_keys);
  a.s->run(a.train);
  const auto after_two = a.s->run(a.w).to_vector<float>();

  auto check_resumes = [&](Model m, const char* what) {
    sf::train::Saver().restore(*m.s, path);
    EXPECT_EQ(m.s->run(m.w).to_vector<float>(), after_one) << what;
    m.s->run(m.train);
    const auto got = m.s->run(m.w).to_vector<float>();
    ASSERT_EQ(got.size(), after_two.size()) << what;
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], after_two[i], 1e-5) << what << " @" << i;
  };
  check_resumes(build(sf::Partitioner()), "unpartitioned");
  check_resumes(build(sf::fixed_size_partitioner(2)), "two shards along axis 0");
  check_resumes(build(sf::fixed_size_partitioner(4, 1)), "four shards along axis 1");

  // The whole variable's shape must match, whatever the partitioning; the error names it.
  Model wrong = build(sf::fixed_size_partitioner(2), sf::Shape({4, 5}));
  try {
    sf::train::Saver().restore(*wrong.s, path);
    ADD_FAILURE() << "restored a [4,6] checkpoint into [4,5]";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("emb has shape [4,6] in the file"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

// A file written shard by shard (ScopeFlow before whole-variable entries, here two plain
// variables named like the shards) restores into the partitioned variable with those shards.
TEST_F(PartitionedVariableTest, RestoresFilesWrittenShardByShard) {
  const fs::path dir = fs::temp_directory_path() / ("sf_shards_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  sf::Variable p0 = sf::get_variable(
      "emb/part_0", {.initializer = sf::constant(std::vector<float>{1, 2, 3, 4}, {2, 2})});
  sf::Variable p1 = sf::get_variable(
      "emb/part_1", {.initializer = sf::constant(std::vector<float>{5, 6}, {1, 2})});
  std::string path;
  {
    sf::Session s;
    s.run(sf::global_variables_initializer());
    path = sf::train::Saver().save(s, (dir / "old").string());
  }
  EXPECT_EQ(checkpoint_keys(path), (std::vector<std::string>{"emb/part_0", "emb/part_1"}));
  sf::reset_default_graph();
  sf::Variable w = sf::get_variable("emb", {3, 2}, {.partitioner = [](const sf::Shape&, sf::DType) {
                                      return Counts{2, 1};
                                    }});
  ASSERT_EQ(w.partitions().size(), 2u);
  sf::Session s;
  sf::train::Saver().restore(s, path);
  EXPECT_EQ(s.run(w).to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  fs::remove_all(dir);
}

TEST_F(PartitionedVariableTest, SaverRoundTripOfShards) {
  const fs::path dir = fs::temp_directory_path() / ("sf_part_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  sf::Variable w = sf::get_variable("emb", {5, 2},
                                    {.initializer = sf::random_uniform_initializer(-1, 1, 3),
                                     .partitioner = sf::fixed_size_partitioner(2)});
  sf::Session s1;
  s1.run(sf::global_variables_initializer());
  sf::train::Saver saver;
  const std::string path = saver.save(s1, (dir / "ckpt").string());
  sf::train::Saver by_list({.var_list = std::vector<sf::Variable>{w}});
  const std::string path2 = by_list.save(s1, (dir / "ckpt_list").string());
  sf::Session s2;
  EXPECT_THROW(s2.run(w), sf::FailedPreconditionError);
  saver.restore(s2, path);
  EXPECT_EQ(s2.run(w).to_vector<float>(), s1.run(w).to_vector<float>());
  sf::Session s3;
  by_list.restore(s3, path2);
  EXPECT_EQ(s3.run(w.partitions()[1]).to_vector<float>(),
            s1.run(w.partitions()[1]).to_vector<float>());
  // A var_list naming one shard reads its slice of the whole variable the file holds (as TF
  // reads a slice); naming a shard twice, or a variable and its own shard, is refused as TF's
  // "At least two variables have the same name" (the whole would be filled twice in one
  // slice and left unwritten in the other).
  sf::Session s4;
  sf::train::Saver one_shard({.var_list = std::vector<sf::Variable>{w.partitions()[1]}});
  one_shard.restore(s4, path);
  EXPECT_EQ(s4.run(w.partitions()[1]).to_vector<float>(),
            s1.run(w.partitions()[1]).to_vector<float>());
  EXPECT_THROW(s4.run(w.partitions()[0]), sf::FailedPreconditionError);
  for (const auto& twice : {std::vector<sf::Variable>{w.partitions()[0], w.partitions()[0]},
                            std::vector<sf::Variable>{w, w.partitions()[1]}}) {
    try {
      sf::train::Saver({.var_list = twice}).save(s1, (dir / "twice").string());
      ADD_FAILURE() << "a variable named twice was saved";
    } catch (const sf::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("At least two variables have the same name: emb/part_"),
                std::string::npos)
          << e.what();
    }
  }
  fs::remove_all(dir);
}

}  // namespace
