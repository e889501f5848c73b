// GPU conv2d: the implicit-GEMM index maps and host plans on the CPU (every build), then each
// GPU label ("cuda", "cudnn") of Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter against
// the CPU reference, and every tile and split of the native kernel (skipped without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <random>
#include <set>

#include "devices/device_manager.h"
#include "kernels/conv2d/conv2d.h"
#include "kernels/conv2d/conv2d_cuda.h"
#include "kernels/conv2d/conv2d_igemm.h"
#include "kernels/kernel.h"
#include "tests/support/devices.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;
namespace ig = scopeflow::kernels::igemm;
using ig::Pass;

namespace {

struct Case {
  const char* name;
  std::int64_t n, h, w, c, kh, kw, o, sh, sw, dh, dw;
  const char* padding;
};

// Sizes that do not divide the tiles, batch 1, C = 1 and 3, strides 2, dilation 2, SAME with
// an odd total padding (the extra pixel after), VALID, 1x1 filters, channel counts that are
// and are not multiples of 4, long reductions (split K), grids big enough for the large tiles.
const Case kCases[] = {
    {"batch1_c1_valid", 1, 7, 9, 1, 3, 3, 5, 1, 1, 1, 1, "VALID"},
    {"c3_stride2_same_odd_pad", 2, 8, 8, 3, 3, 3, 16, 2, 2, 1, 1, "SAME"},
    {"dilation2_same", 2, 11, 10, 8, 3, 3, 12, 1, 1, 2, 2, "SAME"},
    {"dilation2_stride2_valid", 1, 13, 12, 5, 3, 2, 6, 2, 2, 2, 2, "VALID"},
    {"filter1x1", 3, 5, 7, 64, 1, 1, 36, 1, 1, 1, 1, "SAME"},
    {"filter1x1_stride2_valid", 2, 9, 9, 16, 1, 1, 8, 2, 2, 1, 1, "VALID"},
    {"tiles_do_not_divide", 3, 13, 11, 20, 3, 3, 70, 1, 1, 1, 1, "SAME"},
    {"even_filter_same_asymmetric", 2, 6, 7, 4, 2, 2, 8, 1, 1, 1, 1, "SAME"},
    {"filter5x5_stride2_same_odd_pad", 2, 10, 10, 12, 5, 5, 20, 2, 2, 1, 1, "SAME"},
    {"stride3_same", 2, 10, 11, 4, 3, 3, 4, 3, 3, 1, 1, "SAME"},
    {"long_reduction", 8, 28, 28, 32, 3, 3, 32, 1, 1, 1, 1, "SAME"},
    {"wide_grid_o64", 4, 66, 64, 16, 3, 3, 64, 1, 1, 1, 1, "SAME"},
    {"wide_grid_o128", 4, 64, 66, 8, 3, 3, 128, 1, 1, 1, 1, "SAME"},
    {"mnist_first_layer", 4, 28, 28, 1, 5, 5, 32, 1, 1, 1, 1, "SAME"},
};

const Case* find_case(const std::string& name) {
  for (const Case& c : kCases)
    if (name == c.name) return &c;
  return nullptr;
}

k::Conv2DGeom geometry(const Case& c) {
  k::Conv2DGeom g;
  g.n = c.n, g.c = c.c, g.o = c.o;
  g.h = k::window_dim(c.h, c.kh, c.sh, c.dh, c.padding, c.name);
  g.w = k::window_dim(c.w, c.kw, c.sw, c.dw, c.padding, c.name);
  return g;
}

sf::AttrMap attrs(const Case& c) {
  sf::AttrMap a;
  a.set("strides", std::vector<std::int64_t>{1, c.sh, c.sw, 1});
  a.set("dilations", std::vector<std::int64_t>{1, c.dh, c.dw, 1});
  a.set("padding", std::string(c.padding));
  return a;
}

std::vector<float> random_vec(std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(gen);
  return v;
}

struct Operands {
  std::vector<float> x, f, dy;
};
Operands operands(const k::Conv2DGeom& g, unsigned seed) {
  return {random_vec(g.n * g.h.in * g.w.in * g.c, seed),
          random_vec(g.h.k * g.w.k * g.c * g.o, seed + 1),
          random_vec(g.n * g.h.out * g.w.out * g.o, seed + 2)};
}

std::vector<float> reference(Pass pass, const k::Conv2DGeom& g, const Operands& v) {
  std::vector<float> out;
  switch (pass) {
    case Pass::kForward:
      out.resize(v.dy.size());
      k::conv2d_forward_ref(g, v.x.data(), v.f.data(), out.data());
      break;
    case Pass::kBackwardInput:
      out.resize(v.x.size());
      k::conv2d_backward_input_ref(g, v.f.data(), v.dy.data(), out.data());
      break;
    case Pass::kBackwardFilter:
      out.resize(v.f.size());
      k::conv2d_backward_filter_ref(g, v.x.data(), v.dy.data(), out.data());
      break;
  }
  return out;
}

// ||got - want||_2 / ||want||_2: the measure for sums of many products, whose rounding
// error grows with the sum, not with each element. One wrong element of typical size moves
// it by about 1/sqrt(size), far above the 1e-5 bound for these sizes.
::testing::AssertionResult close_in_norm(const std::vector<float>& got,
                                         const std::vector<float>& want, double tol = 1e-5) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  double err = 0, ref = 0, worst = 0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure()
             << "element " << i << " is " << got[i] << " (unwritten or overflow), want " << want[i];
    const double d = double(got[i]) - want[i];
    err += d * d;
    ref += double(want[i]) * want[i];
    if (std::abs(d) > worst) worst = std::abs(d), worst_i = i;
  }
  const double rel = ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
  if (rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "relative error " << rel << " > " << tol << "; worst element " << worst_i << ": "
         << got[worst_i] << " vs " << want[worst_i];
}

