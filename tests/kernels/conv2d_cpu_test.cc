// Every fast CPU label of Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter ("openblas",
// "onednn") against the "ref" oracle (conv2d_cpu.cc): odd sizes, batch 1, strides, dilations,
// asymmetric SAME padding, VALID with a remainder, 1x1, filters larger than the input, edge
// values, poisoned preallocated outputs; plus the oneDNN plan cache (bound, threads, errors).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "kernels/conv2d/conv2d.h"
#include "kernels/kernel.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;

namespace {

// The fixed list keeps test names the same in every build; a label missing from this build
// shows up as Skipped. LabelsUnderTestCoverTheRegistry keeps the list complete.
const char* const kFastLabels[] = {"openblas", "onednn"};
const char* const kOps[] = {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"};

struct Case {
  const char* name;
  std::int64_t n, h, w, c, kh, kw, o, sh, sw, dh, dw;
  const char* padding;
};
const Case kCases[] = {
    {"odd_sizes_same", 2, 11, 7, 3, 3, 3, 5, 1, 1, 1, 1, "SAME"},
    {"batch1_stride2_even_filter_same", 1, 10, 9, 4, 4, 4, 6, 2, 2, 1, 1, "SAME"},  // W: 1 / 2
    {"stride2_5x5_same_asymmetric", 1, 10, 10, 4, 5, 5, 6, 2, 2, 1, 1, "SAME"},     // 1 / 2
    {"valid_stride2_remainder", 3, 8, 9, 2, 3, 2, 4, 2, 2, 1, 1, "VALID"},
    {"dilation2_same", 1, 9, 9, 3, 3, 3, 2, 1, 1, 2, 2, "SAME"},
    {"dilation2x3_valid", 2, 12, 13, 2, 3, 2, 3, 1, 1, 2, 3, "VALID"},
    {"one_by_one_valid", 2, 5, 6, 7, 1, 1, 3, 1, 1, 1, 1, "VALID"},
    {"one_by_one_stride2_same", 1, 7, 6, 5, 1, 1, 4, 2, 2, 1, 1, "SAME"},
    {"filter_bigger_than_input_same", 2, 3, 2, 3, 7, 6, 4, 1, 1, 1, 1, "SAME"},  // W: 2 / 3
    {"channels_not_multiple_of_8", 2, 6, 6, 13, 3, 3, 19, 1, 1, 1, 1, "SAME"},
    {"stride_1x3_same", 2, 8, 10, 3, 3, 3, 5, 1, 3, 1, 1, "SAME"},
};

std::vector<float> random_vec(std::int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

sf::AttrMap attrs(const Case& cs) {
  sf::AttrMap a;
  a.set("strides", std::vector<std::int64_t>{1, cs.sh, cs.sw, 1});
  a.set("dilations", std::vector<std::int64_t>{1, cs.dh, cs.dw, 1});
  a.set("padding", std::string(cs.padding));
  return a;
}

k::Conv2DGeom geometry(const Case& cs) {
  return {cs.n, cs.c, cs.o, k::window_dim(cs.h, cs.kh, cs.sh, cs.dh, cs.padding, cs.name),
          k::window_dim(cs.w, cs.kw, cs.sw, cs.dw, cs.padding, cs.name)};
}

struct Operands {
  sf::Tensor x, f, dy;
};

Operands operands(const Case& cs, unsigned seed) {
  const k::Conv2DGeom g = geometry(cs);
  const sf::Shape xs{g.n, g.h.in, g.w.in, g.c}, fs{g.h.k, g.w.k, g.c, g.o},
      ys{g.n, g.h.out, g.w.out, g.o};
  return {sf::Tensor::from_vector(random_vec(xs.num_elements(), seed), xs),
          sf::Tensor::from_vector(random_vec(fs.num_elements(), seed + 1), fs),
          sf::Tensor::from_vector(random_vec(ys.num_elements(), seed + 2), ys)};
}

// Runs op `op` (0 forward, 1 backward input, 2 backward filter) under `label`. With `poison`,
// the output is preallocated and filled with a NaN-free sentinel, so an element the kernel
// does not write fails the comparison; the kernel must write into that buffer.
sf::Tensor run(int op, const std::string& label, const Case& cs, const Operands& v, bool poison) {
  const sf::AttrMap a = attrs(cs);
  k::KernelContext c;
  c.device = sf::devices::host_device().get();
  c.attrs = &a;
  c.node_name = sf::str_cat(cs.name, "/", kOps[op]);
  sf::Shape out_shape;
  if (op == 0) {
    c.inputs = {v.x, v.f};
    out_shape = v.dy.shape();
  } else if (op == 1) {
    c.inputs = {sf::Tensor::from_vector<std::int64_t>(v.x.shape().dims()), v.f, v.dy};
    out_shape = v.x.shape();
  } else {
    c.inputs = {v.x, sf::Tensor::from_vector<std::int64_t>(v.f.shape().dims()), v.dy};
    out_shape = v.f.shape();
  }
  const void* preallocated = nullptr;
  if (poison) {
    c.outputs = {sf::Tensor::from_vector(
        std::vector<float>(static_cast<std::size_t>(out_shape.num_elements()), -7777.0f),
        out_shape)};
    preallocated = c.outputs[0].raw_data();
  }
  k::kernel_registry().find(kOps[op], sf::devices::DeviceType::kCPU, sf::float32, label)(c);
  EXPECT_EQ(c.outputs.size(), 1u);
  if (poison) {
    EXPECT_EQ(c.outputs[0].raw_data(), preallocated) << "the preallocated output";
  }
  return c.outputs.at(0);
}

// NaN where the reference has NaN, the same infinity where it has one, else within the
// openblas label's tolerance 1e-4 * (1 + |want|).
::testing::AssertionResult close(const sf::Tensor& got, const sf::Tensor& want) {
  if (!(got.shape() == want.shape()))
    return ::testing::AssertionFailure()
           << "shape " << got.shape().to_string() << " vs " << want.shape().to_string();
  const auto g = got.to_vector<float>(), w = want.to_vector<float>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::isnan(w[i])   ? std::isnan(g[i])
                    : std::isinf(w[i]) ? g[i] == w[i]
                                       : std::abs(g[i] - w[i]) <= 1e-4f * (1.0f + std::abs(w[i]));
    if (!ok)
      return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", want "
                                           << w[i] << " (of " << g.size() << ")";
  }
  return ::testing::AssertionSuccess();
}

bool has_label(const std::string& label) {
  return k::kernel_registry().contains("Conv2D", sf::devices::DeviceType::kCPU, sf::float32, label);
}

class Conv2DCpuLabelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!has_label(GetParam()))
      GTEST_SKIP() << "label " << GetParam() << " is not in this build (library not found)";
  }
};

}  // namespace

