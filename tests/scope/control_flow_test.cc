// tf.cond (control flow v1): the graph TF builds (names, Switches, pivots, colocation), only the
// taken branch running (assignments in the other do not happen), gradients through the taken
// branch (zeros for the other), nested conds, variables made inside a branch, assignments
// through RefSwitch, branches on another device, TF's errors, dead tensors never fetched.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <string>
#include <vector>

namespace {

class ControlFlowTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

sf::FeedDict feeds(const sf::Output& x, std::vector<float> xv, const sf::Output& p, bool pv) {
  const auto n = static_cast<std::int64_t>(xv.size());
  return {{x, sf::Tensor::from_vector<float>(xv, {n})}, {p, sf::Tensor::from_scalar(pv)}};
}

std::vector<std::string> inputs_of(const sf::Operation& op) {
  std::vector<std::string> out;
  for (const auto& in : op.inputs()) out.push_back(in.name());
  for (const auto& c : op.control_inputs()) out.push_back("^" + c.name());
  return out;
}

using Strings = std::vector<std::string>;

TEST_F(ControlFlowTest, BuildsTheGraphTensorFlowBuilds) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto w = sf::get_variable("w", {2}, {.initializer = sf::ones_initializer()});
  auto r = sf::cond(
      p, [&] { return x * w + 1.0f; }, [&] { return x; });
  auto g = sf::get_default_graph();
  EXPECT_EQ(r.name(), "cond/Merge:0");
  EXPECT_EQ(r.shape(), sf::Shape({2}));
  // As TF 2.21's tf.compat.v1.cond (tf_golden.json, case control_flow_cond, has the whole list).
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/Switch")), (Strings{"p:0", "p:0"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/switch_t")), (Strings{"cond/Switch:1"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/switch_f")), (Strings{"cond/Switch:0"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/pred_id")), (Strings{"p:0"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/mul")),
            (Strings{"cond/mul/Switch:1", "cond/mul/Switch_1:1"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/mul/Switch")), (Strings{"x:0", "cond/pred_id:0"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/mul/Switch_1")),
            (Strings{"w/read:0", "cond/pred_id:0"}));
  EXPECT_EQ(g.operation_by_name("cond/mul/Switch").node()->colocate_with, "x");
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/add/y")), (Strings{"^cond/switch_t"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/Switch_1")), (Strings{"x:0", "cond/pred_id:0"}));
  EXPECT_EQ(inputs_of(g.operation_by_name("cond/Merge")),
            (Strings{"cond/Switch_1:0", "cond/add:0"}));
  // The inside of the cond cannot be fetched (TF's prevent_fetching); the result can.
  EXPECT_FALSE(g.is_fetchable(g.operation_by_name("cond/mul")));
  EXPECT_FALSE(g.is_fetchable(g.operation_by_name("cond/switch_t")));
  EXPECT_TRUE(g.is_fetchable(r.op()));
  EXPECT_EQ(g.collection("cond_context").size(), 2u);

  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_EQ(sess.run(r, feeds(x, {1, 2}, p, true)).to_vector<float>(), (std::vector<float>{2, 3}));
  EXPECT_EQ(sess.run(r, feeds(x, {1, 2}, p, false)).to_vector<float>(), (std::vector<float>{1, 2}));
  try {
    sess.run(g.operation_by_name("cond/mul").output(0), feeds(x, {1, 2}, p, true));
    FAIL() << "fetched the inside of a cond";
  } catch (const sf::InaccessibleTensorError& e) {
    EXPECT_NE(std::string(e.what()).find("Operation cond/mul has been marked as not fetchable"),
              std::string::npos);
  }
  EXPECT_THROW(sess.run({}, {g.operation_by_name("cond/add")}, feeds(x, {1, 2}, p, true)),
               sf::ValueError);
}

