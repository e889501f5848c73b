// SessionOptions::constant_folding: which nodes a plan folds or forwards, that results are
// those of the unfolded plan, and what is never folded (feeds, random and stateful ops, large
// values, nodes whose kernel raises, control dependencies on work).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

class ConstantFoldingTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

sf::SessionOptions folding(bool on) {
  sf::SessionOptions o;
  o.constant_folding = on;
  return o;
}

std::vector<float> values(sf::Session& s, const sf::Output& o, const sf::FeedDict& f = {}) {
  return s.run(o, f).to_vector<float>();
}

TEST_F(ConstantFoldingTest, ConstantSubgraphsFoldAndResultsMatchTheUnfoldedPlan) {
  auto cpu = sf::device("/cpu:0");
  auto x = sf::placeholder(sf::float32, sf::Shape{4}, "x");
  auto a = sf::constant(std::vector<float>{1.f, 2.f, 3.f, 4.f}, sf::Shape{4}, "a");
  auto b = sf::constant(0.5f, "b");
  auto scaled = a * b;                                 // folded
  auto shifted = sf::reshape(scaled + 1.0f, {4});      // folded, then folded again
  auto y = x * shifted + sf::exp(sf::constant(0.0f));  // the Exp folds; y does not
  const sf::FeedDict feed = {{x, sf::Tensor::from_vector<float>({1, -1, 2, 0})}};

  sf::Session on(folding(true));
  sf::Session off(folding(false));
  const auto got = values(on, y, feed);
  EXPECT_EQ(got, values(off, y, feed));
  EXPECT_EQ(got, (std::vector<float>{1.5f * 1 + 1, 2.f * -1 + 1, 2.5f * 2 + 1, 1.f}));
  const auto stats = on.last_run_stats();
  // scaled, scaled + 1, the reshape, the Exp.
  EXPECT_EQ(stats.nodes_folded, 4);
  EXPECT_EQ(stats.nodes_forwarded, 0);
  EXPECT_EQ(off.last_run_stats().nodes_folded, 0);
  // A folded node fetched by itself: its value.
  EXPECT_EQ(values(on, shifted), (std::vector<float>{1.5f, 2.f, 2.5f, 3.f}));
  // Re-run: the cached plan, the same values.
  EXPECT_EQ(values(on, y, feed), got);
  EXPECT_TRUE(on.last_run_stats().plan_reused);
}

TEST_F(ConstantFoldingTest, ArithmeticWithOnesAndZerosForwardsTheOtherOperand) {
  auto cpu = sf::device("/cpu:0");
  auto x = sf::placeholder(sf::float32, sf::Shape{2, 3}, "x");
  auto row = sf::placeholder(sf::float32, sf::Shape{3}, "row");
  const sf::FeedDict feed = {
      {x, sf::Tensor::from_vector<float>({1, -2, 3, -0.0f, 5, 6}, sf::Shape{2, 3})},
      {row, sf::Tensor::from_vector<float>({7, 8, 9})}};
  struct Case {
    const char* what;
    sf::Output out;
    int forwarded;
    bool bitwise = true;
  };
  const std::vector<Case> cases = {
      {"x * 1", x * 1.0f, 1},
      {"1 * x", sf::multiply(sf::constant(1.0f), x), 1},
      {"x * ones(2,3)", x * sf::ones({2, 3}), 1},
      {"x / 1", x / 1.0f, 1},
      // TF's grappler forwards x + 0 too: an element -0 stays -0 where IEEE's sum gives +0.
      {"x + 0", x + 0.0f, 1, false},
      {"0 + x", sf::add(sf::constant(0.0f), x), 1, false},
      {"x - 0", x - 0.0f, 1},
      // Not forwarded: the result is not the operand.
      {"1 / x", sf::divide(sf::constant(1.0f), x), 0},
      {"0 - x", sf::subtract(sf::constant(0.0f), x), 0},
      {"x * 2", x * 2.0f, 0},
      {"x - -0", x - sf::constant(-0.0f), 0},  // -0 - -0 is +0: not the operand bit for bit
      // The operand is broadcast to a larger shape: not the operand either.
      {"row * ones(2,3)", row * sf::ones({2, 3}), 0},
      {"row + zeros(2,3)", row + sf::zeros({2, 3}), 0},
  };
  sf::Session on(folding(true));
  sf::Session off(folding(false));
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto want = off.run(c.out, feed);
    const auto got = on.run(c.out, feed);
    EXPECT_EQ(on.last_run_stats().nodes_forwarded, c.forwarded);
    ASSERT_EQ(got.shape(), want.shape());
    if (c.bitwise)  // the -0 element included
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.bytes()), 0)
          << got.debug_string() << " vs " << want.debug_string();
    else
      EXPECT_EQ(got.to_vector<float>(), want.to_vector<float>());  // -0 == +0
  }
}