// The pass computed on the CPU through the operand maps: C[m][n] = sum_k A[m][k] * B[k][n].
template <class AMap, class BMap>
std::vector<float> gemm_through_maps(const ig::Params& p, const float* a, const float* b) {
  std::vector<float> out(static_cast<std::size_t>(p.m) * p.n);
  std::vector<std::int64_t> boff(static_cast<std::size_t>(p.k) * p.n);
  for (int n = 0; n < p.n; ++n) {
    const auto row = BMap::row(p, n);
    for (int kk = 0; kk < p.k; ++kk)
      boff[static_cast<std::size_t>(kk) * p.n + n] = BMap::offset(p, row, kk);
  }
  std::vector<double> acc(static_cast<std::size_t>(p.n));
  for (int m = 0; m < p.m; ++m) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const auto row = AMap::row(p, m);
    for (int kk = 0; kk < p.k; ++kk) {
      const std::int64_t ao = AMap::offset(p, row, kk);
      if (ao < 0) continue;
      for (int n = 0; n < p.n; ++n) {
        const std::int64_t bo = boff[static_cast<std::size_t>(kk) * p.n + n];
        if (bo >= 0) acc[static_cast<std::size_t>(n)] += double(a[ao]) * b[bo];
      }
    }
    for (int n = 0; n < p.n; ++n)
      out[static_cast<std::size_t>(m) * p.n + n] =
          static_cast<float>(acc[static_cast<std::size_t>(n)]);
  }
  return out;
}

