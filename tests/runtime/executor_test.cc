// The executor: cached plans, dataflow order (diamonds, control dependencies), errors in the
// middle of a step, copy nodes between 4 logical CPU devices, the inter-op pool and
// concurrent runs.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include "runtime/session/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

float scalar(sf::Session& s, const sf::Output& o, const sf::FeedDict& f = {}) {
  return s.run(o, f).scalar<float>();
}

// SessionOptions::pin_host_memory reaches the session's devices: with a GPU the CPU devices
// allocate page-locked memory (a cache of their own), without one nothing changes.
TEST_F(ExecutorTest, PinHostMemoryReachesTheCpuDevices) {
  sf::Session plain;
  EXPECT_EQ(plain.device_manager().cpu(0)->allocator().name(), "cpu_caching");
  sf::SessionOptions options{.device_count = {{"CPU", 2}}};
  options.pin_host_memory = true;
  sf::Session s(options);
  const bool gpu = s.device_manager().num_gpus() > 0;
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(s.device_manager().cpu(i)->allocator().name(),
              gpu ? "cuda_pinned_host" : "cpu_caching");
}

TEST_F(ExecutorTest, DiamondRunsOnceAndThePlanIsReused) {
  // On the CPU: with a GPU, the ops would go to GPU:0 and the fed host scalar would be copied
  // there (one copy node, as in TF); this test is about the plan.
  auto cpu = sf::device("/cpu:0");
  auto x = sf::placeholder(sf::float32, sf::Shape{}, "x");
  auto a = x * 2.0f;
  auto b = sf::identity(a) + 1.0f;
  auto c = sf::identity(a) * 3.0f;
  auto d = b + c;  // a is shared by both arms
  sf::Session s;
  EXPECT_EQ(scalar(s, d, {{x, sf::Tensor::from_scalar(1.0f)}}), 3.0f + 6.0f);
  auto first = s.last_run_stats();
  EXPECT_FALSE(first.plan_reused);
  EXPECT_EQ(first.plans_cached, 1);
  EXPECT_EQ(first.copies, 0);
  EXPECT_EQ(scalar(s, d, {{x, sf::Tensor::from_scalar(2.0f)}}), 5.0f + 12.0f);
  auto second = s.last_run_stats();
  EXPECT_TRUE(second.plan_reused);
  EXPECT_EQ(second.plans_cached, 1);
  EXPECT_EQ(second.nodes_executed, first.nodes_executed);
  // Another signature gets its own plan.
  EXPECT_EQ(scalar(s, c, {{x, sf::Tensor::from_scalar(1.0f)}}), 6.0f);
  EXPECT_EQ(s.last_run_stats().plans_cached, 2);
  // Feeding an intermediate tensor cuts its producers out of the step.
  EXPECT_EQ(scalar(s, d, {{a, sf::Tensor::from_scalar(10.0f)}}), 11.0f + 30.0f);
}

TEST_F(ExecutorTest, ControlDependenciesOrderStatefulOps) {
  auto v = sf::get_variable("counter", {}, {.initializer = sf::zeros_initializer()});
  auto inc = v.assign_add(sf::constant(1.0f));
  sf::Output after;
  {
    auto deps = sf::control_dependencies({inc.op()});
    after = sf::identity(v.value()) + 0.0f;
  }
  sf::Session s;
  s.run(v.initializer());
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(scalar(s, after), static_cast<float>(i));
}

TEST_F(ExecutorTest, AnErrorMidStepLeavesTheSessionUsable) {
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto p = sf::placeholder(sf::float32, sf::Shape::unknown(), "p");
  auto bad = sf::reshape(p, {2, 2});  // fails at run time for 3 elements
  auto inc = v.assign_add(sf::constant(1.0f));
  sf::Session s({.inter_op_parallelism_threads = 4});
  s.run(v.initializer());
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW(s.run({bad}, {inc.op()}, {{p, sf::Tensor::from_vector<float>({1, 2, 3})}}),
                 sf::InvalidArgumentError);
  }
  // Same plan, good input.
  auto ok = s.run({bad}, {}, {{p, sf::Tensor::from_vector<float>({1, 2, 3, 4})}});
  EXPECT_EQ(ok[0].shape(), sf::Shape({2, 2}));
  EXPECT_GE(scalar(s, v.value()), 0.0f);
  // An uninitialized read is an error in the middle of a step too, and the session recovers.
  auto w = sf::get_variable("w", {}, {.initializer = sf::ones_initializer()});
  auto uses_w = w.value() * 2.0f + v.value();
  EXPECT_THROW(s.run(uses_w), sf::FailedPreconditionError);
  s.run(w.initializer());
  EXPECT_EQ(scalar(s, uses_w), 2.0f + s.run(v.value()).scalar<float>());
}

