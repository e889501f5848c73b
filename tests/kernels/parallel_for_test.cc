// The intra-op thread pool (kernels/common/parallel_for.h) and every multi-threaded CPU kernel
// (label "cpu") against its reference ("ref") on random data, with sizes that do not divide
// the thread count.
#include "kernels/common/parallel_for.h"
#include "kernels/common/intra_op_threads.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "kernels/kernel.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;
using sf::devices::DeviceType;

namespace {
// The process-wide pool gets 4 threads in this binary whatever the machine (unless the
// environment already sets a count), so the "cpu" kernels really split their work.
const bool kThreadsSet = [] { return setenv("SF_INTRA_OP_THREADS", "4", 0) == 0; }();

struct Chunk {
  std::int64_t lo, hi;
};

std::vector<Chunk> chunks_of(k::ThreadPool& pool, std::int64_t n, std::int64_t grain) {
  std::mutex mu;
  std::vector<Chunk> out;
  pool.parallel_for(n, grain, [&](std::int64_t lo, std::int64_t hi) {
    std::lock_guard<std::mutex> lock(mu);
    out.push_back({lo, hi});
  });
  std::sort(out.begin(), out.end(), [](Chunk a, Chunk b) { return a.lo < b.lo; });
  return out;
}
}  // namespace

TEST(ThreadPoolTest, ChunksCoverTheRangeOnceWithTheGrain) {
  for (int threads : {1, 3, 4, 7}) {
    k::ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (std::int64_t n : {0, 1, 5, 99, 100, 101, 1000, 12345, 100003}) {
      for (std::int64_t grain : {1, 7, 100, 1 << 20}) {
        const auto chunks = chunks_of(pool, n, grain);
        if (n == 0) {
          EXPECT_TRUE(chunks.empty());
          continue;
        }
        const std::int64_t want =
            std::clamp<std::int64_t>(n / grain, 1, static_cast<std::int64_t>(threads));
        ASSERT_EQ(static_cast<std::int64_t>(chunks.size()), want)
            << threads << " threads, n " << n << ", grain " << grain;
        std::int64_t next = 0;
        for (std::size_t i = 0; i < chunks.size(); ++i) {
          EXPECT_EQ(chunks[i].lo, next);
          // Fixed boundaries: n*i/k, whatever the timing.
          EXPECT_EQ(chunks[i].hi, n * static_cast<std::int64_t>(i + 1) / want);
          if (want > 1) {
            EXPECT_GE(chunks[i].hi - chunks[i].lo, grain);
          }
          next = chunks[i].hi;
        }
        EXPECT_EQ(next, n);
      }
    }
  }
}

TEST(ThreadPoolTest, RunsOnSeveralThreadsNestsInlineAndRethrows) {
  k::ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(100003);
  std::mutex mu;
  std::set<std::thread::id> ids;
  pool.parallel_for(100003, 1000, [&](std::int64_t lo, std::int64_t hi) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    // A nested call runs inline on this thread, as one chunk.
    int inner_chunks = 0;
    pool.parallel_for(hi - lo, 1, [&](std::int64_t a, std::int64_t b) {
      ++inner_chunks;
      for (std::int64_t i = lo + a; i < lo + b; ++i) ++hits[static_cast<std::size_t>(i)];
    });
    EXPECT_EQ(inner_chunks, 1);
  });
  for (const auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_GE(ids.size(), 1u);  // workers may all be busy; the caller then runs every chunk
  EXPECT_THROW(pool.parallel_for(1000, 1,
                                 [](std::int64_t lo, std::int64_t) {
                                   if (lo > 0) throw std::runtime_error("chunk failed");
                                 }),
               std::runtime_error);
  // The pool still works after an exception, and from several caller threads at once.
  std::vector<std::thread> callers;
  std::atomic<std::int64_t> total{0};
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 20; ++rep)
        pool.parallel_for(5000, 10, [&](std::int64_t lo, std::int64_t hi) { total += hi - lo; });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 3 * 20 * 5000);
}

TEST(ThreadPoolTest, GlobalPoolFollowsTheEnvironment) {
  ASSERT_TRUE(kThreadsSet);
  const char* env = std::getenv("SF_INTRA_OP_THREADS");
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(k::intra_op_threads(), std::atoi(env));
  EXPECT_EQ(k::intra_op_pool().num_threads(), k::intra_op_threads());
}