// What the tiled kernel's vector loads assume (conv2d_igemm.h): for K-contiguous operands,
// offset(k + j) == offset(k) + j at every k % 4 == 0 (or all four are zeros); for
// R-contiguous ones the same along rows r % 4 == 0. Also: offsets stay inside the tensor.
template <class Map>
::testing::AssertionResult vector_loads_hold(const ig::Params& p, int rows, bool k_contiguous,
                                             std::int64_t tensor_size) {
  for (int r = 0; r < rows; ++r) {
    const auto row = Map::row(p, r);
    for (int kk = 0; kk < p.k; ++kk) {
      const std::int64_t off = Map::offset(p, row, kk);
      if (off >= tensor_size)
        return ::testing::AssertionFailure()
               << "offset " << off << " past the tensor at r=" << r << " k=" << kk;
      if (off >= 0 && off % 4 != 0 &&
          ((k_contiguous && kk % 4 == 0) || (!k_contiguous && r % 4 == 0)))
        return ::testing::AssertionFailure() << "vector start " << off << " not 16-byte aligned";
    }
  }
  for (int r = 0; r < rows; ++r) {
    for (int kk = 0; kk < p.k; ++kk) {
      if (k_contiguous ? kk % 4 != 0 : r % 4 != 0) continue;
      const std::int64_t base = Map::offset(p, Map::row(p, r), kk);
      for (int j = 1; j < 4; ++j) {
        const std::int64_t off = k_contiguous ? Map::offset(p, Map::row(p, r), kk + j)
                                              : Map::offset(p, Map::row(p, r + j), kk);
        const std::int64_t want = base < 0 ? -1 : base + j;
        if (off != want)
          return ::testing::AssertionFailure() << "r=" << r << " k=" << kk << " j=" << j
                                               << ": offset " << off << ", want " << want;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

const Pass kPasses[] = {Pass::kForward, Pass::kBackwardInput, Pass::kBackwardFilter};

}  // namespace

// ---------------------------------------------------------------- CPU: maps and plans
TEST(Conv2DIgemmMapTest, EveryPassThroughTheMapsMatchesTheReference) {
  for (const Case& c : kCases) {
    const k::Conv2DGeom g = geometry(c);
    if (g.n * g.h.out * g.w.out * g.o * g.h.k * g.w.k * g.c > 40'000'000) continue;  // CPU time
    const Operands v = operands(g, 7);
    for (Pass pass : kPasses) {
      SCOPED_TRACE(std::string(c.name) + " " + ig::pass_name(pass));
      const ig::Params p = ig::make_params(pass, g, c.name);
      std::vector<float> got;
      switch (pass) {
        case Pass::kForward:
          got = gemm_through_maps<ig::ForwardA, ig::RowMajorB>(p, v.x.data(), v.f.data());
          break;
        case Pass::kBackwardInput:
          got =
              gemm_through_maps<ig::BackwardInputA, ig::BackwardInputB>(p, v.dy.data(), v.f.data());
          break;
        case Pass::kBackwardFilter:
          got = gemm_through_maps<ig::BackwardFilterA, ig::RowMajorB>(p, v.x.data(), v.dy.data());
          break;
      }
      EXPECT_TRUE(close_in_norm(got, reference(pass, g, v), 1e-6));
    }
  }
}

TEST(Conv2DIgemmMapTest, VectorLoadAssumptionsHoldWhereThePlanUsesThem) {
  int checked = 0;
  for (const Case& c : kCases) {
    const k::Conv2DGeom g = geometry(c);
    if (g.n * g.h.in * g.w.in > 4000) continue;  // exhaustive over (r, k): small cases only
    const std::int64_t xs = g.n * g.h.in * g.w.in * g.c, fs = g.h.k * g.w.k * g.c * g.o,
                       ys = g.n * g.h.out * g.w.out * g.o;
    for (Pass pass : kPasses) {
      SCOPED_TRACE(std::string(c.name) + " " + ig::pass_name(pass));
      const ig::Params p = ig::make_params(pass, g, c.name);
      const ig::VectorPlan vp = ig::vector_plan(pass, p);
      if (!(vp.a && vp.b)) continue;
      ++checked;
      switch (pass) {
        case Pass::kForward:
          EXPECT_TRUE(vector_loads_hold<ig::ForwardA>(p, p.m, true, xs));
          EXPECT_TRUE(vector_loads_hold<ig::RowMajorB>(p, p.n, false, fs));
          break;
        case Pass::kBackwardInput:
          EXPECT_TRUE(vector_loads_hold<ig::BackwardInputA>(p, p.m, true, ys));
          EXPECT_TRUE(vector_loads_hold<ig::BackwardInputB>(p, p.n, true, fs));
          break;
        case Pass::kBackwardFilter:
          EXPECT_TRUE(vector_loads_hold<ig::BackwardFilterA>(p, p.m, false, xs));
          EXPECT_TRUE(vector_loads_hold<ig::RowMajorB>(p, p.n, false, ys));
          break;
      }
    }
  }
  EXPECT_GE(checked, 10);
}

TEST(Conv2DIgemmMapTest, VectorPlanFollowsChannelCounts) {
  const k::Conv2DGeom g = geometry(*find_case("c3_stride2_same_odd_pad"));  // C = 3, O = 16
  const auto fwd = ig::vector_plan(Pass::kForward, ig::make_params(Pass::kForward, g, "t"));
  EXPECT_FALSE(fwd.a);
  EXPECT_TRUE(fwd.b);
  const auto dgrad =
      ig::vector_plan(Pass::kBackwardInput, ig::make_params(Pass::kBackwardInput, g, "t"));
  EXPECT_TRUE(dgrad.a && dgrad.b);  // both run along O
  const auto wgrad =
      ig::vector_plan(Pass::kBackwardFilter, ig::make_params(Pass::kBackwardFilter, g, "t"));
  EXPECT_FALSE(wgrad.a);
  EXPECT_TRUE(wgrad.b);
}

TEST(Conv2DIgemmMapTest, GemmSizesPerPass) {
  const k::Conv2DGeom g = geometry(*find_case("tiles_do_not_divide"));  // 3x13x11x20, 3x3x20x70
  const ig::Params f = ig::make_params(Pass::kForward, g, "t");
  EXPECT_EQ(f.m, 3 * 13 * 11);
  EXPECT_EQ(f.n, 70);
  EXPECT_EQ(f.k, 9 * 20);
  const ig::Params d = ig::make_params(Pass::kBackwardInput, g, "t");
  EXPECT_EQ(d.m, 3 * 13 * 11);
  EXPECT_EQ(d.n, 20);
  EXPECT_EQ(d.k, 9 * 70);
  const ig::Params w = ig::make_params(Pass::kBackwardFilter, g, "t");
  EXPECT_EQ(w.m, 9 * 20);
  EXPECT_EQ(w.n, 70);
  EXPECT_EQ(w.k, 3 * 13 * 11);
}

TEST(Conv2DIgemmMapTest, TooLargeForInt32IndicesIsInvalidArgument) {
  k::Conv2DGeom g;
  g.n = 1024, g.c = 64, g.o = 64;
  g.h = k::window_dim(256, 3, 1, 1, "SAME", "t");
  g.w = k::window_dim(256, 3, 1, 1, "SAME", "t");  // 2^32 input elements
  EXPECT_THROW(ig::make_params(Pass::kForward, g, "t"), sf::InvalidArgumentError);
}

// Small tensors with a window geometry past 32 bits: the Params fields used to be truncated
// (dilation 2^31 became INT_MIN) and the kernel computed another convolution.
TEST(Conv2DIgemmMapTest, WindowGeometryPastInt32IsInvalidArgument) {
  k::Conv2DGeom g;
  g.n = 1, g.c = 4, g.o = 4;
  g.w = k::window_dim(10, 3, 1, 1, "SAME", "t");
  g.h = k::window_dim(10, 3, 1, std::int64_t{1} << 31, "SAME", "t");  // pad_before 2^31
  for (Pass pass : kPasses) EXPECT_THROW(ig::make_params(pass, g, "t"), sf::InvalidArgumentError);
  g.h = k::window_dim(5, 1, std::int64_t{1} << 32, 1, "VALID", "t");  // one output row
  for (Pass pass : kPasses) EXPECT_THROW(ig::make_params(pass, g, "t"), sf::InvalidArgumentError);
  // Large but representable: kept exactly.
  g.h = k::window_dim(100, 3, 7, 1000, "SAME", "t");
  const ig::Params p = ig::make_params(Pass::kBackwardInput, g, "t");
  EXPECT_EQ(p.dh, 1000);
  EXPECT_EQ(p.sh, 7);
  EXPECT_EQ(p.ph, g.h.pad_before);
}

TEST(Conv2DPlanTest, SplitsCoverKExactlyInWholeSteps) {
  std::mt19937 gen(3);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::int64_t m = 1 + gen() % 5000, n = 1 + gen() % 600, k = gen() % 200000;
    const int sms = 1 + static_cast<int>(gen() % 200);
    const bool vec = gen() % 2 == 0;
    const ig::GemmPlan plan = ig::plan_gemm(m, n, k, sms, vec);
    const ig::TileShape t = ig::tile_shape(plan.tile);
    SCOPED_TRACE(::testing::Message() << m << "x" << n << "x" << k << " sms=" << sms);
    ASSERT_GE(plan.splits, 1);
    ASSERT_LE(plan.splits, ig::kMaxSplits);
    EXPECT_EQ(plan.grid_m, (m + t.bm - 1) / t.bm);
    EXPECT_EQ(plan.grid_n, (n + t.bn - 1) / t.bn);
    EXPECT_EQ(plan.k_per_split % t.bk, 0);
    EXPECT_GT(plan.k_per_split, 0);
    if (!vec) {
      EXPECT_EQ(plan.tile, ig::Tile::k64x64);
    }
    if (n <= 64) {
      EXPECT_NE(plan.tile, ig::Tile::k128x128);
    }
    EXPECT_LE(plan.partial_floats(), ig::kMaxPartialFloats);
    std::int64_t covered = 0;
    for (int z = 0; z < plan.splits; ++z) {
      const ig::KRange r = ig::split_range(plan, z);
      EXPECT_EQ(r.begin, covered) << "split " << z;
      if (k > 0) {
        EXPECT_GT(r.end, r.begin) << "split " << z << " is empty";
      }
      if (z + 1 < plan.splits) {
        EXPECT_EQ(r.end - r.begin, plan.k_per_split);
        EXPECT_GE(plan.k_per_split / t.bk, ig::kMinTilesPerSplit);
      }
      covered = r.end;
    }
    EXPECT_EQ(covered, k);
  }
}

TEST(Conv2DPlanTest, PicksTilesAndSplitsForResNetShapes) {
  // 56x56 64->64 3x3 on 132 SMs: fprop has 784 row blocks of the 128x64 tile.
  ig::GemmPlan p = ig::plan_gemm(32 * 56 * 56, 64, 9 * 64, 132, true);
  EXPECT_EQ(p.tile, ig::Tile::k128x64);
  EXPECT_EQ(p.splits, 1);
  // 14x14 256->256: 49 x 2 blocks of 128x128 are too few; 128x64 gives 196.
  p = ig::plan_gemm(32 * 14 * 14, 256, 9 * 256, 132, true);
  EXPECT_EQ(p.tile, ig::Tile::k128x64);
  // 28x28 128->128: 196 x 1 blocks of 128x128.
  p = ig::plan_gemm(32 * 28 * 28, 128, 9 * 128, 132, true);
  EXPECT_EQ(p.tile, ig::Tile::k128x128);
  // wgrad of 56x56 64->64: a 576 x 64 output over K = 100352 is split into many partitions.
  p = ig::plan_gemm(9 * 64, 64, 32 * 56 * 56, 132, true);
  EXPECT_GT(p.splits, 8);
  EXPECT_GE(std::int64_t{p.grid_m} * p.grid_n * p.splits, 132);
  // Without splitting allowed, one partition.
  EXPECT_EQ(ig::plan_gemm(9 * 64, 64, 32 * 56 * 56, 132, true, false).splits, 1);
  // Short reductions are not split.
  EXPECT_EQ(ig::plan_gemm(64, 64, 64, 132, true).splits, 1);
}

TEST(Conv2DPlanTest, MakePlanDropsEmptySplits) {
  // K = 100 in steps of 16: 7 steps. Asking for 5 splits gives 2 steps each: 4 splits.
  const ig::GemmPlan p = ig::make_plan(10, 10, 100, ig::Tile::k64x64, 5);
  EXPECT_EQ(p.k_per_split, 32);
  EXPECT_EQ(p.splits, 4);
  EXPECT_EQ(ig::split_range(p, 3).begin, 96);
  EXPECT_EQ(ig::split_range(p, 3).end, 100);
  EXPECT_EQ(ig::make_plan(10, 10, 0, ig::Tile::k64x64, 5).splits, 1);
  EXPECT_EQ(ig::make_plan(10, 10, 8, ig::Tile::k128x128, 1).k_per_split, 8);
}

TEST(Conv2DCudnnPaddingTest, OddTotalPaddingGrowsTheInputAfter) {
  // SAME, 8 -> 4 with a 3x3 window and stride 2: total 1, before 0, after 1.
  k::Conv2DGeom g = geometry(*find_case("c3_stride2_same_odd_pad"));
  ig::CudnnPadding p = ig::cudnn_padding(g);
  EXPECT_EQ(p.pad_h, 0);
  EXPECT_EQ(p.extra_h, 1);
  EXPECT_EQ(p.extra_w, 1);
  EXPECT_TRUE(p.needs_copy());
  // SAME 3x3 stride 1: symmetric.
  p = ig::cudnn_padding(geometry(*find_case("tiles_do_not_divide")));
  EXPECT_EQ(p.pad_h, 1);
  EXPECT_FALSE(p.needs_copy());
  // VALID: nothing, even when the window does not reach the last pixels.
  p = ig::cudnn_padding(geometry(*find_case("dilation2_stride2_valid")));
  EXPECT_FALSE(p.needs_copy());
  EXPECT_EQ(p.pad_h + p.pad_w, 0);
  // In every case, cuDNN's output size over the grown input with symmetric padding is TF's.
  for (const Case& c : kCases) {
    g = geometry(c);
    p = ig::cudnn_padding(g);
    const auto out = [](std::int64_t in, int pad, const k::WindowDim& d) {
      return (in + 2 * pad - ((d.k - 1) * d.dilation + 1)) / d.stride + 1;
    };
    EXPECT_EQ(out(g.h.in + p.extra_h, p.pad_h, g.h), g.h.out) << c.name;
    EXPECT_EQ(out(g.w.in + p.extra_w, p.pad_w, g.w), g.w.out) << c.name;
    EXPECT_LE(p.extra_h, 1);
    EXPECT_LE(p.extra_w, 1);
  }
}

TEST(Conv2DRoutingTest, ShapeClassesAndAlgorithmKeys) {
  const k::Conv2DGeom g = geometry(*find_case("c3_stride2_same_odd_pad"));
  EXPECT_EQ(ig::shape_class(Pass::kForward, g), "fprop k3x3 s2+ d1 c1-3 p<=64");
  EXPECT_EQ(ig::shape_class(Pass::kBackwardFilter, geometry(*find_case("wide_grid_o64"))),
            "wgrad k3x3 s1 d1 c4-31 p>1024");
  // The routing table (measured on an H200): the Fashion CNN's second conv (N=64, 14x14,
  // 32->64, 5x5 SAME) runs natively forward and for the filter gradient, cuDNN for the input
  // gradient; classes never measured (strided here) stay on cuDNN.
  const Case conv2{"fashion_conv2", 64, 14, 14, 32, 5, 5, 64, 1, 1, 1, 1, "SAME"};
  EXPECT_EQ(ig::shape_class(Pass::kForward, geometry(conv2)), "fprop k5x5 s1 d1 c32-127 p<=256");
  EXPECT_TRUE(ig::native_preferred(Pass::kForward, geometry(conv2)));
  EXPECT_TRUE(ig::native_preferred(Pass::kBackwardFilter, geometry(conv2)));
  EXPECT_FALSE(ig::native_preferred(Pass::kBackwardInput, geometry(conv2)));
  for (Pass pass : kPasses) EXPECT_FALSE(ig::native_preferred(pass, g));
  std::set<std::string> keys;
  for (const Case& c : kCases)
    for (Pass pass : kPasses) keys.insert(ig::algo_key(pass, geometry(c), 0));
  EXPECT_EQ(keys.size(), std::size(kCases) * 3) << "every case and pass has its own cache key";
  EXPECT_NE(ig::algo_key(Pass::kForward, g, 0), ig::algo_key(Pass::kForward, g, 1));
}

// ---------------------------------------------------------------- GPU: labels vs reference
namespace {

// Uploads host data to `device`.
sf::Tensor upload(const std::vector<float>& v, const sf::Shape& s,
                  const std::shared_ptr<sf::devices::Device>& device) {
  return sf::Tensor::from_vector(v, s).to(device);
}

sf::Tensor nan_tensor(const sf::Shape& s, const std::shared_ptr<sf::devices::Device>& device) {
  return upload(std::vector<float>(static_cast<std::size_t>(s.num_elements()), NAN), s, device);
}

const char* op_name(Pass pass) {
  switch (pass) {
    case Pass::kForward: return "Conv2D";
    case Pass::kBackwardInput: return "Conv2DBackpropInput";
    case Pass::kBackwardFilter: return "Conv2DBackpropFilter";
  }
  return "?";
}

// Runs `pass` of case `c` through the registry under `label`; poisons a preallocated output
// with NaN when `poison`, else lets the kernel allocate it.
std::vector<float> run_label(const std::string& label, Pass pass, const Case& cs, const Operands& v,
                             const std::shared_ptr<sf::devices::Device>& device, bool poison) {
  const k::Conv2DGeom g = geometry(cs);
  const sf::Shape xs{g.n, g.h.in, g.w.in, g.c}, fs{g.h.k, g.w.k, g.c, g.o},
      ys{g.n, g.h.out, g.w.out, g.o};
  const sf::AttrMap a = attrs(cs);
  k::KernelContext c;
  c.device = device.get();
  c.device_ptr = device;
  c.attrs = &a;
  c.node_name = std::string(cs.name) + "/" + op_name(pass);
  switch (pass) {
    case Pass::kForward:
      c.inputs = {upload(v.x, xs, device), upload(v.f, fs, device)};
      if (poison) c.outputs = {nan_tensor(ys, device)};
      break;
    case Pass::kBackwardInput:
      c.inputs = {sf::Tensor::from_vector<std::int32_t>(
                      {static_cast<std::int32_t>(g.n), static_cast<std::int32_t>(g.h.in),
                       static_cast<std::int32_t>(g.w.in), static_cast<std::int32_t>(g.c)}),
                  upload(v.f, fs, device), upload(v.dy, ys, device)};
      if (poison) c.outputs = {nan_tensor(xs, device)};
      break;
    case Pass::kBackwardFilter:
      c.inputs = {upload(v.x, xs, device),
                  sf::Tensor::from_vector<std::int32_t>(
                      {static_cast<std::int32_t>(g.h.k), static_cast<std::int32_t>(g.w.k),
                       static_cast<std::int32_t>(g.c), static_cast<std::int32_t>(g.o)}),
                  upload(v.dy, ys, device)};
      if (poison) c.outputs = {nan_tensor(fs, device)};
      break;
  }
  const void* preallocated = poison ? c.outputs[0].raw_data() : nullptr;
  sf::kernels::kernel_registry().find(op_name(pass), sf::devices::DeviceType::kGPU, sf::float32,
                                      label)(c);
  device->synchronize();
  EXPECT_EQ(c.outputs.size(), 1u);
  if (poison) {
    EXPECT_EQ(c.outputs[0].raw_data(), preallocated) << "the preallocated output is used";
  }
  return c.outputs[0].to_vector<float>();
}

class Conv2DGpuTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SF_SKIP_UNLESS_DEVICE("GPU:0");
    if (!sf::kernels::kernel_registry().contains("Conv2D", sf::devices::DeviceType::kGPU,
                                                 sf::float32, GetParam()))
      GTEST_SKIP() << "label " << GetParam() << " is not in this build (cuDNN not found)";
    device_ = manager_.gpu(0);
  }
  void check_pass(Pass pass) {
    for (const Case& cs : kCases) {
      SCOPED_TRACE(std::string(cs.name) + " " + ig::pass_name(pass) + " " + GetParam());
      const k::Conv2DGeom g = geometry(cs);
      const Operands v = operands(g, 11);
      const std::vector<float> want = reference(pass, g, v);
      EXPECT_TRUE(close_in_norm(run_label(GetParam(), pass, cs, v, device_, true), want));
    }
  }
  sf::devices::DeviceManager manager_;
  std::shared_ptr<sf::devices::Device> device_;
};

}  // namespace

