// Step tracing (RunOptions / RunMetadata, TF's FULL_TRACE) and the Chrome trace of
// timeline.h: every node a traced run executes appears once on its device's lane with a
// sane interval; copies between devices show; results do not change; untraced runs record
// nothing.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>

#include "runtime/session/timeline.h"

namespace {

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

// Two towers on CPU:0 and CPU:1 sharing a conv layer, the mean of their losses on CPU:0.
struct Towers {
  sf::Output x, loss;
};
Towers build() {
  Towers t;
  t.x = sf::placeholder(sf::float32, {2, 6, 6, 1}, "x");
  std::vector<sf::Output> losses;
  for (int i = 0; i < 2; ++i) {
    sf::device d(sf::str_cat("/device:CPU:", i));
    sf::name_scope tower(sf::str_cat("tower_", i));
    sf::variable_scope vs("model", {.reuse = i > 0});
    auto w = sf::get_variable("w", {3, 3, 1, 2},
                              {.initializer = sf::random_normal_initializer(0, 1, 1)});
    auto y = sf::nn::relu(sf::nn::conv2d(t.x, w, {1, 1, 1, 1}, "SAME"));
    losses.push_back(sf::reduce_sum(y));
  }
  sf::device d("/device:CPU:0");
  t.loss = sf::add_n(losses, "total");
  return t;
}

TEST_F(TraceTest, EveryExecutedNodeOnceOnItsDeviceLane) {
  Towers t = build();
  sf::Session s({.device_count = {{"CPU", 2}}});
  s.run(sf::global_variables_initializer());
  const auto feed = sf::FeedDict{
      {t.x, sf::Tensor::from_vector<float>(std::vector<float>(72, 0.5f), {2, 6, 6, 1})}};
  const float untraced = s.run({t.loss}, {}, feed)[0].scalar<float>();
  sf::RunMetadata md;
  const auto traced = s.run({t.loss}, {}, feed, {.trace_level = sf::RunOptions::kFullTrace}, &md);
  EXPECT_EQ(traced[0].scalar<float>(), untraced);

  std::map<std::string, std::string> device_of;  // node -> lane
  std::int64_t copies = 0, noops = 0;
  for (const auto& lane : md.step_stats.dev_stats) {
    std::int64_t last_start = 0;
    for (const auto& n : lane.node_stats) {
      EXPECT_TRUE(device_of.emplace(n.node_name, lane.device).second) << n.node_name << " twice";
      EXPECT_GE(n.all_end_rel_micros, 0);
      EXPECT_GE(n.all_start_micros, last_start) << "lane not in start order";
      last_start = n.all_start_micros;
      EXPECT_EQ(n.timeline_label.rfind(n.node_name + " = " + n.op + "(", 0), 0u)
          << n.timeline_label;
      copies += n.op == "_Copy";
      noops += n.op == "NoOp";
    }
  }
  ASSERT_TRUE(device_of.count("tower_0/model/Conv2D"));
  ASSERT_TRUE(device_of.count("tower_1/model/Conv2D"));
  EXPECT_NE(device_of["tower_0/model/Conv2D"].find("/device:CPU:0"), std::string::npos);
  EXPECT_NE(device_of["tower_1/model/Conv2D"].find("/device:CPU:1"), std::string::npos);
  EXPECT_NE(device_of["total"].find("/device:CPU:0"), std::string::npos);
  EXPECT_GE(copies, 1);  // tower_1's loss crosses to CPU:0 (and x to CPU:1)
  // Every graph node the run executed and every copy it made, no more.
  EXPECT_EQ(static_cast<std::int64_t>(device_of.size()) - copies,
            s.last_run_stats().nodes_executed + noops);
  // The conv ran a real kernel, whose label is recorded.
  for (const auto& lane : md.step_stats.dev_stats)
    for (const auto& n : lane.node_stats)
      if (n.op == "Conv2D") {
        EXPECT_FALSE(n.kernel_label.empty());
      }

  // An untraced run leaves the metadata alone.
  sf::RunMetadata none;
  s.run({t.loss}, {}, feed, {}, &none);
  EXPECT_TRUE(none.step_stats.dev_stats.empty());
}

TEST_F(TraceTest, ChromeTraceHasOneProcessPerLaneAndOneEventPerNode) {
  Towers t = build();
  sf::Session s({.device_count = {{"CPU", 2}}});
  s.run(sf::global_variables_initializer());
  sf::RunMetadata md;
  s.run({t.loss}, {},
        {{t.x, sf::Tensor::from_vector<float>(std::vector<float>(72, 1.0f), {2, 6, 6, 1})}},
        {.trace_level = sf::RunOptions::kFullTrace}, &md);
  const auto trace =
      nlohmann::json::parse(sf::timeline::Timeline(md.step_stats).generate_chrome_trace_format());
  ASSERT_TRUE(trace.contains("traceEvents"));
  std::size_t nodes = 0;
  for (const auto& lane : md.step_stats.dev_stats) nodes += lane.node_stats.size();
  std::set<std::string> processes;
  std::size_t ops = 0;
  bool conv_inputs = false;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "M") {
      processes.insert(e["args"]["name"].get<std::string>());
      continue;
    }
    ASSERT_EQ(e["ph"], "X");
    EXPECT_EQ(e["cat"], "Op");
    EXPECT_EQ(e["name"], e["args"]["op"]);
    EXPECT_GE(e["dur"].get<std::int64_t>(), 0);
    if (e["args"]["name"] == "tower_0/model/Conv2D")
      conv_inputs = e["args"]["input0"] == "x" && e["args"]["input1"] == "model/w/read";
    ++ops;
  }
  EXPECT_EQ(ops, nodes);
  EXPECT_EQ(processes.size(), md.step_stats.dev_stats.size());
  EXPECT_TRUE(processes.count("/job:localhost/replica:0/task:0/device:CPU:1 Compute"));
  EXPECT_TRUE(conv_inputs);
}

}  // namespace