TEST_F(ControlFlowTest, OnlyTheTakenBranchRuns) {
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto taken = sf::get_variable("taken", {}, {.initializer = sf::zeros_initializer()});
  auto other = sf::get_variable("other", {}, {.initializer = sf::zeros_initializer()});
  // Each branch counts its runs through a control dependency; the values differ too.
  auto r = sf::cond(
      p,
      [&] {
        sf::control_dependencies after({taken.assign_add(sf::constant(1.0f))});
        return sf::constant(10.0f);
      },
      [&] {
        sf::control_dependencies after({other.assign_add(sf::constant(1.0f))});
        return sf::constant(20.0f);
      });
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  for (bool pv : {true, true, false, true}) {
    const float v = sess.run(r, {{p, sf::Tensor::from_scalar(pv)}}).scalar<float>();
    EXPECT_EQ(v, pv ? 10.0f : 20.0f);
  }
  EXPECT_EQ(sess.run(taken.value()).scalar<float>(), 3.0f);
  EXPECT_EQ(sess.run(other.value()).scalar<float>(), 1.0f);
  // A branch that only computes from constants is not folded into a live value.
  auto c = sf::cond(
      p, [&] { return sf::constant(2.0f) * sf::constant(3.0f); },
      [&] { return sf::constant(1.0f) + sf::constant(1.0f); });
  EXPECT_EQ(sess.run(c, {{p, sf::Tensor::from_scalar(true)}}).scalar<float>(), 6.0f);
  EXPECT_EQ(sess.run(c, {{p, sf::Tensor::from_scalar(false)}}).scalar<float>(), 2.0f);
  // A top-level cond's result is never dead: what follows it is still optimized (c * 1
  // forwarded), while the branches' own ops are not folded.
  auto one = sf::constant(1.0f);
  auto after = c * one;
  EXPECT_EQ(sess.run(after, {{p, sf::Tensor::from_scalar(true)}}).scalar<float>(), 6.0f);
  EXPECT_EQ(sess.last_run_stats().nodes_forwarded, 1);
  EXPECT_EQ(sess.last_run_stats().nodes_folded, 0);
}

TEST_F(ControlFlowTest, GradientsFlowThroughTheTakenBranch) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto w = sf::get_variable("w", {2}, {.initializer = sf::ones_initializer()});
  auto r = sf::cond(
      p, [&] { return x * w + 1.0f; }, [&] { return x; });
  auto grads = sf::gradients(r, {x, w.value()});
  // TF's names: the Merge's gradient is a Switch, each Switch's a Merge, zeros for the other
  // branch are made in the gradients scope.
  EXPECT_EQ(grads[0].name(), "gradients/AddN:0");
  EXPECT_EQ(grads[1].name(), "gradients/cond/mul/Switch_1_grad/cond_grad:0");
  auto g = sf::get_default_graph();
  EXPECT_EQ(g.operation_by_name("gradients/cond/Merge_grad/cond_grad").type(), "Switch");
  EXPECT_EQ(g.operation_by_name("gradients/cond/Switch_1_grad/cond_grad").type(), "Merge");
  EXPECT_EQ(inputs_of(g.operation_by_name("gradients/zeros/Const")),
            (Strings{"^gradients/Identity"}));
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  auto t = sess.run(grads, feeds(x, {1, 2}, p, true));
  EXPECT_EQ(t[0].to_vector<float>(), (std::vector<float>{1, 1}));
  EXPECT_EQ(t[1].to_vector<float>(), (std::vector<float>{1, 2}));
  t = sess.run(grads, feeds(x, {1, 2}, p, false));
  EXPECT_EQ(t[0].to_vector<float>(), (std::vector<float>{1, 1}));
  EXPECT_EQ(t[1].to_vector<float>(), (std::vector<float>{0, 0}));
}