TEST(Conv2DCpuLabels, LabelsUnderTestCoverTheRegistry) {
  for (const char* op : kOps) {
    const auto labels = k::kernel_registry().labels(op, sf::devices::DeviceType::kCPU, sf::float32);
    ASSERT_FALSE(labels.empty()) << op;
    EXPECT_EQ(labels.back(), "ref") << op;
    for (const auto& l : labels)
      EXPECT_TRUE(l == "ref" || std::find(std::begin(kFastLabels), std::end(kFastLabels), l) !=
                                    std::end(kFastLabels))
          << op << " label " << l << " is not tested here: add it to kFastLabels";
  }
  EXPECT_EQ(has_label("onednn"), k::built_with_onednn());
  EXPECT_EQ(has_label("openblas"), k::built_with_openblas());
}

TEST_P(Conv2DCpuLabelTest, EveryPassMatchesTheReference) {
  for (const Case& cs : kCases) {
    const Operands v = operands(cs, 7);
    for (int op = 0; op < 3; ++op) {
      SCOPED_TRACE(sf::str_cat(cs.name, " ", kOps[op], " ", GetParam()));
      EXPECT_TRUE(close(run(op, GetParam(), cs, v, true), run(op, "ref", cs, v, false)));
    }
  }
}

TEST_P(Conv2DCpuLabelTest, AllocatesItsOutputAndRepeatsExactly) {
  const Case& cs = kCases[2];
  const Operands v = operands(cs, 3);
  for (int op = 0; op < 3; ++op) {
    SCOPED_TRACE(kOps[op]);
    const auto first = run(op, GetParam(), cs, v, false);
    EXPECT_TRUE(close(first, run(op, "ref", cs, v, false)));
    EXPECT_EQ(run(op, GetParam(), cs, v, false).to_vector<float>(), first.to_vector<float>());
  }
}