// Towers on CPU:1..3 read a weight on CPU:0 and send results back: one copy node per
// cross-device edge, deduplicated per destination.
TEST_F(ExecutorTest, CopyNodesOnFourLogicalCpus) {
  sf::Variable w;
  {
    auto d = sf::device("/cpu:0");
    w = sf::get_variable("w", {4}, {.initializer = sf::constant_initializer(2.0)});
  }
  std::vector<sf::Output> towers;
  for (int i = 0; i < 4; ++i) {
    auto d = sf::device("/cpu:" + std::to_string(i));
    auto ns = sf::name_scope("tower_" + std::to_string(i));
    auto y = w.value() * static_cast<float>(i + 1);
    towers.push_back(sf::reduce_sum(y * w.value()));  // two reads, one copy
  }
  sf::Output total;
  {
    auto d = sf::device("/cpu:0");
    total = towers[0] + towers[1] + towers[2] + towers[3];
  }
  sf::Session s({.device_count = {{"CPU", 4}}, .inter_op_parallelism_threads = 4});
  s.run(w.initializer());
  EXPECT_EQ(scalar(s, total), 16.0f * (1 + 2 + 3 + 4));
  auto st = s.last_run_stats();
  EXPECT_EQ(st.copies, 6) << "w/read to CPU:1..3, tower sums back to CPU:0";
  EXPECT_EQ(st.bytes_copied, 3 * 16 + 3 * 4);
  ASSERT_EQ(st.copy_edges.size(), 6u);
  int to_cpu0 = 0, from_cpu0 = 0;
  for (const auto& e : st.copy_edges) {
    if (e.tensor == "w/read:0") {
      EXPECT_EQ(e.src_device, "/device:CPU:0");
      ++from_cpu0;
    } else {
      EXPECT_EQ(e.dst_device, "/device:CPU:0") << e.tensor;
      EXPECT_NE(e.tensor.find("tower_"), std::string::npos) << e.tensor;
      ++to_cpu0;
    }
  }
  EXPECT_EQ(from_cpu0, 3);
  EXPECT_EQ(to_cpu0, 3);
  EXPECT_EQ(s.assigned_device(towers[2].op()), "/job:localhost/replica:0/task:0/device:CPU:2");
}

// A wide graph gives the same bits inline and on the pool, and concurrent run() calls on one
// session each get their own step.
TEST_F(ExecutorTest, PoolAndConcurrentRunsAgreeWithInline) {
  auto x = sf::placeholder(sf::float32, sf::Shape{64}, "x");
  std::vector<sf::Output> branches;
  for (int i = 0; i < 32; ++i) {
    auto y = x;
    for (int k = 0; k < 8; ++k) y = y * (1.0f + 0.01f * static_cast<float>(i + k)) + 0.5f;
    branches.push_back(sf::reduce_sum(y));
  }
  auto total = branches[0];
  for (std::size_t i = 1; i < branches.size(); ++i) total = total + branches[i];
  std::vector<float> xs(64);
  for (int i = 0; i < 64; ++i) xs[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i);
  const sf::FeedDict feed = {{x, sf::Tensor::from_vector(xs)}};
  sf::Session inline_session({.inter_op_parallelism_threads = 1});
  const float want = scalar(inline_session, total, feed);
  sf::Session pooled({.inter_op_parallelism_threads = 4});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(scalar(pooled, total, feed), want);
  std::vector<std::thread> callers;
  std::vector<float> got(8);
  for (int t = 0; t < 8; ++t)
    callers.emplace_back(
        [&, t] { got[static_cast<std::size_t>(t)] = pooled.run(total, feed).scalar<float>(); });
  for (auto& t : callers) t.join();
  for (float g : got) EXPECT_EQ(g, want);
}