TEST_P(Conv2DGpuTest, ForwardMatchesReference) { check_pass(Pass::kForward); }
TEST_P(Conv2DGpuTest, BackwardInputMatchesReference) { check_pass(Pass::kBackwardInput); }
TEST_P(Conv2DGpuTest, BackwardFilterMatchesReference) { check_pass(Pass::kBackwardFilter); }

TEST_P(Conv2DGpuTest, AllocatesItsOutputAndRepeatsExactly) {
  const Case& cs = *find_case("filter5x5_stride2_same_odd_pad");
  const k::Conv2DGeom g = geometry(cs);
  const Operands v = operands(g, 5);
  for (Pass pass : kPasses) {
    SCOPED_TRACE(ig::pass_name(pass));
    const auto first = run_label(GetParam(), pass, cs, v, device_, false);
    EXPECT_TRUE(close_in_norm(first, reference(pass, g, v)));
    const auto second = run_label(GetParam(), pass, cs, v, device_, false);
    // NOTE: only the native kernel promises the same bits every run (fixed-order split-K
    // reduction); cuDNN's fastest algorithm may accumulate with atomics.
    if (GetParam() == "cuda")
      EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * 4)) << "two runs differ";
    else
      EXPECT_TRUE(close_in_norm(second, reference(pass, g, v)));
  }
}

