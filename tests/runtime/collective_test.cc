// NcclAllReduce and the executor's collective step: the op (attrs, shapes, TF's gradient), the
// host reduction on 4 logical CPU devices with 1 and 4 inter-op threads, the plan-time and
// run-time errors (InvalidArgumentError naming the nodes), and on GPUs (skipped without one)
// logical GPUs sharing a card (ScopeFlow's fused kernel) and NCCL across physical GPUs.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <limits>

#include "runtime/session/collective.h"

namespace {

class CollectiveTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
  sf::SessionOptions cpus(int k) const {
    return {.device_count = {{"CPU", k}}, .inter_op_parallelism_threads = GetParam()};
  }
};

// x_i = [i+1, -(i+1), 10*(i+1)] on /device:CPU:i, i < k.
std::vector<sf::Output> inputs_on_cpus(int k) {
  std::vector<sf::Output> x;
  for (int i = 0; i < k; ++i) {
    sf::device d(sf::str_cat("/device:CPU:", i));
    const float v = static_cast<float>(i + 1);
    x.push_back(sf::constant(std::vector<float>{v, -v, 10 * v}, {3}, sf::str_cat("x", i)));
  }
  return x;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const sf::InvalidArgumentError& e) {
    return e.what();
  }
  return "(no InvalidArgumentError)";
}

TEST_P(CollectiveTest, BuilderMakesOneNodePerTensorWithTfAttrs) {
  auto x = inputs_on_cpus(4);
  auto y = sf::nccl::all_sum(x);
  ASSERT_EQ(y.size(), 4u);
  const std::string shared = y[0].op().attrs().get<std::string>("shared_name");
  for (int i = 0; i < 4; ++i) {
    const auto& op = y[static_cast<std::size_t>(i)].op();
    EXPECT_EQ(op.type(), "NcclAllReduce");
    EXPECT_EQ(op.name(), i == 0 ? "NcclAllReduce" : sf::str_cat("NcclAllReduce_", i));
    EXPECT_EQ(op.attrs().get<std::string>("reduction"), "sum");
    EXPECT_EQ(op.attrs().get<std::int64_t>("num_devices"), 4);
    EXPECT_EQ(op.attrs().get<std::string>("shared_name"), shared);
    EXPECT_EQ(op.device(), sf::str_cat("/device:CPU:", i));
    EXPECT_EQ(y[static_cast<std::size_t>(i)].shape(), sf::Shape({3}));
    EXPECT_EQ(y[static_cast<std::size_t>(i)].dtype(), sf::float32);
  }
  auto z = sf::nccl::all_max(x);
  EXPECT_NE(z[0].op().attrs().get<std::string>("shared_name"), shared) << "a fresh group per call";
  EXPECT_EQ(z[0].op().attrs().get<std::string>("reduction"), "max");
  EXPECT_THROW(sf::nccl::all_sum({}), sf::ValueError);
  EXPECT_THROW(sf::nccl::all_sum({x[0], sf::constant(std::vector<int>{1, 2, 3}, {3})}),
               sf::ValueError);
  EXPECT_THROW(sf::nccl::all_sum({x[0], sf::constant(std::vector<float>{1, 2}, {2})}),
               sf::ValueError);
  // Attr checks of the op itself.
  sf::AttrMap bad;
  bad.set("reduction", std::string("mean"));
  bad.set("num_devices", std::int64_t{1});
  bad.set("shared_name", std::string("s"));
  EXPECT_THROW(sf::get_default_graph().create_op("NcclAllReduce", {x[0]}, bad, "bad"),
               sf::ValueError);
}

TEST_P(CollectiveTest, EveryReductionLandsOnEveryDevice) {
  auto x = inputs_on_cpus(4);
  auto sum = sf::nccl::all_sum(x);
  auto prod = sf::nccl::all_prod(x);
  auto mn = sf::nccl::all_min(x);
  auto mx = sf::nccl::all_max(x);
  sf::Session s(cpus(4));
  std::vector<sf::Output> fetches;
  for (const auto* group : {&sum, &prod, &mn, &mx})
    for (const auto& o : *group) fetches.push_back(o);
  for (int round = 0; round < 2; ++round) {  // the second run reuses the plan
    auto got = s.run(fetches);
    for (int i = 0; i < 4; ++i) {
      const auto at = [&](int group) { return got[static_cast<std::size_t>(4 * group + i)]; };
      EXPECT_EQ(at(0).to_vector<float>(), (std::vector<float>{10, -10, 100})) << i;
      EXPECT_EQ(at(1).to_vector<float>(), (std::vector<float>{24, 24, 240000})) << i;
      EXPECT_EQ(at(2).to_vector<float>(), (std::vector<float>{1, -4, 10})) << i;
      EXPECT_EQ(at(3).to_vector<float>(), (std::vector<float>{4, -1, 40})) << i;
      EXPECT_EQ(s.assigned_device(sum[static_cast<std::size_t>(i)].op()),
                sf::str_cat("/job:localhost/replica:0/task:0/device:CPU:", i));
    }
  }
  EXPECT_TRUE(s.last_run_stats().plan_reused);
}