TEST_F(ControlFlowTest, TrainsThroughACondAndEvaluatesWithTheOtherBranch) {
  // TF1's batch-norm idiom: statistics of the batch (and a moving average of them) while
  // training, the moving average when evaluating.
  auto x = sf::placeholder(sf::float32, {4, 2}, "x");
  auto training = sf::placeholder(sf::bool_, {}, "is_training");
  auto w = sf::get_variable("w", {2, 2}, {.initializer = sf::constant_initializer(0.5)});
  auto h = sf::matmul(x, w);
  const sf::Output mean = sf::nn::moments(h, {0}).first;
  sf::train::ExponentialMovingAverage ema(0.5);
  auto stats = sf::cond(
      training,
      [&] {
        auto update = ema.apply({mean});
        sf::control_dependencies after({update});
        return std::vector<sf::Output>{sf::identity(mean)};
      },
      [&] { return std::vector<sf::Output>{ema.average(mean).value()}; });
  ASSERT_EQ(stats.size(), 1u);
  auto loss = sf::reduce_sum(sf::square(h - stats[0]));
  auto train = sf::train::GradientDescentOptimizer(0.1).minimize(loss);
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  const auto xv = sf::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  auto shadow = ema.average(mean);
  const auto before = sess.run(shadow.value()).to_vector<float>();
  sess.run({}, {train}, {{x, xv}, {training, sf::Tensor::from_scalar(true)}});
  const auto after_train = sess.run(shadow.value()).to_vector<float>();
  EXPECT_NE(after_train, before);
  // Evaluating runs the other branch: the shadow stays, the loss uses it.
  const float eval_loss =
      sess.run(loss, {{x, xv}, {training, sf::Tensor::from_scalar(false)}}).scalar<float>();
  EXPECT_EQ(sess.run(shadow.value()).to_vector<float>(), after_train);
  EXPECT_GT(eval_loss, 0.0f);
  // The gradient reached w through the taken branch only: with the batch mean subtracted,
  // a second training step still changes w.
  const auto w1 = sess.run(w.value()).to_vector<float>();
  sess.run({}, {train}, {{x, xv}, {training, sf::Tensor::from_scalar(true)}});
  EXPECT_NE(sess.run(w.value()).to_vector<float>(), w1);
}

TEST_F(ControlFlowTest, NestedCondsAndVariablesMadeInABranch) {
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto q = sf::placeholder(sf::bool_, {}, "q");
  auto x = sf::constant(std::vector<float>{1, 2}, {2}, "x");
  sf::Variable v;
  auto r = sf::cond(
      p,
      [&] {
        // TF lifts a variable made in a branch out of it (init_scope): its initializer runs
        // whichever branch a run takes.
        v = sf::get_variable("v", {2}, {.initializer = sf::constant_initializer(3.0)});
        return sf::cond(
            q, [&] { return x * v; }, [&] { return x + v; });
      },
      [&] { return -x; });
  EXPECT_EQ(v.op().node()->cond_context, nullptr);
  EXPECT_TRUE(v.op().control_inputs().empty());
  auto g = sf::get_default_graph();
  EXPECT_EQ(g.collection("cond_context").size(), 2u);  // only the outer cond's
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  auto run = [&](bool pv, bool qv) {
    return sess.run(r, {{p, sf::Tensor::from_scalar(pv)}, {q, sf::Tensor::from_scalar(qv)}})
        .to_vector<float>();
  };
  EXPECT_EQ(run(true, true), (std::vector<float>{3, 6}));
  EXPECT_EQ(run(true, false), (std::vector<float>{4, 5}));
  EXPECT_EQ(run(false, true), (std::vector<float>{-1, -2}));
  EXPECT_EQ(run(false, false), (std::vector<float>{-1, -2}));
}

TEST_F(ControlFlowTest, AssignmentsInBranchesGoThroughRefSwitch) {
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto r = sf::cond(
      p, [&] { return v.assign(sf::constant(1.0f)); },
      [&] { return v.assign_add(sf::constant(5.0f)); });
  auto g = sf::get_default_graph();
  EXPECT_EQ(g.operation_by_name("cond/Assign/Switch").type(), "RefSwitch");
  EXPECT_EQ(r.op().type(), "RefMerge");
  // A branch that returns an op returns the pivot after it (TF's with_dependencies).
  auto done = sf::cond(
      p, [&] { return v.assign_add(sf::constant(100.0f)).op(); }, [&] { return sf::no_op(); });
  EXPECT_EQ(done.dtype(), sf::bool_);
  EXPECT_EQ(g.operation_by_name("cond_1/control_dependency").type(), "Identity");
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_EQ(sess.run(r, {{p, sf::Tensor::from_scalar(false)}}).scalar<float>(), 5.0f);
  EXPECT_EQ(sess.run(r, {{p, sf::Tensor::from_scalar(false)}}).scalar<float>(), 10.0f);
  EXPECT_EQ(sess.run(r, {{p, sf::Tensor::from_scalar(true)}}).scalar<float>(), 1.0f);
  EXPECT_EQ(sess.run(v.value()).scalar<float>(), 1.0f);
  EXPECT_EQ(sess.run(done, {{p, sf::Tensor::from_scalar(false)}}).scalar<bool>(), false);
  EXPECT_EQ(sess.run(v.value()).scalar<float>(), 1.0f);
  EXPECT_EQ(sess.run(done, {{p, sf::Tensor::from_scalar(true)}}).scalar<bool>(), true);
  EXPECT_EQ(sess.run(v.value()).scalar<float>(), 101.0f);
}