// 0, -0, NaN and +-inf in the input and in out_backprop, zeros (both signs) in the filter.
// NOTE: infinities stay out of the filter and of out_backprop in the passes that multiply
// them by padding: TF's math skips taps outside the input (the reference does), while
// im2col implementations multiply them by a padded 0 and get NaN.
TEST_P(Conv2DCpuLabelTest, EdgeValuesPropagateAsTheReference) {
  for (const Case& cs : {kCases[0], kCases[2], kCases[5]}) {
    Operands v = operands(cs, 11);
    float* x = v.x.data<float>();
    const std::int64_t nx = v.x.num_elements();
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[nx / 3] = NAN;
    x[nx / 2] = INFINITY;
    x[nx - 1] = -INFINITY;
    float* f = v.f.data<float>();
    f[0] = 0.0f;
    f[v.f.num_elements() - 1] = -0.0f;
    for (int op : {0, 2}) {
      SCOPED_TRACE(sf::str_cat(cs.name, " ", kOps[op], " ", GetParam()));
      const auto want = run(op, "ref", cs, v, false);
      const auto w = want.to_vector<float>();
      ASSERT_TRUE(std::any_of(w.begin(), w.end(), [](float e) { return std::isnan(e); }));
      EXPECT_TRUE(close(run(op, GetParam(), cs, v, true), want));
    }
    float* dy = v.dy.data<float>();
    const std::int64_t ny = v.dy.num_elements();
    dy[0] = -0.0f;
    dy[ny / 2] = NAN;
    dy[ny - 1] = INFINITY;
    SCOPED_TRACE(sf::str_cat(cs.name, " Conv2DBackpropInput ", GetParam()));
    const auto want = run(1, "ref", cs, v, false);
    const auto w = want.to_vector<float>();
    ASSERT_TRUE(std::any_of(w.begin(), w.end(), [](float e) { return std::isinf(e); }));
    EXPECT_TRUE(close(run(1, GetParam(), cs, v, true), want));
  }
}

INSTANTIATE_TEST_SUITE_P(Labels, Conv2DCpuLabelTest, ::testing::Values("openblas", "onednn"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------- the oneDNN plan cache
namespace {
class Conv2DOneDnnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!k::built_with_onednn()) GTEST_SKIP() << "this build has no oneDNN";
  }
};

std::vector<float> ref_pass(k::Conv2DPass pass, const k::Conv2DGeom& g, const Operands& v) {
  std::vector<float> out;
  switch (pass) {
    case k::Conv2DPass::kForward:
      out.resize(static_cast<std::size_t>(v.dy.num_elements()));
      k::conv2d_forward_ref(g, v.x.data<float>(), v.f.data<float>(), out.data());
      break;
    case k::Conv2DPass::kBackwardInput:
      out.resize(static_cast<std::size_t>(v.x.num_elements()));
      k::conv2d_backward_input_ref(g, v.f.data<float>(), v.dy.data<float>(), out.data());
      break;
    case k::Conv2DPass::kBackwardFilter:
      out.resize(static_cast<std::size_t>(v.f.num_elements()));
      k::conv2d_backward_filter_ref(g, v.x.data<float>(), v.dy.data<float>(), out.data());
      break;
  }
  return out;
}

std::vector<float> onednn_pass(k::Conv2DPass pass, k::OneDnnLayout layout, const k::Conv2DGeom& g,
                               const Operands& v) {
  std::vector<float> out(ref_pass(pass, g, v).size(), -7777.0f);
  switch (pass) {
    case k::Conv2DPass::kForward:
      k::conv2d_onednn(pass, layout, g, v.x.data<float>(), v.f.data<float>(), out.data());
      break;
    case k::Conv2DPass::kBackwardInput:
      k::conv2d_onednn(pass, layout, g, v.f.data<float>(), v.dy.data<float>(), out.data());
      break;
    case k::Conv2DPass::kBackwardFilter:
      k::conv2d_onednn(pass, layout, g, v.x.data<float>(), v.dy.data<float>(), out.data());
      break;
  }
  return out;
}

::testing::AssertionResult close_vec(const std::vector<float>& g, const std::vector<float>& w) {
  const sf::Shape s{static_cast<std::int64_t>(g.size())};
  return close(sf::Tensor::from_vector(g, s), sf::Tensor::from_vector(w, s));
}

constexpr k::Conv2DPass kPasses[] = {k::Conv2DPass::kForward, k::Conv2DPass::kBackwardInput,
                                     k::Conv2DPass::kBackwardFilter};
}  // namespace

// Both layouts (the label uses the faster one per pass) give the reference's results.
TEST_F(Conv2DOneDnnTest, PlainAndBlockedLayoutsMatchTheReference) {
  for (const Case& cs : {kCases[1], kCases[4], kCases[9]}) {
    const k::Conv2DGeom g = geometry(cs);
    const Operands v = operands(cs, 5);
    for (auto pass : kPasses)
      for (auto layout : {k::OneDnnLayout::kPlain, k::OneDnnLayout::kBlocked}) {
        SCOPED_TRACE(sf::str_cat(cs.name, " pass ", static_cast<int>(pass), " layout ",
                                 static_cast<int>(layout)));
        EXPECT_TRUE(close_vec(onednn_pass(pass, layout, g, v), ref_pass(pass, g, v)));
      }
  }
}