TEST_P(CollectiveTest, IntegerAndDoubleTypesAndNaN) {
  std::vector<sf::Output> ints, doubles;
  for (int i = 0; i < 3; ++i) {
    sf::device d(sf::str_cat("/device:CPU:", i));
    ints.push_back(sf::constant(
        sf::Tensor::from_vector(std::vector<std::int64_t>{i + 1, (std::int64_t{1} << 40) * i})));
    doubles.push_back(sf::constant(
        sf::Tensor::from_vector(std::vector<double>{0.1 * (i + 1), i == 1 ? std::nan("") : 1.0})));
  }
  auto isum = sf::nccl::all_sum(ints);
  auto dmax = sf::nccl::all_max(doubles);
  auto dmin = sf::nccl::all_min(doubles);
  sf::Session s(cpus(3));
  // Every participant of each group runs (fetching one of them alone is an error, see below).
  auto all =
      s.run({isum[0], isum[1], isum[2], dmax[0], dmax[1], dmax[2], dmin[0], dmin[1], dmin[2]});
  std::vector<sf::Tensor> got = {all[2], all[3], all[7]};
  EXPECT_EQ(got[0].to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{6, (std::int64_t{1} << 40) * 3}));
  const auto mx = got[1].to_vector<double>();
  const auto mn = got[2].to_vector<double>();
  EXPECT_DOUBLE_EQ(mx[0], 0.1 * 3);
  EXPECT_TRUE(std::isnan(mx[1])) << "max propagates NaN";
  EXPECT_DOUBLE_EQ(mn[0], 0.1);
  EXPECT_TRUE(std::isnan(mn[1])) << "min propagates NaN";
}

TEST_P(CollectiveTest, FedInputsAndTheSumOrderIsTheDeviceOrder) {
  // Participants created in reverse device order still reduce as CPU:0 + CPU:1 + CPU:2.
  std::vector<sf::Output> x;
  for (int i = 2; i >= 0; --i) {
    sf::device d(sf::str_cat("/device:CPU:", i));
    x.push_back(sf::placeholder(sf::float32, sf::Shape{1}, sf::str_cat("p", i)));
  }
  auto y = sf::nccl::all_sum(x);
  sf::Session s(cpus(3));
  // (1e8 + -1e8) + 1 = 1, while 1 + (-1e8) + 1e8 rounds to 0 in float32.
  const float v[3] = {1e8f, -1e8f, 1.0f};  // for CPU:0, CPU:1, CPU:2
  sf::FeedDict feed;
  for (int j = 0; j < 3; ++j)
    feed.emplace_back(x[static_cast<std::size_t>(j)],
                      sf::Tensor::from_vector(std::vector<float>{v[2 - j]}));
  for (const auto& out : s.run(y, feed)) EXPECT_EQ(out.to_vector<float>()[0], 1.0f);
}