TEST_F(ConstantFoldingTest, AFedConstantIsNotFoldedAndTheOtherPlanStillIs) {
  auto cpu = sf::device("/cpu:0");
  auto a = sf::constant(2.0f, "a");
  auto y = a * 3.0f + 1.0f;
  sf::Session s(folding(true));
  EXPECT_EQ(s.run(y).scalar<float>(), 7.0f);
  EXPECT_EQ(s.last_run_stats().nodes_folded, 2);
  // Feeding the Const: its readers are not constant in this plan.
  EXPECT_EQ(s.run(y, {{a, sf::Tensor::from_scalar(5.0f)}}).scalar<float>(), 16.0f);
  EXPECT_EQ(s.last_run_stats().nodes_folded, 0);
  // Feeding a folded node's output: the fed value, and its reader runs.
  auto mid = y.op().inputs()[0];
  EXPECT_EQ(s.run(y, {{mid, sf::Tensor::from_scalar(10.0f)}}).scalar<float>(), 11.0f);
  EXPECT_EQ(s.run(y).scalar<float>(), 7.0f);
  EXPECT_TRUE(s.last_run_stats().plan_reused);
}

TEST_F(ConstantFoldingTest, RandomStatefulAndLargeNodesAreNotFolded) {
  auto cpu = sf::device("/cpu:0");
  auto r = sf::random_uniform({8});  // RandomUniform, then Mul by 1 and Add of 0
  sf::Session s(folding(true));
  const auto first = values(s, r);
  EXPECT_EQ(s.last_run_stats().nodes_folded, 1);     // maxval - minval
  EXPECT_EQ(s.last_run_stats().nodes_forwarded, 2);  // random_uniform's * (max - min) + min
  EXPECT_NE(values(s, r), first);                    // a fresh draw each run

  // A Fill of a scalar into 1 MiB: the value would grow far past its inputs. A small one folds.
  auto big =
      sf::fill(sf::constant(std::vector<std::int32_t>{512, 512}, sf::Shape{2}), sf::constant(1.5f));
  auto small =
      sf::fill(sf::constant(std::vector<std::int32_t>{8, 8}, sf::Shape{2}), sf::constant(1.5f));
  EXPECT_EQ(s.run(big).num_elements(), 512 * 512);
  EXPECT_EQ(s.last_run_stats().nodes_folded, 0);
  EXPECT_EQ(values(s, small), std::vector<float>(64, 1.5f));
  EXPECT_EQ(s.last_run_stats().nodes_folded, 1);
}

// A collective of constants still runs as a collective, with every participant, and is not
// folded into a constant per device (NcclAllReduce is stateful, as in TF; folding it alone at
// plan build would fail without the other participants too).
TEST_F(ConstantFoldingTest, ACollectiveOfConstantsIsNotFolded) {
  std::vector<sf::Output> x;
  for (int i = 0; i < 2; ++i) {
    auto d = sf::device(sf::str_cat("/cpu:", i));
    x.push_back(sf::constant(std::vector<float>{1.f + i, 2.f}, sf::Shape{2}));
  }
  const auto y = sf::nccl::all_sum(x);
  sf::SessionOptions o = folding(true);
  o.device_count = {{"CPU", 2}};
  sf::Session s(o);
  const auto got = s.run(y);
  EXPECT_EQ(got[0].to_vector<float>(), (std::vector<float>{3.f, 4.f}));
  EXPECT_EQ(got[1].to_vector<float>(), (std::vector<float>{3.f, 4.f}));
  EXPECT_EQ(s.last_run_stats().nodes_folded, 0);
}