INSTANTIATE_TEST_SUITE_P(Labels, Conv2DGpuTest, ::testing::Values("cuda", "cudnn"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// The native kernel with every tile configuration it has and several split counts (the
// planner alone would pick one per shape and GPU).
TEST(Conv2DCudaPlanTest, EveryTileAndSplitMatchesReference) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  sf::devices::DeviceManager manager;
  auto device = manager.gpu(0);
  int runs = 0;
  for (const Case& cs : kCases) {
    const k::Conv2DGeom g = geometry(cs);
    const Operands v = operands(g, 13);
    const sf::Shape xs{g.n, g.h.in, g.w.in, g.c}, fs{g.h.k, g.w.k, g.c, g.o},
        ys{g.n, g.h.out, g.w.out, g.o};
    const sf::Tensor x = upload(v.x, xs, device), f = upload(v.f, fs, device),
                     dy = upload(v.dy, ys, device);
    for (Pass pass : kPasses) {
      const std::vector<float> want = reference(pass, g, v);
      const ig::Params p = ig::make_params(pass, g, cs.name);
      const ig::VectorPlan vp = ig::vector_plan(pass, p);
      std::vector<ig::Tile> tiles{ig::Tile::k64x64};
      if (vp.a && vp.b) tiles = {ig::Tile::k128x128, ig::Tile::k128x64, ig::Tile::k64x64};
      const float *a = nullptr, *b = nullptr;
      sf::Shape out_shape;
      switch (pass) {
        case Pass::kForward: a = x.data<float>(), b = f.data<float>(), out_shape = ys; break;
        case Pass::kBackwardInput: a = dy.data<float>(), b = f.data<float>(), out_shape = xs; break;
        case Pass::kBackwardFilter:
          a = x.data<float>(), b = dy.data<float>(), out_shape = fs;
          break;
      }
      for (ig::Tile tile : tiles) {
        for (int splits : {1, 3, 1000}) {
          SCOPED_TRACE(::testing::Message() << cs.name << " " << ig::pass_name(pass) << " tile "
                                            << ig::tile_name(tile) << " splits " << splits);
          const ig::GemmPlan plan = ig::make_plan(p.m, p.n, p.k, tile, splits);
          sf::Tensor out = nan_tensor(out_shape, device);
          k::conv2d_igemm_cuda(pass, g, a, b, out.data<float>(), *device, device->compute_stream(),
                               &plan);
          device->synchronize();
          EXPECT_TRUE(close_in_norm(out.to_vector<float>(), want));
          ++runs;
        }
      }
    }
  }
  EXPECT_GT(runs, 200);
}

TEST(Conv2DCudaPlanTest, RejectsAPlanForOtherSizes) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  sf::devices::DeviceManager manager;
  auto device = manager.gpu(0);
  const k::Conv2DGeom g = geometry(*find_case("dilation2_same"));
  const ig::GemmPlan plan = ig::make_plan(1, 1, 1, ig::Tile::k64x64, 1);
  sf::Tensor buf = nan_tensor({1 << 16}, device);
  EXPECT_THROW(k::conv2d_igemm_cuda(Pass::kForward, g, buf.data<float>(), buf.data<float>(),
                                    buf.data<float>(), *device, device->compute_stream(), &plan),
               sf::InvalidArgumentError);
}