TEST_P(CollectiveTest, GradientOfAnAllSumIsAnAllSum) {
  auto x = inputs_on_cpus(3);
  auto y = sf::nccl::all_sum(x);
  // loss = sum_i c_i * sum(y_i), c_i = i + 1: d loss / d x_j = c_0 + c_1 + c_2 = 6 everywhere.
  sf::Output loss;
  for (int i = 0; i < 3; ++i) {
    sf::device d(sf::str_cat("/device:CPU:", i));
    auto term = sf::reduce_sum(y[static_cast<std::size_t>(i)] * static_cast<float>(i + 1));
    loss = i == 0 ? term : loss + term;
  }
  auto grads = sf::gradients(loss, x);
  ASSERT_EQ(grads.size(), 3u);
  const std::string shared = y[0].op().attrs().get<std::string>("shared_name");
  for (const auto& g : grads) {
    EXPECT_EQ(g.op().type(), "NcclAllReduce");
    EXPECT_EQ(g.op().attrs().get<std::string>("shared_name"), shared + "_grad");
  }
  sf::Session s(cpus(3));
  auto got = s.run(grads);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(got[static_cast<std::size_t>(j)].to_vector<float>(), (std::vector<float>(3, 6.0f)));
    EXPECT_EQ(s.assigned_device(grads[static_cast<std::size_t>(j)].op()),
              sf::str_cat("/job:localhost/replica:0/task:0/device:CPU:", j))
        << "the gradient stays with its forward participant";
  }
  // Only sum has a gradient.
  auto m = sf::nccl::all_max(x);
  try {
    sf::gradients(sf::reduce_sum(m[0]), {x[0]});
    ADD_FAILURE() << "all_max has no gradient";
  } catch (const sf::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("except for reduction=\"sum\""), std::string::npos)
        << e.what();
  }
}

sf::Output raw_all_reduce(const sf::Output& x, const std::string& reduction, std::int64_t k,
                          const std::string& shared, const std::string& name) {
  sf::AttrMap a;
  a.set("reduction", reduction);
  a.set("num_devices", k);
  a.set("shared_name", shared);
  return sf::get_default_graph().create_op("NcclAllReduce", {x}, a, name).output(0);
}

TEST_P(CollectiveTest, PlanErrorsNameTheNodes) {
  auto x = inputs_on_cpus(3);
  {  // num_devices does not match the participants
    sf::device d("/device:CPU:0");
    auto a = raw_all_reduce(x[0], "sum", 3, "count", "count_a");
    sf::device d1("/device:CPU:1");
    auto b = raw_all_reduce(x[1], "sum", 3, "count", "count_b");
    sf::Session s(cpus(3));
    const auto m = message_of([&] { s.run({a, b}); });
    EXPECT_NE(m.find("2 participants but num_devices is 3"), std::string::npos) << m;
    EXPECT_NE(m.find("'count_a', 'count_b'"), std::string::npos) << m;
  }
  {  // two participants on one device
    sf::device d("/device:CPU:1");
    auto y = sf::nccl::all_sum({x[0], x[1]});  // colocated with x0 (CPU:0) and x1 (CPU:1)...
    auto z = sf::nccl::all_sum({sf::identity(x[1]), sf::identity(x[2], "on_cpu1")});
    sf::Session s(cpus(3));
    EXPECT_NO_THROW(s.run(y));
    const auto m = message_of([&] { s.run(z); });
    EXPECT_NE(m.find("are both on /device:CPU:1"), std::string::npos) << m;
  }
  {  // reductions differ
    sf::device d("/device:CPU:0");
    auto a = raw_all_reduce(x[0], "sum", 2, "mixed", "mixed_a");
    sf::device d2("/device:CPU:2");
    auto b = raw_all_reduce(x[2], "max", 2, "mixed", "mixed_b");
    sf::Session s(cpus(3));
    const auto m = message_of([&] { s.run({a, b}); });
    EXPECT_NE(m.find("reduction differs"), std::string::npos) << m;
  }
  {  // dtypes differ
    auto i0 = sf::constant(std::vector<int>{1, 2, 3}, {3});
    sf::device d("/device:CPU:1");
    auto a = raw_all_reduce(i0, "sum", 2, "types", "types_a");
    sf::device d2("/device:CPU:2");
    auto b = raw_all_reduce(x[2], "sum", 2, "types", "types_b");
    sf::Session s(cpus(3));
    const auto m = message_of([&] { s.run({a, b}); });
    EXPECT_NE(m.find("dtype differs"), std::string::npos) << m;
  }
  {  // only some participants in the run
    auto y = sf::nccl::all_sum(x);
    sf::Session s(cpus(3));
    const auto m = message_of([&] { s.run(y[1]); });
    EXPECT_NE(m.find("only 1 of its 3 participants"), std::string::npos) << m;
    EXPECT_NE(m.find(sf::str_cat("missing '", y[0].op().name(), "', '", y[2].op().name(), "'")),
              std::string::npos)
        << m;
    EXPECT_EQ(s.run(y)[1].to_vector<float>(), (std::vector<float>{6, -6, 60}))
        << "the session stays usable";
  }
  {  // a participant's input depends on its own group's output
    sf::device d("/device:CPU:0");
    auto a = raw_all_reduce(x[0], "sum", 2, "cycle", "cycle_a");
    sf::device d1("/device:CPU:1");
    auto b = raw_all_reduce(a + 1.0f, "sum", 2, "cycle", "cycle_b");
    sf::Session s(cpus(3));
    const auto m = message_of([&] { s.run({a, b}); });
    EXPECT_NE(m.find("could never run"), std::string::npos) << m;
  }
}