TEST_F(ConstantFoldingTest, AFoldedNodeKeepsItsInputsControlDependencies) {
  // The Consts made under control_dependencies wait for the update; the Mul (dominated by them,
  // so without control inputs of its own) folds, and `y`, which reads the variable by
  // reference, must still run after the update. (Without that order, the session would order
  // y's read before the update: an Apply's readers in a step run first.)
  auto cpu = sf::device("/cpu:0");
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  sf::train::GradientDescentOptimizer sgd(1.0);
  auto update = sgd.apply_gradients({{sf::constant(-1.0f), v}});  // v += 1
  sf::Output k, y;
  {
    sf::control_dependencies deps({update});
    k = sf::constant(2.0f) * 3.0f;
  }
  y = sf::add(v.ref(), k);
  for (int threads : {1, 4}) {
    sf::SessionOptions o = folding(true);
    o.inter_op_parallelism_threads = threads;
    sf::Session s(o);
    s.run(sf::global_variables_initializer());
    for (int step = 1; step <= 20; ++step) {
      ASSERT_EQ(s.run(y).scalar<float>(), static_cast<float>(step) + 6.0f) << threads;
      EXPECT_EQ(s.last_run_stats().nodes_folded, 1);
    }
    EXPECT_EQ(s.run(v.value()).scalar<float>(), 20.0f);
  }
  // Traced: the folded step says so.
  sf::Session s(folding(true));
  s.run(sf::global_variables_initializer());
  sf::RunMetadata md;
  EXPECT_EQ(s.run({y}, {}, {}, {.trace_level = sf::RunOptions::kFullTrace}, &md)[0].scalar<float>(),
            7.0f);
  int seen = 0;
  for (const auto& dev : md.step_stats.dev_stats)
    for (const auto& ns : dev.node_stats)
      if (ns.node_name == k.op().name()) {
        EXPECT_EQ(ns.kernel_label, "constant folding");
        ++seen;
      }
  EXPECT_EQ(seen, 1);
}

TEST_F(ConstantFoldingTest, AForwardedNodeKeepsItsConstantsControlDependencies) {
  // y = x * 1 under control_dependencies: the Const waits for the update, y (dominated by it)
  // has no control input of its own. Forwarded, y reads only x, and the update must still run
  // (and before y) through the dropped Const. (A variable's value is never forwarded: see
  // ForwardedAndFoldedValuesAreNeverAliasedInto.)
  auto cpu = sf::device("/cpu:0");
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto x = sf::placeholder(sf::float32, sf::Shape{}, "x");
  sf::train::GradientDescentOptimizer sgd(1.0);
  auto update = sgd.apply_gradients({{sf::constant(-1.0f), v}});  // v += 1
  sf::Output y;
  {
    sf::control_dependencies deps({update});
    y = sf::multiply(x, sf::constant(1.0f));
  }
  for (bool fold : {false, true}) {
    sf::Session s(folding(fold));
    s.run(sf::global_variables_initializer());
    EXPECT_EQ(s.run(y, {{x, sf::Tensor::from_scalar(7.0f)}}).scalar<float>(), 7.0f) << fold;
    EXPECT_EQ(s.last_run_stats().nodes_forwarded, fold ? 1 : 0);
    EXPECT_EQ(s.run(v.value()).scalar<float>(), 1.0f) << "the update ran, folding " << fold;
  }
}

