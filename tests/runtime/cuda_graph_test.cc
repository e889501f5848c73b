// SessionOptions::use_cuda_graphs. Here (any machine): the eligibility analysis, and the
// option on CPU graphs (accepted, same results, RunStats says why no graph). With a GPU: a
// small training step (conv, matmul, relu, dropout, softmax xent, Adam) replayed gives the
// parameters and fetches of ordinary runs bit for bit; per-step feeds, fetched tensors that
// later replays must not change, fetched variables, a new feed shape (fallback, recapture).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>

#include "runtime/session/cuda_graph.h"

namespace {

namespace cg = sf::cuda_graph;

cg::StepInfo info(bool in_graph, bool work, std::vector<int> succ, std::string name = "s") {
  cg::StepInfo s;
  s.in_graph = in_graph;
  s.work = work;
  s.successors = std::move(succ);
  s.name = std::move(name);
  return s;
}

TEST(CudaGraphAnalysisTest, AllGpuWorkIsEligible) {
  auto e = cg::analyze({info(true, true, {1}), info(true, true, {2}), info(true, false, {})});
  EXPECT_TRUE(e.eligible) << e.reason;
  EXPECT_EQ(e.graph_work, 2);
  EXPECT_FALSE(e.host_work);
}

TEST(CudaGraphAnalysisTest, IndependentHostWorkRunsBesideTheGraph) {
  // gpu0 -> noop <- host (a train_op grouping GPU updates and a host global_step increment)
  auto e = cg::analyze({info(true, true, {1}), info(true, false, {}), info(false, true, {1})});
  EXPECT_TRUE(e.eligible) << e.reason;
  EXPECT_TRUE(e.host_work);
}

TEST(CudaGraphAnalysisTest, HostWorkBetweenGpuStepsIsNot) {
  // gpu -> (noop) -> host: the host step needs the GPU's result
  auto after = cg::analyze({info(true, true, {1}, "mm (MatMul)"), info(false, false, {2}),
                            info(false, true, {}, "argmax (ArgMax)")});
  EXPECT_FALSE(after.eligible);
  EXPECT_EQ(after.reason, "host step argmax (ArgMax) runs after GPU step mm (MatMul)");
  auto before = cg::analyze({info(false, true, {1}, "h (Add)"), info(true, true, {}, "g (Mul)")});
  EXPECT_FALSE(before.eligible);
  EXPECT_EQ(before.reason, "host step h (Add) runs before GPU step g (Mul)");
}

TEST(CudaGraphAnalysisTest, BlockersAndNoGpuWork) {
  auto blocked = info(true, true, {}, "r (Reshape)");
  blocked.blocker = "reads input 1 on the host";
  auto e = cg::analyze({info(true, true, {}), blocked});
  EXPECT_FALSE(e.eligible);
  EXPECT_EQ(e.reason, "r (Reshape): reads input 1 on the host");
  auto none = cg::analyze({info(false, true, {}), info(true, false, {})});
  EXPECT_FALSE(none.eligible);
  EXPECT_EQ(none.reason, "no GPU step");
}

class CudaGraphSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

// A CPU training step: the option is accepted, results equal the option off, and the stats
// say why there is no graph.
TEST_F(CudaGraphSessionTest, CpuGraphsRunOrdinarilyWithTheReason) {
  auto run = [](bool graphs) {
    sf::reset_default_graph();
    sf::set_random_seed(7);
    auto x = sf::placeholder(sf::float32, {4, 3}, "x");
    auto w = sf::get_variable("w", {3, 2});
    auto loss = sf::reduce_mean(sf::matmul(x, w) * sf::matmul(x, w));
    auto step = sf::train::AdamOptimizer(0.01).minimize(loss);
    sf::Session s({.device_count = {{"GPU", 0}}, .use_cuda_graphs = graphs});
    s.run(sf::global_variables_initializer());
    std::vector<float> losses;
    for (int i = 0; i < 4; ++i) {
      std::vector<float> xs(12);
      for (int k = 0; k < 12; ++k)
        xs[static_cast<std::size_t>(k)] = 0.1f * static_cast<float>(k + i);
      auto r = s.run({loss}, {step}, {{x, sf::Tensor::from_vector(xs, {4, 3})}});
      losses.push_back(r[0].scalar<float>());
      EXPECT_EQ(s.last_run_stats().cuda_graph, graphs ? "ineligible: no GPU step" : "off");
    }
    losses.push_back(0);
    for (float v : s.run(w.value()).to_vector<float>()) losses.push_back(v);
    return losses;
  };
  EXPECT_EQ(run(true), run(false));
}

TEST_F(CudaGraphSessionTest, OptionOffReportsOff) {
  auto c = sf::constant(2.0f) * 3.0f;
  sf::Session s;
  EXPECT_EQ(s.run(c).scalar<float>(), 6.0f);
  EXPECT_EQ(s.last_run_stats().cuda_graph, "off");
}

// ---------------------------------------------------------------- GPU
bool have_gpu() { return !sf::devices::gpu_inventory().gpus.empty(); }
#define SKIP_WITHOUT_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no GPU: " << sf::devices::gpu_inventory().unavailable_reason

struct Net {
  sf::Output images, labels, loss, logits;
  sf::Operation train;
  std::vector<sf::Variable> vars;
};

// conv 5x5x4 -> relu -> maxpool -> dense 32 (relu, dropout 0.5) -> dense 10 -> xent, Adam.
Net build_net(std::int64_t batch) {
  sf::reset_default_graph();
  sf::set_random_seed(3);
  Net n;
  sf::device d("/device:GPU:0");
  n.images = sf::placeholder(sf::float32, {batch, 8, 8, 1}, "images");
  n.labels = sf::placeholder(sf::int32, {batch}, "labels");
  auto wc = sf::get_variable("conv/w", {5, 5, 1, 4},
                             {.initializer = sf::truncated_normal_initializer(0.0, 0.1)});
  auto bc = sf::get_variable("conv/b", {4}, {.initializer = sf::constant_initializer(0.1)});
  auto h = sf::nn::relu(sf::nn::bias_add(sf::nn::conv2d(n.images, wc, {1, 1, 1, 1}, "SAME"), bc));
  h = sf::nn::max_pool(h, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME");
  h = sf::reshape(h, {batch, 4 * 4 * 4});
  auto w1 = sf::get_variable("fc1/w", {64, 32},
                             {.initializer = sf::truncated_normal_initializer(0.0, 0.1)});
  auto w2 = sf::get_variable("fc2/w", {32, 10},
                             {.initializer = sf::truncated_normal_initializer(0.0, 0.1)});
  auto f = sf::nn::dropout(sf::nn::relu(sf::matmul(h, w1)), 0.5);
  n.logits = sf::matmul(f, w2);
  n.loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(n.labels, n.logits));
  n.train = sf::train::AdamOptimizer(0.01).minimize(n.loss);
  n.vars = {wc, bc, w1, w2};
  return n;
}

sf::FeedDict batch_feed(const Net& n, std::int64_t batch, int step) {
  std::vector<float> img(static_cast<std::size_t>(batch * 64));
  std::vector<std::int32_t> lab(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < img.size(); ++i)
    img[i] = static_cast<float>((i * 7 + static_cast<std::size_t>(step) * 13) % 17) / 17.0f;
  for (std::size_t i = 0; i < lab.size(); ++i)
    lab[i] = static_cast<std::int32_t>((i + static_cast<std::size_t>(step)) % 10);
  return {{n.images, sf::Tensor::from_vector(img, {batch, 8, 8, 1})},
          {n.labels, sf::Tensor::from_vector(lab, {batch})}};
}

struct Trace {
  std::vector<float> losses, params;
  std::vector<std::string> states;
};

Trace train(bool graphs, int steps) {
  Net n = build_net(16);
  sf::Session s({.inter_op_parallelism_threads = 1, .use_cuda_graphs = graphs});
  s.run(sf::global_variables_initializer());
  Trace t;
  for (int i = 0; i < steps; ++i) {
    auto r = s.run({n.loss}, {n.train}, batch_feed(n, 16, i));
    t.losses.push_back(r[0].scalar<float>());
    t.states.push_back(s.last_run_stats().cuda_graph);
  }
  for (auto& v : n.vars)
    for (float x : s.run(v.value()).to_vector<float>()) t.params.push_back(x);
  return t;
}

TEST_F(CudaGraphSessionTest, ReplayedTrainingIsBitIdentical) {
  SKIP_WITHOUT_GPU();
  const Trace plain = train(false, 8), graph = train(true, 8);
  ASSERT_EQ(graph.states[0], "warmup");
  ASSERT_EQ(graph.states[1], "captured");
  for (std::size_t i = 2; i < graph.states.size(); ++i) EXPECT_EQ(graph.states[i], "replayed");
  EXPECT_EQ(graph.losses, plain.losses) << "per-step feeds, dropout and Adam through replays";
  EXPECT_EQ(graph.params, plain.params);
}

TEST_F(CudaGraphSessionTest, FetchesAreSnapshotsAndVariablesStayConsistent) {
  SKIP_WITHOUT_GPU();
  Net n = build_net(16);
  // One executor thread: a reader of a variable still holding it while the optimizer updates it
  // would make the update copy on write, which fails a capture (the run is then ordinary).
  sf::Session s({.inter_op_parallelism_threads = 1, .use_cuda_graphs = true});
  s.run(sf::global_variables_initializer());
  std::vector<sf::Tensor> logits;
  std::vector<std::vector<float>> copies;
  for (int i = 0; i < 5; ++i) {
    auto r = s.run({n.logits}, {n.train}, batch_feed(n, 16, i));
    logits.push_back(r[0]);
    copies.push_back(r[0].to_vector<float>());
  }
  EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
  for (std::size_t i = 0; i < logits.size(); ++i)
    EXPECT_EQ(logits[i].to_vector<float>(), copies[i]) << "step " << i << "'s fetch changed";
  EXPECT_NE(copies[3], copies[4]);
  // (loss, train) is a plan of its own: its 1st run warms up, its 2nd captures.
  for (int i = 5; i < 7; ++i) s.run({n.loss}, {n.train}, batch_feed(n, 16, i));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "captured");
  // A fetched variable is a copy; the next replay must not change it.
  auto w_before = s.run(n.vars[2].value());
  auto w_copy = w_before.to_vector<float>();
  s.run({n.loss}, {n.train}, batch_feed(n, 16, 9));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
  EXPECT_EQ(w_before.to_vector<float>(), w_copy);
  EXPECT_NE(s.run(n.vars[2].value()).to_vector<float>(), w_copy);
  // Holding the variable's own buffer (variable_value) makes the next run ordinary (copy on
  // write keeps the held value); afterwards graphs come back.
  sf::Tensor held = s.variable_value(n.vars[2].op().name());
  auto held_copy = held.to_vector<float>();
  s.run({n.loss}, {n.train}, batch_feed(n, 16, 10));
  EXPECT_EQ(s.last_run_stats().cuda_graph.rfind("fallback: variable", 0), 0u)
      << s.last_run_stats().cuda_graph;
  EXPECT_EQ(held.to_vector<float>(), held_copy);
  held = sf::Tensor();
  s.run({n.loss}, {n.train}, batch_feed(n, 16, 11));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "captured");
  s.run({n.loss}, {n.train}, batch_feed(n, 16, 12));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
  // Held when a signature would be captured: no capture (the update would copy on write, a
  // copy that fails it), the run is ordinary and keeps the held value; the next run captures.
  s.run({n.loss, n.logits}, {n.train}, batch_feed(n, 16, 13));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "warmup");
  held = s.variable_value(n.vars[2].op().name());
  held_copy = held.to_vector<float>();
  s.run({n.loss, n.logits}, {n.train}, batch_feed(n, 16, 14));
  EXPECT_EQ(s.last_run_stats().cuda_graph.rfind("fallback: variable", 0), 0u)
      << s.last_run_stats().cuda_graph;
  EXPECT_EQ(held.to_vector<float>(), held_copy);
  held = sf::Tensor();
  s.run({n.loss, n.logits}, {n.train}, batch_feed(n, 16, 15));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "captured");
  s.run({n.loss, n.logits}, {n.train}, batch_feed(n, 16, 16));
  EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
}

