// replica_device_setter: variables to parameter-server tasks (round robin, greedy by bytes),
// other ops to the worker, inner device scopes winning.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

namespace {

class DeviceSetterTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

TEST_F(DeviceSetterTest, RoundRobinVariablesWorkerOps) {
  sf::device d(sf::train::replica_device_setter({.ps_tasks = 2}));
  auto a = sf::get_variable("a", {1});
  auto b = sf::get_variable("b", {1});
  auto c = sf::get_variable("c", {1});
  EXPECT_EQ(a.device(), "/job:ps/task:0");
  EXPECT_EQ(b.device(), "/job:ps/task:1");
  EXPECT_EQ(c.device(), "/job:ps/task:0");
  EXPECT_EQ((a + b).device(), "/job:worker");
  EXPECT_EQ(a.value().device(), "/job:ps/task:0");  // the read is colocated with its variable
  {
    sf::device inner("/job:worker/task:3/gpu:0");
    EXPECT_EQ(sf::constant(1.0f).device(), "/job:worker/task:3/device:GPU:0");
  }
}

TEST_F(DeviceSetterTest, InnerScopesWinAndOtherJobsKeepTheirTask) {
  sf::device d(sf::train::replica_device_setter({.ps_tasks = 3, .ps_device = "/job:ps/cpu:0"}));
  auto a = sf::get_variable("a", {1});
  EXPECT_EQ(a.device(), "/job:ps/task:0/device:CPU:0");
  sf::device other("/job:other");
  EXPECT_EQ(sf::get_variable("b", {1}).device(), "/job:other/device:CPU:0");
}

TEST_F(DeviceSetterTest, GreedyByBytes) {
  sf::device d(sf::train::replica_device_setter(
      {.ps_tasks = 2, .ps_strategy = sf::train::greedy_load_balancing_strategy(2)}));
  EXPECT_EQ(sf::get_variable("big", {100}).device(), "/job:ps/task:0");
  EXPECT_EQ(sf::get_variable("s1", {10}).device(), "/job:ps/task:1");
  EXPECT_EQ(sf::get_variable("s2", {10}).device(), "/job:ps/task:1");
  EXPECT_EQ(sf::get_variable("s3", {100}).device(), "/job:ps/task:1");
  EXPECT_EQ(sf::get_variable("s4", {1}).device(), "/job:ps/task:0");
}

TEST_F(DeviceSetterTest, NoPsTasksChangesNothingAndBadStringsAreErrors) {
  {
    sf::device outer("/gpu:1");
    sf::device d(sf::train::replica_device_setter({.ps_tasks = 0}));
    EXPECT_EQ(sf::get_variable("v", {1}).device(), "/device:GPU:1");
  }
  EXPECT_THROW(sf::train::replica_device_setter({.ps_tasks = 1, .ps_device = "/foo:0"}),
               sf::ValueError);
  EXPECT_THROW(sf::train::round_robin_strategy(0), sf::ValueError);
}

}  // namespace

namespace {

// Session 11's review against TF's device_setter.py: without merge_devices an op that has a
// device keeps it and takes no ps task; a variable of unknown shape is an error for the
// greedy strategy (TF's byte_size_load_fn), not 0 bytes; Adam's beta powers sit with the
// variable first by name (TF's min(var_list, key=name)), not the first in the list.
TEST_F(DeviceSetterTest, TfsMergeGreedyAndAdamRules) {
  {
    sf::device d(sf::train::replica_device_setter({.ps_tasks = 2, .merge_devices = false}));
    {
      sf::device other("/job:other/cpu:0");
      EXPECT_EQ(sf::get_variable("a", {1}).device(), "/job:other/device:CPU:0");
    }
    {
      sf::device gpu("/gpu:1");
      EXPECT_EQ(sf::constant(1.0f).device(), "/device:GPU:1");
    }
    EXPECT_EQ(sf::get_variable("b", {1}).device(), "/job:ps/task:0");  // a took no task
    EXPECT_EQ(sf::get_variable("c", {1}).device(), "/job:ps/task:1");
  }
  sf::reset_default_graph();
  {
    auto unknown = sf::Variable(sf::constant(std::vector<float>(1000, 1.0f), {1000}),
                                {.name = "u0", .validate_shape = false});
    (void)unknown;
    sf::device d(sf::train::replica_device_setter(
        {.ps_tasks = 2, .ps_strategy = sf::train::greedy_load_balancing_strategy(2)}));
    EXPECT_THROW(sf::Variable(sf::constant(std::vector<float>(1000, 1.0f), {1000}),
                              {.name = "u", .validate_shape = false}),
                 sf::ValueError);
  }
  sf::reset_default_graph();
  {
    sf::device d(sf::train::replica_device_setter({.ps_tasks = 2}));
    auto w = sf::get_variable("w", {2});
    auto b = sf::get_variable("b", {2});
    sf::train::AdamOptimizer adam(0.1);
    auto loss = sf::reduce_sum(w.value() * b.value());
    adam.minimize(loss);
    const auto globals = sf::global_variables();
    auto find = [&](const std::string& name) {
      for (const auto& v : globals)
        if (v.op().name() == name) return v.device();
      return std::string("<missing>");
    };
    EXPECT_EQ(find("beta1_power"), b.device());  // "b:0" < "w:0"
    EXPECT_EQ(find("beta2_power"), b.device());
    EXPECT_NE(b.device(), w.device());
  }
}

}  // namespace