TEST_F(ControlFlowTest, BranchesOnAnotherDevice) {
  auto x = sf::placeholder(sf::float32, {3}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  sf::Output r;
  {
    sf::device d("/cpu:1");
    r = sf::cond(
        p, [&] { return sf::square(x); }, [&] { return sf::exp(x) * 0.0f; });
  }
  auto y = r + 1.0f;  // on CPU:0, after a copy of the merged value
  sf::SessionOptions o;
  o.device_count = {{"CPU", 2}};
  sf::Session sess(o);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sess.run(y, feeds(x, {1, 2, 3}, p, true)).to_vector<float>(),
              (std::vector<float>{2, 5, 10}));
    EXPECT_EQ(sess.run(y, feeds(x, {1, 2, 3}, p, false)).to_vector<float>(),
              (std::vector<float>{1, 1, 1}));
  }
  EXPECT_EQ(sess.assigned_device(sf::get_default_graph().operation_by_name("cond/Square")),
            "/job:localhost/replica:0/task:0/device:CPU:1");
}

// The same model on GPU:0 (the predicate computed there, variables there, CUDA graphs asked
// for) and on the CPU: the same values step by step.
TEST_F(ControlFlowTest, CondOnAGpuMatchesTheCpu) {
  auto build = [](const std::string& dev) {
    sf::reset_default_graph();
    sf::device d(dev);
    auto x = sf::placeholder(sf::float32, {4, 3}, "x");
    auto w = sf::get_variable("w", {3, 2}, {.initializer = sf::constant_initializer(0.25)});
    auto counter = sf::get_variable("counter", {}, {.initializer = sf::zeros_initializer()});
    auto h = sf::matmul(x, w);
    auto positive = sf::greater(sf::reduce_sum(x), sf::constant(0.0f));  // computed on dev
    auto y = sf::cond(
        positive,
        [&] {
          sf::control_dependencies after({counter.assign_add(sf::constant(1.0f))});
          return sf::nn::relu(h) * 2.0f;
        },
        [&] { return sf::square(h); });
    auto loss = sf::reduce_sum(y);
    auto train = sf::train::GradientDescentOptimizer(0.05).minimize(loss);
    return std::make_tuple(x, w, counter, loss, train);
  };
  auto run = [&](const std::string& dev, bool graphs) {
    const auto built = build(dev);
    const sf::Output x = std::get<0>(built), loss = std::get<3>(built);
    const sf::Variable w = std::get<1>(built), counter = std::get<2>(built);
    const sf::Operation train = std::get<4>(built);
    sf::SessionOptions o;
    o.use_cuda_graphs = graphs;
    o.allow_soft_placement = false;
    sf::Session sess(o);
    sess.run(sf::global_variables_initializer());
    std::vector<float> trace;
    for (int i = 0; i < 6; ++i) {
      std::vector<float> xv(12);
      for (int k = 0; k < 12; ++k)
        xv[static_cast<std::size_t>(k)] =
            (i % 3 == 1 ? -1.0f : 1.0f) * static_cast<float>(k % 5) / 4.0f;
      auto r = sess.run({loss}, {train}, {{x, sf::Tensor::from_vector<float>(xv, {4, 3})}});
      trace.push_back(r[0].scalar<float>());
    }
    for (float v : sess.run(w.value()).to_vector<float>()) trace.push_back(v);
    trace.push_back(sess.run(counter.value()).scalar<float>());
    if (dev != "/cpu:0") {
      EXPECT_EQ(sess.assigned_device(sf::get_default_graph().operation_by_name("cond/Relu")),
                "/job:localhost/replica:0/task:0/device:GPU:0");
    }
    return trace;
  };
  const auto cpu = run("/cpu:0", false);
  EXPECT_EQ(cpu.back(), 4.0f);  // the true branch ran 4 times of 6
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable (the CPU run passed): "
                 << sf::devices::gpu_inventory().unavailable_reason;
  for (bool graphs : {false, true}) {
    const auto gpu = run("/gpu:0", graphs);
    ASSERT_EQ(gpu.size(), cpu.size());
    for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-4f) << i;
  }
}