TEST_F(CudaGraphSessionTest, AFeedOfANewShapeFallsBackAndRecaptures) {
  SKIP_WITHOUT_GPU();
  sf::device d("/device:GPU:0");
  auto x = sf::placeholder(sf::float32, sf::Shape::unknown(), "x");
  auto y = sf::nn::relu(x * 2.0f) + 1.0f;
  sf::Session s({.use_cuda_graphs = true});
  auto feed = [&](std::int64_t n, float v) {
    return sf::FeedDict{
        {x, sf::Tensor::from_vector(std::vector<float>(static_cast<std::size_t>(n), v))}};
  };
  std::vector<std::string> states;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.run(y, feed(4, static_cast<float>(i))).to_vector<float>(),
              std::vector<float>(4, 2.0f * static_cast<float>(i) + 1.0f));
    states.push_back(s.last_run_stats().cuda_graph);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.run(y, feed(6, 1.0f)).to_vector<float>(), std::vector<float>(6, 3.0f));
    states.push_back(s.last_run_stats().cuda_graph);
  }
  EXPECT_EQ(s.run(y, feed(4, 5.0f)).to_vector<float>(), std::vector<float>(4, 11.0f));
  states.push_back(s.last_run_stats().cuda_graph);
  EXPECT_EQ(states, (std::vector<std::string>{"warmup", "captured", "replayed", "warmup",
                                              "captured", "replayed", "replayed"}));
}