// Training steps run from several threads on one session (TF1's Hogwild pattern) update each
// variable one after another: no update is lost (a run's copy on write used to copy a buffer
// another run's kernel was still writing, and AssignAdd's read-add-write to interleave:
// 4 threads x 50 SGD steps lost 7-18% of them). Plain and grouped updates, and AssignAdd.
TEST_F(ExecutorTest, ConcurrentRunsLoseNoUpdate) {
  constexpr std::int64_t kN = std::int64_t{1} << 20;
  constexpr int kThreads = 4, kSteps = 25;
  for (const auto grouping :
       {sf::SessionOptions::UpdateGrouping::kOff, sf::SessionOptions::UpdateGrouping::kAll}) {
    sf::reset_default_graph();
    auto v = sf::get_variable("v", {kN}, {.initializer = sf::zeros_initializer()});
    auto w = sf::get_variable("w", {kN}, {.initializer = sf::zeros_initializer()});
    auto ones = sf::constant(std::vector<float>(static_cast<std::size_t>(kN), 1.0f), {kN});
    sf::train::MomentumOptimizer opt(1.0, 0.0);  // var and accum: two variables per update
    auto step = opt.apply_gradients({{ones, v}, {ones, w}});
    auto count = sf::get_variable("count", sf::Shape{}, {.initializer = sf::zeros_initializer()});
    auto inc = count.assign_add(sf::constant(1.0f));
    sf::Session s({.inter_op_parallelism_threads = 2, .group_updates = grouping});
    s.run(sf::global_variables_initializer());
    std::vector<std::thread> callers;
    for (int t = 0; t < kThreads; ++t)
      callers.emplace_back([&] {
        for (int i = 0; i < kSteps; ++i) {
          s.run(step);
          for (int j = 0; j < 20; ++j) s.run(inc);
        }
      });
    for (auto& t : callers) t.join();
    for (const auto& var : {v, w}) {
      const auto got = s.run(var).to_vector<float>();
      const float want = -static_cast<float>(kThreads * kSteps);
      EXPECT_EQ(std::count(got.begin(), got.end(), want), kN)
          << var.name() << " grouping " << static_cast<int>(grouping) << ": first " << got[0]
          << ", last " << got.back();
    }
    EXPECT_EQ(s.run(count).scalar<float>(), static_cast<float>(kThreads * kSteps * 20));
  }
}

TEST_F(ExecutorTest, RandomOpsDrawFreshNumbersEachRun) {
  sf::set_random_seed(7);
  auto r = sf::random_uniform({16});
  sf::Session s({.inter_op_parallelism_threads = 4});
  auto a = s.run(r).to_vector<float>();
  auto b = s.run(r).to_vector<float>();
  EXPECT_NE(a, b);
  sf::Session fresh;
  EXPECT_EQ(fresh.run(r).to_vector<float>(), a) << "op seed fixes the sequence per session";
}

// Optimizer updates copy on write while readers of the step still hold the variable's
// buffer: every read in a step sees the pre-update value, whatever the schedule (the race of
// TF1's ref variables, which made multi-tower results depend on thread timing).
// The read has no edge to the update: the plan orders it first (a GPU's Identity, or a CPU read
// of 2^15 elements, is "expensive" and goes to the pool, where it raced the update).
TEST_F(ExecutorTest, ReadsInAStepSeeThePreUpdateValue) {
  for (const std::int64_t n : {std::int64_t{2}, std::int64_t{1} << 15}) {
    sf::reset_default_graph();
    const auto size = static_cast<std::size_t>(n);
    auto v = sf::get_variable("v", {n}, {.initializer = sf::ones_initializer()});
    auto r = v.value();
    sf::train::GradientDescentOptimizer opt(1.0);
    auto upd =
        opt.apply_gradients({{sf::constant(std::vector<float>(size, 1.0f), sf::Shape{n}), v}});
    sf::Output late;
    {
      auto deps = sf::control_dependencies({upd});
      late = sf::identity(r) * 10.0f;
    }
    for (int threads : {1, 4}) {
      sf::Session s({.inter_op_parallelism_threads = threads});
      s.run(v.initializer());
      for (int step = 0; step < 20; ++step) {
        const float before = 1.0f - static_cast<float>(step);
        EXPECT_EQ(s.run(late).to_vector<float>(), std::vector<float>(size, 10.0f * before))
            << n << " elements, " << threads << " threads, step " << step;
        EXPECT_EQ(s.run(r).to_vector<float>(), std::vector<float>(size, before - 1.0f));
      }
    }
  }
}