TEST_F(ConstantFoldingTest, AKernelErrorIsRaisedWhenTheStepRunsNotWhenThePlanIsBuilt) {
  auto cpu = sf::device("/cpu:0");
  auto params = sf::constant(std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f}, sf::Shape{5});
  auto bad = sf::gather(params, sf::constant(std::vector<std::int32_t>{7}, sf::Shape{1}));
  auto good = sf::gather(params, sf::constant(std::vector<std::int32_t>{3}, sf::Shape{1}));
  auto x = sf::placeholder(sf::float32, sf::Shape{1}, "x");
  sf::Session s(folding(true));
  // In the plan, not fetched through anything that needs it: the run fails at the step, with
  // the kernel's message, exactly as without folding.
  try {
    s.run(bad + x, {{x, sf::Tensor::from_vector<float>({1})}});
    FAIL() << "expected an InvalidArgumentError";
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("indices[0] = 7 is not in [0, 5)"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(values(s, good + x, {{x, sf::Tensor::from_vector<float>({1})}}),
            std::vector<float>{5.f});
  EXPECT_EQ(s.last_run_stats().nodes_folded, 1);
}

TEST_F(ConstantFoldingTest, TrainingTheSameModelGivesTheSameWeightsWithAndWithoutFolding) {
  // The shape of sf-train's step: a mean loss (its gradient's Reshape/BroadcastTo/RealDiv chain
  // of constants folds), dropout (random_uniform's * 1 and + 0 forward), Adam.
  auto run = [](bool fold) {
    sf::reset_default_graph();
    sf::set_random_seed(7);
    auto cpu = sf::device("/cpu:0");
    auto x = sf::constant(std::vector<float>{0.5f, -1.f, 2.f, 1.f, 0.f, -0.5f}, sf::Shape{3, 2});
    auto w = sf::get_variable("w", {2, 4}, {.initializer = sf::glorot_uniform_initializer()});
    auto h = sf::nn::dropout(sf::matmul(x, w), 0.75);
    auto loss = sf::reduce_mean(sf::square(h));
    auto train = sf::train::AdamOptimizer(0.1).minimize(loss);
    sf::Session s(folding(fold));
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 5; ++i) s.run(train);
    const auto stats = s.last_run_stats();
    if (fold) {
      EXPECT_GT(stats.nodes_folded, 0);
      EXPECT_GT(stats.nodes_forwarded, 0);
    }
    return s.run(w.value()).to_vector<float>();
  };
  EXPECT_EQ(run(true), run(false));
}

}  // namespace

namespace {

// Session 11's review, each checked with folding on and off: a forwarded x * 1 of a variable's
// value stayed an alias of the variable, so an AssignAdd later in the step changed the fetched
// "snapshot", and the variable's run-time shape (validate_shape false) was taken from its
// declaration; a fetched folded value was the plan's own buffer (a caller's write changed
// later runs); an Apply op whose var input is not a variable updated a folded value in place.
TEST_F(ConstantFoldingTest, ForwardedAndFoldedValuesAreNeverAliasedInto) {
  for (bool on : {false, true}) {
    sf::reset_default_graph();
    auto v = sf::get_variable("v", {1}, {.initializer = sf::zeros_initializer()});
    auto snap = v.value() * 1.0f;
    auto snap0 = v.value() + 0.0f;
    sf::Output inc;
    {
      sf::control_dependencies d({snap.op(), snap0.op()});
      inc = v.assign_add(sf::constant(std::vector<float>{10}, {1}));
    }
    auto a = sf::constant(std::vector<float>{1}, {1});
    auto twice = a * 2.0f;
    sf::Session s(folding(on));
    s.run(v.initializer());
    const auto r = s.run({snap, snap0}, {inc.op()});
    EXPECT_EQ(r[0].to_vector<float>(), std::vector<float>{0}) << "folding " << on;
    EXPECT_EQ(r[1].to_vector<float>(), std::vector<float>{0}) << "folding " << on;
    auto t = s.run(twice);
    t.data<float>()[0] = 100;
    EXPECT_EQ(values(s, twice), std::vector<float>{2}) << "folding " << on;
    EXPECT_EQ(values(s, twice + 1.0f), std::vector<float>{3}) << "folding " << on;
  }
  // A variable assigned another shape (validate_shape false): x * ones keeps the broadcast.
  for (bool on : {false, true}) {
    sf::reset_default_graph();
    auto v = sf::get_variable("v", {3}, {.initializer = sf::zeros_initializer()});
    sf::AttrMap attrs;
    attrs.set("validate_shape", false);
    auto five = sf::get_default_graph()
                    .create_op("Assign", {v.ref(), sf::constant(std::vector<float>{5}, {1})},
                               std::move(attrs), "five")
                    .output(0);
    auto y = v.value() * sf::constant(std::vector<float>{1, 1, 1}, {3});
    sf::Session s(folding(on));
    s.run(five);
    EXPECT_EQ(values(s, y), (std::vector<float>{5, 5, 5})) << "folding " << on;
  }
  // An update of something that is not a variable: refused when the plan is built.
  sf::reset_default_graph();
  auto folded = sf::constant(std::vector<float>{1}, {1}) * 1.0f;
  auto upd = sf::get_default_graph().create_op(
      "ApplyGradientDescent",
      {folded, sf::constant(1.0f), sf::constant(std::vector<float>{1}, {1})}, {}, "upd");
  sf::Session s(folding(true));
  EXPECT_THROW(s.run(upd), sf::InvalidArgumentError);
}

}  // namespace