TEST_F(CudaGraphSessionTest, HostReadsOfGpuResultsAreIneligible) {
  SKIP_WITHOUT_GPU();
  sf::Output y;
  {
    sf::device d("/device:GPU:0");
    y = sf::constant(std::vector<float>{1, 2, 3}, {3}) * 2.0f;
  }
  sf::Output z;
  {
    sf::device d("/device:CPU:0");
    z = y + 1.0f;
  }
  sf::Session s({.use_cuda_graphs = true});
  EXPECT_EQ(s.run(z).to_vector<float>(), (std::vector<float>{3, 5, 7}));
  EXPECT_EQ(s.last_run_stats().cuda_graph.rfind("ineligible: ", 0), 0u);
}

// A capture that fails in the middle (here: the fetched variable keeps its buffer held, so the
// optimizer's copy on write needs a synchronous copy, which the CaptureGuard refuses) must end
// the capture, release what it held, restore the random counters (dropout) and run the step
// ordinarily: every step equals a run without graphs, and after kMaxFailedCaptures the plan
// stays ordinary. Also the first run of the abort path on a real GPU. (A step that finds the
// variable still held before it captures -- the previous step's buffers are released when its
// stream work completes -- runs ordinarily without trying: "fallback: variable ... held".)
TEST_F(CudaGraphSessionTest, AFailedCaptureRunsTheStepOrdinarily) {
  SKIP_WITHOUT_GPU();
  auto run = [](bool graphs) {
    Net n = build_net(16);
    sf::Session s({.use_cuda_graphs = graphs});
    s.run(sf::global_variables_initializer());
    Trace t;
    for (int i = 0; i < 6; ++i) {
      auto r = s.run({n.loss, n.vars[2].value()}, {n.train}, batch_feed(n, 16, i));
      t.losses.push_back(r[0].scalar<float>());
      for (float x : r[1].to_vector<float>()) t.params.push_back(x);
      t.states.push_back(s.last_run_stats().cuda_graph);
    }
    for (auto& v : n.vars)
      for (float x : s.run(v.value()).to_vector<float>()) t.params.push_back(x);
    return t;
  };
  const Trace plain = run(false), graph = run(true);
  ASSERT_EQ(graph.states[0], "warmup");
  int failed = 0;
  for (std::size_t i = 1; i < graph.states.size(); ++i) {
    const std::string& st = graph.states[i];
    if (st.rfind("fallback: capture failed: ", 0) == 0)
      ++failed;
    else if (st.rfind("fallback: variable ", 0) == 0)  // seen held before capturing: no attempt
      EXPECT_NE(st.find(" is also held elsewhere"), std::string::npos) << "step " << i;
    else
      EXPECT_TRUE(st.rfind("ineligible: capture failed: ", 0) == 0 || st == "captured" ||
                  st == "replayed")
          << "step " << i << ": " << st;
  }
  EXPECT_GE(failed, 1) << "expected the held variable to fail the capture";
  EXPECT_LE(failed, sf::cuda_graph::kMaxFailedCaptures);
  EXPECT_EQ(graph.losses, plain.losses);
  EXPECT_EQ(graph.params, plain.params);
}

