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