TEST_F(Conv2DOneDnnTest, CacheStaysBoundedAndEvictedPlansRebuild) {
  const Case first{"first", 1, 5, 5, 2, 3, 3, 3, 1, 1, 1, 1, "SAME"};
  const Operands v0 = operands(first, 1);
  const auto want = ref_pass(k::Conv2DPass::kForward, geometry(first), v0);
  EXPECT_TRUE(close_vec(
      onednn_pass(k::Conv2DPass::kForward, k::OneDnnLayout::kPlain, geometry(first), v0), want));
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(k::kConv2DOneDnnCacheCapacity) + 6; ++i) {
    const Case cs{"many", 1, 4 + i, 3, 2, 3, 3, 2, 1, 1, 1, 1, "SAME"};
    const Operands v = operands(cs, 2);
    ASSERT_TRUE(
        close_vec(onednn_pass(k::Conv2DPass::kForward, k::OneDnnLayout::kPlain, geometry(cs), v),
                  ref_pass(k::Conv2DPass::kForward, geometry(cs), v)))
        << "height " << 4 + i;
    ASSERT_LE(k::conv2d_onednn_cached_plans(), k::kConv2DOneDnnCacheCapacity);
  }
  EXPECT_EQ(k::conv2d_onednn_cached_plans(), k::kConv2DOneDnnCacheCapacity);
  EXPECT_TRUE(close_vec(
      onednn_pass(k::Conv2DPass::kForward, k::OneDnnLayout::kPlain, geometry(first), v0), want));
}

// The executor runs kernels concurrently: threads sharing and racing on the cache, and
// running the same plans at once, all get the reference's results.
TEST_F(Conv2DOneDnnTest, ConcurrentCallsFromSeveralThreads) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &failures] {
      for (int rep = 0; rep < 3; ++rep)
        for (std::size_t i = 0; i < std::size(kCases); ++i) {
          const Case& cs = kCases[(i + static_cast<std::size_t>(t)) % std::size(kCases)];
          const k::Conv2DGeom g = geometry(cs);
          const Operands v = operands(cs, 9);
          for (auto pass : kPasses) {
            try {
              if (!close_vec(onednn_pass(pass, k::conv2d_onednn_layout(pass), g, v),
                             ref_pass(pass, g, v)))
                ++failures[static_cast<std::size_t>(t)];
            } catch (const std::exception&) {  // an exception must not escape the thread
              ++failures[static_cast<std::size_t>(t)];
            }
          }
        }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST_F(Conv2DOneDnnTest, RejectedGeometryIsAnErrorNamingThePass) {
  k::Conv2DGeom g = geometry(kCases[0]);
  g.h.dilation = 0;  // never produced by window_dim: oneDNN's dilation -1
  const Operands v = operands(kCases[0], 1);
  std::vector<float> out(static_cast<std::size_t>(g.n * g.h.out * g.w.out * g.o));
  try {
    k::conv2d_onednn(k::Conv2DPass::kForward, k::OneDnnLayout::kPlain, g, v.x.data<float>(),
                     v.f.data<float>(), out.data());
    FAIL() << "no error";
  } catch (const sf::InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("Conv2D"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("N=2 C=3 O=5"), std::string::npos) << e.what();
  }
}

TEST(Conv2DOneDnnStubTest, WithoutOneDnnTheEntryPointsAreUnavailable) {
  if (k::built_with_onednn()) GTEST_SKIP() << "this build has oneDNN";
  const k::Conv2DGeom g = geometry(kCases[0]);
  EXPECT_THROW(k::conv2d_onednn(k::Conv2DPass::kForward, k::OneDnnLayout::kPlain, g, nullptr,
                                nullptr, nullptr),
               sf::UnavailableError);
}

// Empty shapes never reach oneDNN: an empty batch gives a zero filter gradient.
TEST_F(Conv2DOneDnnTest, EmptyBatchGivesZeroFilterGradient) {
  const k::Conv2DGeom g{0, 2, 3, k::window_dim(4, 3, 1, 1, "SAME", "t"),
                        k::window_dim(4, 3, 1, 1, "SAME", "t")};
  std::vector<float> df(3 * 3 * 2 * 3, -7777.0f);
  k::conv2d_onednn(k::Conv2DPass::kBackwardFilter, k::OneDnnLayout::kPlain, g, nullptr, nullptr,
                   df.data());
  EXPECT_EQ(df, std::vector<float>(df.size(), 0.0f));
}
