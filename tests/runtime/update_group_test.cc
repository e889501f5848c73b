// SessionOptions::group_updates: a plan's optimizer updates with the same hyperparameters run
// as one grouped kernel; results are bit-identical to separate updates, updates that wait for
// one another or take other hyperparameters are not grouped, and errors name the member.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <memory>
#include <string>
#include <vector>

namespace {

class UpdateGroupTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

// On the CPU devices these tests run on: kAll (the default groups on GPUs only).
sf::SessionOptions grouping(bool on) {
  sf::SessionOptions o;
  o.group_updates =
      on ? sf::SessionOptions::UpdateGrouping::kAll : sf::SessionOptions::UpdateGrouping::kOff;
  return o;
}

sf::SessionOptions grouping_mode(sf::SessionOptions::UpdateGrouping mode) {
  sf::SessionOptions o;
  o.group_updates = mode;
  return o;
}

struct Trained {
  std::vector<std::vector<float>> weights;
  std::int64_t grouped = 0;
};

// A small MLP with 4 variables, trained 5 steps by `make_optimizer`.
Trained train(bool group, const std::function<std::unique_ptr<sf::train::Optimizer>()>& make,
              const std::string& device = "/cpu:0") {
  sf::reset_default_graph();
  sf::set_random_seed(11);
  auto on = sf::device(device);
  auto x = sf::constant(std::vector<float>{0.5f, -1.f, 2.f, 1.f, 0.f, -0.5f}, sf::Shape{3, 2});
  auto w1 = sf::get_variable("w1", {2, 5}, {.initializer = sf::glorot_uniform_initializer()});
  auto b1 = sf::get_variable("b1", {5}, {.initializer = sf::constant_initializer(0.1)});
  auto w2 = sf::get_variable("w2", {5, 1}, {.initializer = sf::glorot_uniform_initializer()});
  auto b2 = sf::get_variable("b2", {1}, {.initializer = sf::zeros_initializer()});
  auto h = sf::nn::relu(sf::nn::bias_add(sf::matmul(x, w1), b1));
  auto loss = sf::reduce_mean(sf::square(sf::nn::bias_add(sf::matmul(h, w2), b2)));
  auto opt = make();
  auto step = opt->minimize(loss);
  sf::Session s(device == "/cpu:0"
                    ? grouping(group)
                    : grouping_mode(group ? sf::SessionOptions::UpdateGrouping::kGpu
                                          : sf::SessionOptions::UpdateGrouping::kOff));
  s.run(sf::global_variables_initializer());
  Trained t;
  for (int i = 0; i < 5; ++i) {
    s.run(step);
    if (i == 0) t.grouped = s.last_run_stats().updates_grouped;
  }
  for (const auto& v : {w1, b1, w2, b2}) t.weights.push_back(s.run(v.value()).to_vector<float>());
  return t;
}

TEST_F(UpdateGroupTest, GroupedUpdatesAreBitIdenticalForEveryOptimizer) {
  const std::vector<std::pair<std::string, std::function<std::unique_ptr<sf::train::Optimizer>()>>>
      optimizers = {
          {"sgd", [] { return std::make_unique<sf::train::GradientDescentOptimizer>(0.3); }},
          {"momentum", [] { return std::make_unique<sf::train::MomentumOptimizer>(0.1, 0.9); }},
          {"nesterov",
           [] {
             return std::make_unique<sf::train::MomentumOptimizer>(0.1, 0.9, "Momentum", true);
           }},
          {"adam", [] { return std::make_unique<sf::train::AdamOptimizer>(0.05); }},
      };
  for (const auto& [name, make] : optimizers) {
    SCOPED_TRACE(name);
    const Trained on = train(true, make), off = train(false, make);
    EXPECT_EQ(on.grouped, 3);  // 4 updates: one leader, 3 members
    EXPECT_EQ(off.grouped, 0);
    EXPECT_EQ(on.weights, off.weights);
  }
}

TEST_F(UpdateGroupTest, GroupedGpuUpdatesAreBitIdenticalInOneLaunch) {
  if (sf::devices::DeviceManager().num_gpus() == 0)
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::why_unavailable("GPU:0");
  for (bool adam : {false, true}) {
    auto make = [adam]() -> std::unique_ptr<sf::train::Optimizer> {
      if (adam) return std::make_unique<sf::train::AdamOptimizer>(0.05);
      return std::make_unique<sf::train::MomentumOptimizer>(0.1, 0.9);
    };
    const Trained on = train(true, make, "/gpu:0"), off = train(false, make, "/gpu:0");
    EXPECT_EQ(on.grouped, 3);
    EXPECT_EQ(off.grouped, 0);
    EXPECT_EQ(on.weights, off.weights);
  }
}

TEST_F(UpdateGroupTest, TheDefaultGroupsOnGpusOnly) {
  auto make = [] { return std::make_unique<sf::train::GradientDescentOptimizer>(0.3); };
  sf::SessionOptions defaults;
  EXPECT_EQ(defaults.group_updates, sf::SessionOptions::UpdateGrouping::kGpu);
  // train() runs on CPU:0; with the default, nothing is grouped there.
  sf::reset_default_graph();
  auto cpu = sf::device("/cpu:0");
  auto a = sf::get_variable("a", {3}, {.initializer = sf::ones_initializer()});
  auto b = sf::get_variable("b", {3}, {.initializer = sf::ones_initializer()});
  auto g = sf::constant(std::vector<float>{1.f, 2.f, 3.f}, sf::Shape{3});
  auto update = make()->apply_gradients({{g, a}, {g, b}});
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(update);
  EXPECT_EQ(s.last_run_stats().updates_grouped, 0);
  sf::Session all(grouping(true));
  all.run(sf::global_variables_initializer());
  all.run(update);
  EXPECT_EQ(all.last_run_stats().updates_grouped, 1);
}

TEST_F(UpdateGroupTest, OtherHyperparametersOrAnOrderBetweenUpdatesKeepThemApart) {
  auto cpu = sf::device("/cpu:0");
  auto a = sf::get_variable("a", {3}, {.initializer = sf::ones_initializer()});
  auto b = sf::get_variable("b", {3}, {.initializer = sf::ones_initializer()});
  auto c = sf::get_variable("c", {3}, {.initializer = sf::ones_initializer()});
  auto d = sf::get_variable("d", {3}, {.initializer = sf::ones_initializer()});
  auto g = sf::constant(std::vector<float>{1.f, 2.f, 3.f}, sf::Shape{3});
  sf::train::GradientDescentOptimizer slow(0.1), fast(0.5);
  auto ua = slow.apply_gradients({{g, a}});
  auto ub = slow.apply_gradients({{g, b}});
  auto uc = fast.apply_gradients({{g, c}});  // another learning rate
  sf::Operation ud;
  {
    sf::control_dependencies after({ua});  // waits for a's update: not in its group
    ud = slow.apply_gradients({{g, d}});
  }
  auto all = sf::group({ua, ub, uc, ud});
  sf::Session s(grouping(true));
  s.run(sf::global_variables_initializer());
  s.run(all);
  // a and b share alpha = 0.1 and no order: one group. c has its own alpha; d waits for a.
  EXPECT_EQ(s.last_run_stats().updates_grouped, 1);
  EXPECT_EQ(s.run(a.value()).to_vector<float>(), (std::vector<float>{0.9f, 0.8f, 0.7f}));
  EXPECT_EQ(s.run(b.value()).to_vector<float>(), (std::vector<float>{0.9f, 0.8f, 0.7f}));
  EXPECT_EQ(s.run(c.value()).to_vector<float>(), (std::vector<float>{0.5f, 0.0f, -0.5f}));
  EXPECT_EQ(s.run(d.value()).to_vector<float>(), (std::vector<float>{0.9f, 0.8f, 0.7f}));
}

TEST_F(UpdateGroupTest, AReaderInTheStepSeesTheValueBeforeTheGroupedUpdate) {
  // Every variable's read in the step runs before the group's one kernel updates them all.
  auto cpu = sf::device("/cpu:0");
  std::vector<sf::Variable> vars;
  std::vector<std::pair<sf::Output, sf::Variable>> gv;
  for (int i = 0; i < 4; ++i) {
    vars.push_back(sf::get_variable("v" + std::to_string(i), {2},
                                    {.initializer = sf::constant_initializer(i + 1.0)}));
    gv.emplace_back(sf::constant(std::vector<float>{1.f, 1.f}, sf::Shape{2}), vars.back());
  }
  sf::train::GradientDescentOptimizer sgd(1.0);
  auto update = sgd.apply_gradients(gv);
  std::vector<sf::Output> reads;
  for (const auto& v : vars) reads.push_back(sf::identity(v.value()) * 1.5f);
  for (int threads : {1, 4}) {
    sf::SessionOptions o = grouping(true);
    o.inter_op_parallelism_threads = threads;
    sf::Session s(o);
    s.run(sf::global_variables_initializer());
    for (int step = 0; step < 10; ++step) {
      auto got = s.run(reads, std::vector<sf::Operation>{update});
      EXPECT_EQ(s.last_run_stats().updates_grouped, 3);
      for (int i = 0; i < 4; ++i)
        ASSERT_EQ(got[static_cast<std::size_t>(i)].to_vector<float>()[0],
                  (static_cast<float>(i) + 1.f - static_cast<float>(step)) * 1.5f)
            << "threads " << threads << " step " << step << " variable " << i;
    }
  }
}

TEST_F(UpdateGroupTest, TwoUpdatesOfOneVariableAreNotGrouped) {
  // In one grouped call the second update would copy the variable on write while the call holds
  // it, and the first update would be lost.
  auto cpu = sf::device("/cpu:0");
  auto a = sf::get_variable("a", {2}, {.initializer = sf::ones_initializer()});
  sf::train::GradientDescentOptimizer sgd(1.0);
  auto u1 = sgd.apply_gradients({{sf::constant(std::vector<float>{1.f, 1.f}, sf::Shape{2}), a}});
  auto u2 = sgd.apply_gradients({{sf::constant(std::vector<float>{2.f, 2.f}, sf::Shape{2}), a}});
  sf::SessionOptions o = grouping(true);
  o.inter_op_parallelism_threads = 1;  // separate updates then run one after the other
  sf::Session s(o);
  s.run(sf::global_variables_initializer());
  s.run(sf::group({u1, u2}));
  EXPECT_EQ(s.last_run_stats().updates_grouped, 0);
  EXPECT_EQ(s.run(a.value()).to_vector<float>(), (std::vector<float>{-2.f, -2.f}));
}

// An update that names a variable twice, its slot given as the gradient too:
// ApplyMomentum(var, accum, lr, accum, momentum). TF's kernel (and ScopeFlow's reference) reads
// the gradient from the slot's one buffer: accum = 2 x 0.5 + 2 = 3, var = 1 - 0.5 x 3. The
// executor copies each variable on write once per call (a second copy made the variable move
// to a fresh buffer while the kernel wrote the first: accum stayed 2). Alone, and as two
// members of one grouped call.
void check_update_naming_a_variable_twice(const std::string& device) {
  for (const bool group : {false, true}) {
    sf::reset_default_graph();
    auto on = sf::device(device);
    const auto lr = sf::constant(0.5f);
    const auto momentum = sf::constant(0.5f);
    std::vector<sf::Variable> vars, slots;
    std::vector<sf::Operation> updates;
    for (int i = 0; i < 2; ++i) {
      vars.push_back(
          sf::get_variable(sf::str_cat("var", i), {2}, {.initializer = sf::ones_initializer()}));
      slots.push_back(sf::get_variable(sf::str_cat("accum", i), {2},
                                       {.initializer = sf::constant_initializer(2.0)}));
      updates.push_back(sf::get_default_graph().create_op(
          "ApplyMomentum",
          {vars.back().ref(), slots.back().ref(), lr, slots.back().ref(), momentum}, {},
          sf::str_cat("update", i)));
    }
    sf::Session s(grouping(group));
    s.run(sf::global_variables_initializer());
    s.run(sf::group(updates));
    EXPECT_EQ(s.last_run_stats().updates_grouped, group ? 1 : 0) << device;
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(s.run(slots[i].value()).to_vector<float>(), (std::vector<float>{3.f, 3.f}))
          << device << " grouped " << group;
      EXPECT_EQ(s.run(vars[i].value()).to_vector<float>(), (std::vector<float>{-0.5f, -0.5f}))
          << device << " grouped " << group;
    }
  }
}