TEST_P(CollectiveTest, RunTimeShapesMustMatch) {
  std::vector<sf::Output> x;
  for (int i = 0; i < 2; ++i) {
    sf::device d(sf::str_cat("/device:CPU:", i));
    x.push_back(sf::placeholder(sf::float32, sf::Shape{-1}, sf::str_cat("p", i)));
  }
  auto y = sf::nccl::all_sum(x);
  sf::Session s(cpus(2));
  const auto m = message_of([&] {
    s.run(y, {{x[0], sf::Tensor::from_vector(std::vector<float>{1, 2})},
              {x[1], sf::Tensor::from_vector(std::vector<float>{1, 2, 3})}});
  });
  EXPECT_NE(m.find("NcclAllReduce group"), std::string::npos) << m;
  EXPECT_NE(m.find("[3]"), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(InterOpThreads, CollectiveTest, ::testing::Values(1, 4),
                         [](const auto& info) { return sf::str_cat("threads_", info.param); });

TEST(AllReduceChoiceTest, ImplementationPerDeviceSet) {
  EXPECT_EQ(sf::choose_all_reduce(false, {}), sf::AllReduceImpl::kHost);
  EXPECT_EQ(sf::choose_all_reduce(true, {0, 0, 0}), sf::AllReduceImpl::kFused);
  EXPECT_EQ(sf::choose_all_reduce(true, {0}), sf::AllReduceImpl::kFused);
  // Distinct cards: NCCL where this build has it, else ScopeFlow's kernel staged through one card.
  const auto distinct = sf::choose_all_reduce(true, {0, 1});
  EXPECT_TRUE(distinct == sf::AllReduceImpl::kNccl || distinct == sf::AllReduceImpl::kFusedStaged);
  EXPECT_EQ(sf::choose_all_reduce(true, {0, 0, 1}), sf::AllReduceImpl::kFusedStaged)
      << "NCCL refuses one device twice in a communicator";
  EXPECT_STREQ(sf::all_reduce_impl_name(sf::AllReduceImpl::kFused), "ScopeFlow fused CUDA kernel");
}

// ---------------------------------------------------------------- GPUs (skip without one)

// K logical GPUs on card 0: the fused kernel; participants fed from the host and made on the
// devices; with 1 and 4 inter-op threads; sums checked exactly against the host.
TEST(CollectiveGpuTest, LogicalGpusShareACardAndUseTheFusedKernel) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  for (int threads : {1, 4}) {
    sf::Graph g;
    auto guard = g.as_default();
    constexpr int k = 4;
    constexpr std::int64_t n = 1000003;
    std::vector<sf::Output> x;
    for (int i = 0; i < k; ++i) {
      sf::device d(sf::str_cat("/device:GPU:", i));
      auto p = sf::placeholder(sf::float32, sf::Shape{n}, sf::str_cat("p", i));
      x.push_back(i % 2 ? p * 1.0f : p);  // half of them computed on the device
    }
    auto sum = sf::nccl::all_sum(x);
    auto mx = sf::nccl::all_max(x);
    // The card's one shared result read by a kernel on each logical GPU, and all-reduced again
    // (every participant's input then held by GPU:0).
    std::vector<sf::Output> doubled;
    for (int i = 0; i < k; ++i) {
      sf::device d(sf::str_cat("/device:GPU:", i));
      doubled.push_back(sum[static_cast<std::size_t>(i)] * 2.0f);
    }
    auto again = sf::nccl::all_sum(sum);
    std::vector<sf::Output> fetches = sum;
    fetches.insert(fetches.end(), mx.begin(), mx.end());
    fetches.insert(fetches.end(), doubled.begin(), doubled.end());
    fetches.insert(fetches.end(), again.begin(), again.end());
    sf::SessionOptions o{.inter_op_parallelism_threads = threads};
    o.logical_gpus[0] = std::vector<sf::devices::LogicalGpuConfig>(k);
    sf::Session s(o, g);
    sf::FeedDict feed;
    std::vector<std::vector<float>> values;
    for (int i = 0; i < k; ++i) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (std::int64_t e = 0; e < n; ++e)
        v[static_cast<std::size_t>(e)] = static_cast<float>((e * (i + 3)) % 97) * 0.25f - 7.0f;
      feed.emplace_back(x[static_cast<std::size_t>(i)].op().inputs().empty()
                            ? x[static_cast<std::size_t>(i)]
                            : x[static_cast<std::size_t>(i)].op().inputs()[0],
                        sf::Tensor::from_vector(v));
      values.push_back(std::move(v));
    }
    for (int round = 0; round < 3; ++round) {
      auto got = s.run(fetches, feed);
      for (int i = 0; i < k; ++i) {
        const auto sv = got[static_cast<std::size_t>(i)].to_vector<float>();
        const auto mv = got[static_cast<std::size_t>(k + i)].to_vector<float>();
        const auto dv = got[static_cast<std::size_t>(2 * k + i)].to_vector<float>();
        const auto av = got[static_cast<std::size_t>(3 * k + i)].to_vector<float>();
        for (std::int64_t e : {std::int64_t{0}, std::int64_t{1}, n / 2, n - 2, n - 1}) {
          const auto u = static_cast<std::size_t>(e);
          float want_sum = values[0][u], want_max = values[0][u];
          for (int j = 1; j < k; ++j) {
            want_sum += values[static_cast<std::size_t>(j)][u];
            want_max = std::max(want_max, values[static_cast<std::size_t>(j)][u]);
          }
          ASSERT_EQ(sv[u], want_sum) << "threads " << threads << " participant " << i << " @" << e;
          ASSERT_EQ(mv[u], want_max) << "threads " << threads << " participant " << i << " @" << e;
          ASSERT_EQ(dv[u], 2.0f * want_sum)
              << "threads " << threads << " doubled " << i << " @" << e;
          float want_again = want_sum;  // the sum of k equal sums, in participant order
          for (int j = 1; j < k; ++j) want_again += want_sum;
          ASSERT_EQ(av[u], want_again) << "threads " << threads << " again " << i << " @" << e;
        }
      }
    }
  }
}