// A cond whose branches both die for a reason outside it (a control input from another
// cond's untaken branch) has a dead Merge, and what follows is dead: TF's "does not have
// value", not an uninitialized tensor.
TEST_F(ControlFlowTest, AMergeOfTwoDeadBranchesIsDead) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto q = sf::placeholder(sf::bool_, {}, "q");
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  sf::Operation update;
  sf::cond(
      p,
      [&] {
        auto a = v.assign_add(sf::constant(1.0f));
        update = a.op();
        return a;
      },
      [&] { return v.value(); });
  auto r = sf::cond(
      q,
      [&] {
        sf::control_dependencies d({update});
        auto t = x * 3.0f;
        return t;
      },
      [&] { return x; });
  auto z = r + 1.0f;
  sf::Session s;
  s.run(sf::global_variables_initializer());
  const sf::FeedDict f{{x, sf::Tensor::from_vector<float>({1, 2}, {2})},
                       {p, sf::Tensor::from_scalar(false)},
                       {q, sf::Tensor::from_scalar(true)}};
  for (const auto& fetch : {r, z}) {
    try {
      s.run(fetch, f);
      FAIL() << "fetched a dead tensor";
    } catch (const sf::InvalidArgumentError& e) {
      EXPECT_STREQ(e.what(), "Retval[0] does not have value");
    }
  }
  const sf::FeedDict live{{x, sf::Tensor::from_vector<float>({1, 2}, {2})},
                          {p, sf::Tensor::from_scalar(true)},
                          {q, sf::Tensor::from_scalar(true)}};
  EXPECT_EQ(s.run(z, live).to_vector<float>(), (std::vector<float>{4, 7}));
}

// minimize() in a branch of one cond with the loss through another: the untaken branch's
// gradients are dead, the update does not happen, and the run succeeds (TF 2.21's values).
TEST_F(ControlFlowTest, MinimizeInsideABranch) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto q = sf::placeholder(sf::bool_, {}, "q");
  auto w = sf::get_variable("w", {2}, {.initializer = sf::ones_initializer()});
  auto h = x * w.value();
  auto y = sf::cond(
      p,
      [&] {
        auto t = h * 2.0f;
        return t;
      },
      [&] {
        auto t = h + 3.0f;
        return t;
      });
  auto loss = sf::reduce_sum(y);
  auto train = sf::cond(
      q, [&]() -> sf::CondValue { return sf::train::GradientDescentOptimizer(0.1).minimize(loss); },
      [&]() -> sf::CondValue { return sf::no_op(); });
  sf::Session s;
  s.run(sf::global_variables_initializer());
  for (bool pv : {true, false})
    for (bool qv : {false, true}) {
      const sf::FeedDict f{{x, sf::Tensor::from_vector<float>({1, 2}, {2})},
                           {p, sf::Tensor::from_scalar(pv)},
                           {q, sf::Tensor::from_scalar(qv)}};
      const auto before = s.run(w.value()).to_vector<float>();
      EXPECT_EQ(s.run(train, f).scalar<bool>(), qv);
      const auto after = s.run(w.value()).to_vector<float>();
      if (!qv) {
        EXPECT_EQ(after, before);
      } else {
        const float scale = pv ? 2.0f : 1.0f;  // d loss / d w = x * (2 or 1)
        EXPECT_FLOAT_EQ(after[0], before[0] - 0.1f * 1.0f * scale);
        EXPECT_FLOAT_EQ(after[1], before[1] - 0.1f * 2.0f * scale);
      }
    }
}