// ---------------------------------------------------------------- "cpu" against "ref"
namespace {
std::vector<float> random_vec(std::size_t n, unsigned seed, bool specials = false) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  if (specials && n > 16) {
    v[3] = 0.0f;
    v[5] = -0.0f;
    v[7] = std::numeric_limits<float>::quiet_NaN();
    v[11] = std::numeric_limits<float>::infinity();
    v[13] = -std::numeric_limits<float>::infinity();
    v[n - 1] = std::numeric_limits<float>::quiet_NaN();
  }
  return v;
}
sf::Tensor tensor(const sf::Shape& s, unsigned seed, bool specials = false) {
  return sf::Tensor::from_vector<float>(
      random_vec(static_cast<std::size_t>(s.num_elements()), seed, specials), s);
}
sf::Tensor run(const char* op, const std::string& label, std::vector<sf::Tensor> inputs,
               const sf::AttrMap& attrs = {}) {
  k::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &attrs;
  c.node_name = op;
  c.inputs = std::move(inputs);
  k::kernel_registry().find(op, DeviceType::kCPU, sf::float32, label)(c);
  return c.outputs.at(0);
}
// Bit-for-bit equal (NaN payloads aside: the compiler may swap the operands of a commutative
// add, which picks the other NaN when both are NaN), or within `rtol` when given. With
// `nan_bits`, NaNs must match bit for bit too (kernels that only select or add to one NaN).
void expect_same(const sf::Tensor& got, const sf::Tensor& want, const std::string& what,
                 float rtol = 0.0f, bool nan_bits = false) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = got.to_vector<float>(), w = want.to_vector<float>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) && !nan_bits) {
      ASSERT_TRUE(std::isnan(g[i])) << what << " element " << i;
    } else if (rtol == 0.0f) {
      ASSERT_EQ(std::memcmp(&g[i], &w[i], sizeof(float)), 0)
          << what << " element " << i << ": " << g[i] << " vs " << w[i];
    } else {
      ASSERT_NEAR(g[i], w[i], rtol * (1.0f + std::abs(w[i]))) << what << " element " << i;
    }
  }
}
void expect_cpu_matches_ref(const char* op, const std::vector<sf::Tensor>& inputs,
                            const sf::AttrMap& attrs = {}, float rtol = 0.0f,
                            bool nan_bits = false) {
  ASSERT_EQ(k::kernel_registry().labels(op, DeviceType::kCPU, sf::float32).front(), "cpu") << op;
  expect_same(run(op, "cpu", inputs, attrs), run(op, "ref", inputs, attrs),
              std::string(op) + " " + inputs[0].shape().to_string(), rtol, nan_bits);
}
}  // namespace

TEST(CpuKernelsTest, BinaryOpsMatchTheReference) {
  // Same shape (odd sizes), bias-style trailing blocks both ways, scalars, and a broadcast
  // the "cpu" kernel hands to the reference ([N, 1] against [N, C]).
  const std::vector<std::pair<sf::Shape, sf::Shape>> cases{
      {{100003}, {100003}},  {{7, 3}, {7, 3}},           {{257, 33, 17}, {17}},
      {{17}, {257, 33, 17}}, {{5, 19, 23, 37}, {1, 37}}, {{65537}, {}},
      {{}, {65537}},         {{331, 211}, {331, 1}},     {{0, 5}, {5}}};
  unsigned seed = 1;
  for (const auto& [sa, sb] : cases)
    for (const char* op : {"Add", "AddV2", "Sub", "Mul", "RealDiv"})
      expect_cpu_matches_ref(op, {tensor(sa, seed++, true), tensor(sb, seed++)});
}

TEST(CpuKernelsTest, AddNMatchesTheReferenceBitForBit) {
  unsigned seed = 70;
  for (const sf::Shape& s : {sf::Shape{100003}, sf::Shape{3, 5}, sf::Shape{0}}) {
    for (int n : {1, 2, 7}) {
      std::vector<sf::Tensor> inputs;
      for (int i = 0; i < n; ++i) inputs.push_back(tensor(s, seed++, true));
      expect_cpu_matches_ref("AddN", inputs);
    }
  }
}

TEST(CpuKernelsTest, ReluAndBiasAddMatchTheReference) {
  for (const sf::Shape& s :
       {sf::Shape{100003}, sf::Shape{3, 5}, sf::Shape{1, 61, 67, 29}, sf::Shape{0, 4}}) {
    auto x = tensor(s, 40, true);
    expect_cpu_matches_ref("Relu", {x});
    expect_cpu_matches_ref("ReluGrad", {tensor(s, 41), x});
    const sf::Shape bias{s.dims().back()};
    expect_cpu_matches_ref("BiasAdd", {x, tensor(bias, 42)});
    // Fixed row blocks summed in double: equal to the reference within float rounding.
    expect_cpu_matches_ref("BiasAddGrad", {tensor(s, 43)}, {}, 1e-6f);
  }
}