// One participant per physical GPU: NCCL (or the staged kernel in builds without NCCL).
TEST(CollectiveGpuTest, DistinctPhysicalGpusUseNccl) {
  const auto& inv = sf::devices::gpu_inventory();
  if (inv.gpus.size() < 2)
    GTEST_SKIP() << "needs 2 GPUs, found " << inv.gpus.size()
                 << (inv.unavailable_reason.empty() ? "" : ": " + inv.unavailable_reason);
  const int k = static_cast<int>(std::min<std::size_t>(inv.gpus.size(), 4));
  sf::Graph g;
  auto guard = g.as_default();
  std::vector<sf::Output> x;
  for (int i = 0; i < k; ++i) {
    sf::device d(sf::str_cat("/device:GPU:", i));
    x.push_back(sf::constant(std::vector<float>(1000, static_cast<float>(i + 1)), {1000}) * 1.0f);
  }
  auto y = sf::nccl::all_sum(x);
  sf::Session s({}, g);
  for (int round = 0; round < 2; ++round) {
    auto got = s.run(y);
    for (const auto& t : got)
      EXPECT_EQ(t.to_vector<float>(),
                std::vector<float>(1000, static_cast<float>(k * (k + 1) / 2)));
  }
}

// A CPU participant and a GPU participant cannot share an all-reduce.
TEST(CollectiveGpuTest, MixedCpuAndGpuIsRejected) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  sf::Graph g;
  auto guard = g.as_default();
  sf::Output a, b;
  {
    sf::device d("/device:CPU:0");
    a = sf::constant(std::vector<float>{1, 2}, {2}, "on_cpu") * 1.0f;
  }
  {
    sf::device d("/device:GPU:0");
    b = sf::constant(std::vector<float>{1, 2}, {2}, "on_gpu") * 1.0f;
  }
  auto y = sf::nccl::all_sum({a, b});
  sf::Session s({}, g);
  const auto m = message_of([&] { s.run(y); });
  EXPECT_NE(m.find("mixes CPU and GPU devices"), std::string::npos) << m;
}

}  // namespace