// x * 1 of a cond that returns a variable's value is a snapshot, not the variable's buffer
// (constant folding does not forward it), as TF's.
TEST_F(ControlFlowTest, ACondOfAVariableIsASnapshot) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto v = sf::get_variable("v", {2}, {.initializer = sf::ones_initializer()});
  auto r = sf::cond(
      p, [&] { return v.value(); }, [&] { return x; });
  auto y = r * 1.0f;
  sf::Output up, z;
  {
    sf::control_dependencies d({y});
    up = v.assign_add(sf::constant(std::vector<float>{10, 10}, {2}));
  }
  {
    sf::control_dependencies d({up});
    z = y * 2.0f;
  }
  for (bool folding : {true, false}) {
    sf::SessionOptions o;
    o.constant_folding = folding;
    sf::Session s(o);
    s.run(sf::global_variables_initializer());
    auto res = s.run({y, z}, {{x, sf::Tensor::from_vector<float>({1, 2}, {2})},
                              {p, sf::Tensor::from_scalar(true)}});
    EXPECT_EQ(res[0].to_vector<float>(), (std::vector<float>{1, 1})) << folding;
    EXPECT_EQ(res[1].to_vector<float>(), (std::vector<float>{2, 2})) << folding;
  }
}

TEST_F(ControlFlowTest, AnInitialValueFromInsideABranchIsRefused) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  try {
    sf::cond(
        p,
        [&] {
          auto init = sf::constant(std::vector<float>{1, 2}, {2});
          sf::Variable v(init, {.name = "vin"});
          auto t = v.value() * x;
          return t;
        },
        [&] { return x; });
    FAIL() << "a variable initialized from inside a branch";
  } catch (const sf::ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "Initializer for variable cond/vin/ is from inside a control-flow construct, "
                 "such as a loop or conditional. When creating a variable inside a loop or "
                 "conditional, use a lambda as the initializer.");
  }
  EXPECT_EQ(sf::get_default_graph().control_flow_context(), nullptr);
  // An initial value from outside the branch is fine.
  auto outside = sf::constant(std::vector<float>{1, 2}, {2});
  sf::Variable w;
  auto r = sf::cond(
      p,
      [&] {
        w = sf::Variable(outside, {.name = "w"});
        auto t = w.value() * x;
        return t;
      },
      [&] { return x; });
  sf::Session s;
  s.run(w.initializer());
  EXPECT_EQ(s.run(r, feeds(x, {3, 4}, p, true)).to_vector<float>(), (std::vector<float>{3, 8}));
}

// TF's executor ignores a Merge's dead control inputs; its Merge-gradient Switches are
// colocated with the gradient.
TEST_F(ControlFlowTest, AMergeIgnoresDeadControlInputs) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  sf::Operation inner;
  sf::cond(
      p,
      [&] {
        auto t = x * 2.0f;
        inner = t.op();
        return t;
      },
      [&] { return x; });
  const auto switched = sf::switch_(x, p);
  sf::Output m;
  {
    sf::control_dependencies d({inner});
    m = sf::merge({switched.first, switched.second}).first;
  }
  sf::Session s;
  EXPECT_EQ(s.run(m, feeds(x, {1, 2}, p, false)).to_vector<float>(), (std::vector<float>{1, 2}));
  auto gx = sf::gradients(m, {x})[0];
  auto g = sf::get_default_graph();
  EXPECT_EQ(g.operation_by_name("gradients/Merge_grad/Switch").node()->colocate_with,
            "gradients/grad_ys_0");
  EXPECT_EQ(s.run(gx, feeds(x, {1, 2}, p, false)).to_vector<float>(), (std::vector<float>{1, 1}));
}

// tf.case: the first true predicate's function runs, and only it (golden case
// control_flow_case has TF's graph).
TEST_F(ControlFlowTest, CaseRunsTheFirstTruePredicatesFunctionOnly) {
  auto x = sf::placeholder(sf::float32, {}, "x");
  auto count = sf::get_variable("count", {3}, {.initializer = sf::zeros_initializer()});
  auto bump = [&](int k) {
    std::vector<float> one(3, 0.0f);
    one[static_cast<std::size_t>(k)] = 1.0f;
    return count.assign_add(sf::constant(one, {3}));
  };
  auto r = sf::case_({{sf::less(x, sf::constant(0.0f)),
                       [&] {
                         sf::control_dependencies after({bump(0)});
                         return sf::identity(x);
                       }},
                      {sf::less(x, sf::constant(5.0f)),
                       [&] {
                         sf::control_dependencies after({bump(1)});
                         return sf::identity(x);
                       }}},
                     [&] {
                       sf::control_dependencies after({bump(2)});
                       return sf::identity(x);
                     });
  sf::Session s;
  s.run(sf::global_variables_initializer());
  for (float v : {-1.0f, -2.0f, 3.0f, 7.0f, 8.0f, 9.0f})
    EXPECT_EQ(s.run(r, {{x, sf::Tensor::from_scalar(v)}}).scalar<float>(), v);
  EXPECT_EQ(s.run(count.value()).to_vector<float>(), (std::vector<float>{2, 1, 3}));
  // No default, or no pairs: a clear error (TF's default needs tf.Assert).
  EXPECT_THROW(sf::case_({{sf::less(x, sf::constant(0.0f)), [&] { return x; }}}, nullptr),
               sf::ValueError);
  EXPECT_THROW(sf::case_({}, [&] { return x; }), sf::ValueError);
}