TEST_F(UpdateGroupTest, AnUpdateNamingAVariableTwiceUpdatesItsOneBuffer) {
  check_update_naming_a_variable_twice("/cpu:0");
}

// The same on a GPU: its single and grouped kernels read the gradient after writing the slot.
TEST_F(UpdateGroupTest, AGpuUpdateNamingAVariableTwiceUpdatesItsOneBuffer) {
  if (sf::devices::DeviceManager().num_gpus() == 0)
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::why_unavailable("GPU:0");
  check_update_naming_a_variable_twice("/gpu:0");
}

TEST_F(UpdateGroupTest, AReaderAfterOneUpdateAndBeforeAnotherKeepsThemApart) {
  // r waits for a's update and reads b by reference: it is ordered before b's update (the
  // session's read-before-update rule), so b's update comes after a's and they are not grouped;
  // r sees b's old value either way.
  auto cpu = sf::device("/cpu:0");
  auto a = sf::get_variable("a", {1}, {.initializer = sf::zeros_initializer()});
  auto b = sf::get_variable("b", {1}, {.initializer = sf::zeros_initializer()});
  sf::train::GradientDescentOptimizer sgd(1.0);
  auto g = sf::constant(std::vector<float>{-1.f}, sf::Shape{1});
  auto ua = sgd.apply_gradients({{g, a}});
  auto ub = sgd.apply_gradients({{g, b}});
  sf::Output r;
  {
    sf::control_dependencies after({ua});
    r = sf::identity(b.ref());
  }
  for (bool group : {false, true}) {
    sf::Session s(grouping(group));
    s.run(sf::global_variables_initializer());
    EXPECT_EQ(s.run({r}, {ua, ub})[0].to_vector<float>(), std::vector<float>{0.f}) << group;
    EXPECT_EQ(s.last_run_stats().updates_grouped, 0);
    EXPECT_EQ(s.run(b.value()).to_vector<float>(), std::vector<float>{1.f});
  }
}