TEST(CpuKernelsTest, PoolingMatchesTheReference) {
  struct Case {
    std::int64_t n, h, w, c, kh, kw, sh, sw;
    const char* padding;
  };
  // Overlapping windows, and disjoint ones (stride >= window: MaxPoolGrad's fast path) that are
  // clipped at the edge, leave rows and columns of no window, or start inside the padding; the
  // convnet's two 2x2 / stride 2 SAME shapes (batch 2).
  for (const Case& p :
       {Case{3, 29, 31, 13, 3, 3, 2, 2, "SAME"}, Case{5, 9, 7, 3, 3, 3, 1, 1, "SAME"},
        Case{2, 6, 7, 5, 2, 3, 1, 2, "VALID"}, Case{1, 28, 28, 32, 2, 2, 2, 2, "VALID"},
        Case{2, 28, 28, 32, 2, 2, 2, 2, "SAME"}, Case{2, 14, 14, 64, 2, 2, 2, 2, "SAME"},
        Case{2, 7, 9, 5, 2, 2, 2, 2, "SAME"}, Case{2, 33, 17, 7, 2, 2, 3, 3, "VALID"},
        Case{1, 10, 11, 4, 3, 3, 3, 3, "SAME"}, Case{2, 5, 6, 19, 2, 2, 4, 4, "SAME"},
        Case{2, 9, 8, 3, 1, 3, 2, 3, "VALID"}, Case{1, 1, 1, 1, 1, 1, 1, 1, "VALID"}}) {
    sf::AttrMap a;
    a.set("ksize", std::vector<std::int64_t>{1, p.kh, p.kw, 1});
    a.set("strides", std::vector<std::int64_t>{1, p.sh, p.sw, 1});
    a.set("padding", std::string(p.padding));
    // Values on a coarse grid, so windows hold ties (the first maximum gets the gradient), +0
    // and -0 among them, with NaN (first tap or later) and infinities sprinkled in.
    auto x = tensor({p.n, p.h, p.w, p.c}, 50);
    auto v = x.to_vector<float>();
    for (auto& e : v) e = std::round(e * 2.0f) / 2.0f;
    for (std::size_t i = 1; i < v.size(); i += 37) v[i] = std::numeric_limits<float>::quiet_NaN();
    for (std::size_t i = 2; i < v.size(); i += 41) v[i] = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 3; i < v.size(); i += 43) v[i] = std::numeric_limits<float>::infinity();
    x = sf::Tensor::from_vector<float>(v, x.shape());
    auto y = run("MaxPool", "ref", {x}, a);
    expect_cpu_matches_ref("MaxPool", {x}, a, 0.0f, /*nan_bits=*/true);
    expect_cpu_matches_ref("AvgPool", {x}, a);
    // dy with -0 (the reference's 0 + dy makes it +0), NaN and infinities.
    auto dv = tensor(y.shape(), 51, true).to_vector<float>();
    for (std::size_t i = 0; i < dv.size(); i += 5) dv[i] = -0.0f;
    auto dy = sf::Tensor::from_vector<float>(dv, y.shape());
    expect_cpu_matches_ref("MaxPoolGrad", {x, y, dy}, a, 0.0f, /*nan_bits=*/true);
    expect_cpu_matches_ref("AvgPoolGrad",
                           {sf::Tensor::from_vector<std::int64_t>(x.shape().dims()), dy}, a);
  }
}

// The OpenMP share guard the session puts around concurrent expensive CPU kernels: it limits
// the calling thread's OpenMP team, restores it afterwards, and leaves other threads alone.
TEST(IntraOpThreadLimitTest, LimitsThisThreadOnlyAndRestores) {
  const int before = sf::kernels::IntraOpThreadLimit::current();
  if (before == 0) GTEST_SKIP() << "OpenMP is not loaded (a build without oneDNN)";
  {
    sf::kernels::IntraOpThreadLimit limit(1);
    EXPECT_EQ(sf::kernels::IntraOpThreadLimit::current(), 1);
    int other = -1;
    std::thread([&] { other = sf::kernels::IntraOpThreadLimit::current(); }).join();
    EXPECT_EQ(other, before);
    {
      sf::kernels::IntraOpThreadLimit inner(0);  // below 1 counts as 1
      EXPECT_EQ(sf::kernels::IntraOpThreadLimit::current(), 1);
    }
  }
  EXPECT_EQ(sf::kernels::IntraOpThreadLimit::current(), before);
}