TEST_F(ControlFlowTest, ErrorsAsTensorFlow) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  auto f = [&] { return x; };
  auto i = [&] { return sf::constant(1); };
  try {
    sf::cond(x, f, f);
    FAIL();
  } catch (const sf::TypeError& e) {
    EXPECT_STREQ(e.what(),
                 "Input 'pred' of 'Switch' Op has type float32 that does not match expected "
                 "type of bool.");
  }
  EXPECT_THROW(sf::cond(sf::placeholder(sf::bool_, {2}), f, f), sf::ValueError);
  try {
    sf::cond(p, f, i);
    FAIL();
  } catch (const sf::ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "Outputs of 'true_fn' and 'false_fn' must have the same type(s). Received "
                 "float32 from 'true_fn' and int32 from 'false_fn'.");
  }
  EXPECT_THROW(sf::cond(
                   p,
                   [&] {
                     return std::vector<sf::Output>{x, x};
                   },
                   [&] { return std::vector<sf::Output>{x}; }),
               sf::ValueError);
  EXPECT_THROW(
      sf::cond(
          p, [&] { return std::vector<sf::Output>{}; }, [&] { return std::vector<sf::Output>{}; }),
      sf::ValueError);
  EXPECT_THROW(sf::cond(p, std::function<sf::CondValue()>(), f), sf::TypeError);
  // The graph is still usable after a failed cond: the branch context was left.
  EXPECT_EQ(sf::get_default_graph().control_flow_context(), nullptr);
  auto ok = sf::cond(p, f, f);
  sf::Session sess;
  EXPECT_EQ(sess.run(ok, feeds(x, {4, 5}, p, false)).to_vector<float>(),
            (std::vector<float>{4, 5}));
  // A branch that throws leaves the context too.
  EXPECT_THROW(sf::cond(
                   p, [&]() -> sf::Output { throw sf::ValueError("boom"); }, f),
               sf::ValueError);
  EXPECT_EQ(sf::get_default_graph().control_flow_context(), nullptr);
}

TEST_F(ControlFlowTest, DeadTensorsAreNeverFetched) {
  // A bare Switch outside any cond is fetchable: its dead output is an error, TF's words.
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto p = sf::placeholder(sf::bool_, {}, "p");
  const auto switched = sf::switch_(x, p);
  const sf::Output out_false = switched.first, out_true = switched.second;
  EXPECT_EQ(out_false.op().name(), "Switch");
  sf::Session sess;
  EXPECT_EQ(sess.run(out_true, feeds(x, {1, 2}, p, true)).to_vector<float>(),
            (std::vector<float>{1, 2}));
  try {
    sess.run(out_false, feeds(x, {1, 2}, p, true));
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_STREQ(e.what(), "Retval[0] does not have value");
  }
  // merge: the live input and its index; its gradient goes to that input only.
  const auto merged = sf::merge({out_false * 2.0f, out_true * 3.0f});
  const sf::Output m = merged.first, index = merged.second;
  EXPECT_EQ(sess.run(index, feeds(x, {1, 2}, p, false)).scalar<std::int32_t>(), 0);
  EXPECT_EQ(sess.run(m, feeds(x, {1, 2}, p, true)).to_vector<float>(), (std::vector<float>{3, 6}));
  auto gx = sf::gradients(m, {x})[0];
  EXPECT_EQ(sess.run(gx, feeds(x, {1, 2}, p, true)).to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_EQ(sess.run(gx, feeds(x, {1, 2}, p, false)).to_vector<float>(),
            (std::vector<float>{2, 2}));
}

}  // namespace