// An out-of-range label on the GPU: the kernel cannot raise mid-step, so the session raises the
// CPU kernel's error once the step has run (kernels::DeferredCheck), in an ordinary run and in a
// replay alike. The bad row's gradient is zero (not TF's GPU NaN), so a training step on the bad
// batch leaves every weight finite, and the next good batch trains (and replays) as before.
TEST_F(CudaGraphSessionTest, OutOfRangeLabelsAreErrorsInReplaysToo) {
  SKIP_WITHOUT_GPU();
  for (bool graphs : {false, true}) {
    SCOPED_TRACE(graphs ? "CUDA graphs" : "ordinary runs");
    Net n = build_net(16);
    sf::Session s({.use_cuda_graphs = graphs});
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 3; ++i) s.run({n.loss}, {n.train}, batch_feed(n, 16, i));
    if (graphs) {
      EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
    }
    auto bad = batch_feed(n, 16, 0);
    auto labels = bad[1].second.to_vector<std::int32_t>();
    labels[5] = 10;
    labels[9] = -3;
    bad[1].second = sf::Tensor::from_vector(labels, {16});
    std::string msg;
    try {
      s.run({n.loss}, {n.train}, bad);
    } catch (const sf::InvalidArgumentError& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find("Received a label value of 10 which is outside the valid range of [0, 10)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("row 5's loss is NaN and its gradient zero"), std::string::npos) << msg;
    for (const auto& v : n.vars)
      for (float x : s.run(v.value()).to_vector<float>()) ASSERT_TRUE(std::isfinite(x)) << v.name();
    const float good = s.run({n.loss}, {n.train}, batch_feed(n, 16, 1))[0].scalar<float>();
    EXPECT_TRUE(std::isfinite(good));
    // (A step right after the fetches may find a variable still held and recapture.)
    for (int i = 2; i < 5; ++i) s.run({n.loss}, {n.train}, batch_feed(n, 16, i));
    if (graphs) {
      EXPECT_EQ(s.last_run_stats().cuda_graph, "replayed");
    }
  }
}

// With the default inter-op pool, every step after the capture replays: a run's tensors (an
// Apply's output is its variable's buffer) are dropped when run() returns, not when the last
// pool task lets go of the run, which made the next step see the variable "held elsewhere" and
// fall back in 22 of 100 H200 runs of the test above.
TEST_F(CudaGraphSessionTest, ReplaysEveryStepWithTheInterOpPool) {
  SKIP_WITHOUT_GPU();
  Net n = build_net(16);
  sf::Session s({.use_cuda_graphs = true});
  s.run(sf::global_variables_initializer());
  for (int i = 0; i < 30; ++i) {
    s.run({n.loss}, {n.train}, batch_feed(n, 16, i));
    const std::string st = s.last_run_stats().cuda_graph;
    if (i == 0)
      EXPECT_EQ(st, "warmup");
    else if (i == 1)
      EXPECT_EQ(st, "captured");
    else
      EXPECT_EQ(st, "replayed") << "step " << i;
  }
}

TEST_F(CudaGraphSessionTest, BooleanMaskOnAGpuIsIneligible) {
  SKIP_WITHOUT_GPU();
  sf::Output y;
  {
    sf::device d("/device:GPU:0");
    auto x = sf::constant(std::vector<float>{1, 2, 3, 4}, {4});
    auto m = sf::greater(x, sf::constant(1.5f));  // a mask computed on the GPU
    y = sf::boolean_mask(x, m) * 2.0f;
  }
  sf::Session s({.use_cuda_graphs = true});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.run(y).to_vector<float>(), (std::vector<float>{4, 6, 8}));
    const std::string st = s.last_run_stats().cuda_graph;
    EXPECT_EQ(st.rfind("ineligible: ", 0), 0u) << st;
    EXPECT_NE(st.find("(Where)"), std::string::npos) << st;
  }
}

}  // namespace