TEST_F(UpdateGroupTest, AnErrorNamesTheMemberAtFaultAndUpdatesNothingElseTwice) {
  auto cpu = sf::device("/cpu:0");
  auto a = sf::get_variable("a", {3}, {.initializer = sf::ones_initializer()});
  auto b = sf::get_variable("b", {3}, {.initializer = sf::ones_initializer()});
  auto ga = sf::constant(std::vector<float>{1.f, 1.f, 1.f}, sf::Shape{3});
  auto gb = sf::placeholder(sf::float32, sf::Shape::unknown(), "gb");  // shape known at run time
  sf::train::GradientDescentOptimizer sgd(1.0);
  auto update = sgd.apply_gradients({{ga, a}, {gb, b}});
  auto message = [&](bool group) {
    sf::Session s(grouping(group));
    s.run(sf::global_variables_initializer());
    std::string what;
    try {
      s.run(update, {{gb, sf::Tensor::from_vector<float>({1.f, 1.f})}});
    } catch (const sf::InvalidArgumentError& e) {
      what = e.what();
    }
    // A good step afterwards: each variable updated once per step. In the failing step a's
    // update ran at most once (separate updates: before or after b's failed, and a failed
    // step skips what had not started; grouped: the fallback runs the members in order).
    s.run(update, {{gb, sf::Tensor::from_vector<float>({2.f, 2.f, 2.f})}});
    const float a0 = s.run(a.value()).to_vector<float>()[0];
    EXPECT_TRUE(a0 == 0.f || a0 == -1.f) << a0 << " (grouped: " << group << ")";
    EXPECT_EQ(s.run(b.value()).to_vector<float>(), (std::vector<float>{-1.f, -1.f, -1.f}));
    return what;
  };
  const std::string grouped = message(true), separate = message(false);
  EXPECT_NE(grouped.find("does not match var shape"), std::string::npos) << grouped;
  EXPECT_NE(grouped.find("GradientDescent/update_b"), std::string::npos) << grouped;
  EXPECT_EQ(grouped, separate);
}

}  // namespace