// Without readers still holding the buffer, an update writes in place (no copy per step).
TEST_F(ExecutorTest, UpdatesWithoutPendingReadersAreInPlace) {
  auto v = sf::get_variable("v", {1024}, {.initializer = sf::ones_initializer()});
  auto loss = sf::reduce_sum(v.value() * v.value());
  sf::train::MomentumOptimizer opt(0.1, 0.9);
  auto step = opt.minimize(loss);
  sf::Session s;
  s.run(sf::global_variables_initializer());
  s.run(step);
  const void* before = s.variable_value("v").raw_data();
  for (int i = 0; i < 3; ++i) s.run(step);
  EXPECT_EQ(s.variable_value("v").raw_data(), before);
  EXPECT_LT(s.run(v.value()).to_vector<float>()[0], 1.0f) << "and it did train";
}

TEST_F(ExecutorTest, BadOptionsAreRejected) {
  EXPECT_THROW(sf::Session({.inter_op_parallelism_threads = -1}), sf::InvalidArgumentError);
}

}  // namespace

// A Const on a GPU is copied to the device once per session, not once per plan: many fetch
// signatures over it (each a cached plan, never evicted) must not multiply its memory.
TEST_F(ExecutorTest, GpuConstCopiesAreSharedByPlans) {
  if (sf::devices::DeviceManager().num_gpus() == 0)
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::why_unavailable("GPU:0");
  const std::int64_t n = 1 << 20;  // 4 MiB of floats
  std::vector<sf::Output> outs;
  // Each multiplier is fed, so that constant folding (which would hold each product as a
  // constant of its own) leaves the products to the kernels: this is about the Const's copies.
  auto k = sf::placeholder(sf::float32, sf::Shape{}, "k");
  {
    auto d = sf::device("/gpu:0");
    auto big = sf::constant(sf::Tensor::from_vector(std::vector<float>(n, 1.0f), sf::Shape{n}));
    for (int i = 0; i < 12; ++i) outs.push_back(big * (k + static_cast<float>(i)));
  }
  sf::Session s;
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(s.run(outs[static_cast<std::size_t>(i)], {{k, sf::Tensor::from_scalar(0.0f)}})
                  .to_vector<float>()[0],
              static_cast<float>(i));
  EXPECT_EQ(s.last_run_stats().plans_cached, 12);
  const auto stats = s.device_manager().gpu(0)->allocator().stats();
  EXPECT_LT(stats.bytes_in_use, 3 * n * 4)
      << "a device copy of the Const per plan? " << stats.to_string();
}

// TF has no GPU kernel for DT_STRING: a string variable with no device lands on the CPU while a
// float one goes to GPU:0; a GPU request falls back under soft placement and is an error without.
TEST_F(ExecutorTest, StringVariablesArePlacedOnTheCpu) {
  if (sf::devices::DeviceManager().num_gpus() == 0)
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::why_unavailable("GPU:0");
  auto f = sf::get_variable("f", {2});
  auto str = sf::get_variable("str", {}, {.dtype = sf::string});
  sf::Variable pinned;
  {
    auto d = sf::device("/gpu:0");
    pinned = sf::get_variable("pinned", {}, {.dtype = sf::string});
  }
  sf::Session s;
  EXPECT_EQ(s.assigned_device(f.op()), "/job:localhost/replica:0/task:0/device:GPU:0");
  EXPECT_EQ(s.assigned_device(str.op()), "/job:localhost/replica:0/task:0/device:CPU:0");
  EXPECT_EQ(s.assigned_device(pinned.op()), "/job:localhost/replica:0/task:0/device:CPU:0");
  s.run(sf::global_variables_initializer());
  EXPECT_EQ(s.run(str.value()).to_strings(), std::vector<std::string>{""});
  sf::Session strict({.allow_soft_placement = false});
  EXPECT_THROW(strict.assigned_device(pinned.op()), sf::InvalidArgumentError);
}

// The session's inter-op pool: a thread waiting for its run helps with queued tasks, so a run
// whose step went to a busy pool still finishes (the caller runs it), in order.
TEST(InterOpPoolTest, AWaitingThreadRunsQueuedTasks) {
  sf::ThreadPool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  pool.schedule([&] {  // occupies the only worker until released
    std::unique_lock<std::mutex> lock(mu);
    started = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return started; });
  }
  std::atomic<bool> done{false};
  std::thread::id ran_on;
  pool.schedule([&] {
    ran_on = std::this_thread::get_id();
    done.store(true);
    pool.wake();
  });
  pool.help_until([&] { return done.load(); });  // would hang if it only waited
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
}
