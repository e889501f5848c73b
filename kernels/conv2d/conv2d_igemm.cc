// Host-side plans of the GPU conv2d kernels (see conv2d_igemm.h): built in every
// configuration, so that the CPU tests cover them.
#include "kernels/conv2d/conv2d_igemm.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>

namespace scopeflow::kernels::igemm {

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::kForward: return "fprop";
    case Pass::kBackwardInput: return "dgrad";
    case Pass::kBackwardFilter: return "wgrad";
  }
  return "?";
}

const char* tile_name(Tile t) {
  switch (t) {
    case Tile::k128x128: return "128x128x8";
    case Tile::k128x64: return "128x64x16";
    case Tile::k64x64: return "64x64x16";
  }
  return "?";
}

Params make_params(Pass pass, const Conv2DGeom& g, const std::string& what) {
  constexpr std::int64_t kLimit = std::numeric_limits<std::int32_t>::max() - 1024;
  const std::int64_t in_elems = g.n * g.h.in * g.w.in * g.c;
  const std::int64_t out_elems = g.n * g.h.out * g.w.out * g.o;
  const std::int64_t f_elems = g.h.k * g.w.k * g.c * g.o;
  std::int64_t m = 0, n = 0, k = 0;
  switch (pass) {
    case Pass::kForward: m = g.n * g.h.out * g.w.out, n = g.o, k = g.h.k * g.w.k * g.c; break;
    case Pass::kBackwardInput: m = g.n * g.h.in * g.w.in, n = g.c, k = g.h.k * g.w.k * g.o; break;
    case Pass::kBackwardFilter:
      m = g.h.k * g.w.k * g.c, n = g.o, k = g.n * g.h.out * g.w.out;
      break;
  }
  for (std::int64_t v : {in_elems, out_elems, f_elems, m, n, k}) {
    if (v > kLimit)
      throw InvalidArgumentError(
          str_cat(what, ": convolution too large for the native CUDA kernel (", v,
                  " elements in one tensor or GEMM dimension, limit ", kLimit, ")"));
  }
  // The window geometry goes to the device as ints too, and the maps compute input rows as
  // oh*sh - ph + kh*dh (dgrad: ih + ph - kh*dh) in 32 bits: that lies within
  // [-eff, in + eff] (eff = the dilated window), so in + 2*eff, the stride and the padding
  // must fit. NOTE: without this check a huge dilation or stride (legal attrs) was truncated
  // by the casts below and the kernel silently computed another convolution.
  for (const WindowDim* d : {&g.h, &g.w}) {
    const std::int64_t eff = (d->k - 1) * d->dilation + 1;
    if (d->in + 2 * eff > kLimit || d->stride > kLimit || d->pad_before > kLimit)
      throw InvalidArgumentError(str_cat(what, ": window (size ", d->k, ", stride ", d->stride,
                                         ", dilation ", d->dilation, ", padding ", d->pad_before,
                                         " over ", d->in, " pixels) does not fit the native CUDA ",
                                         "kernel's 32-bit index math (limit ", kLimit, ")"));
  }
  const auto i = [](std::int64_t v) { return static_cast<int>(v); };
  Params p;
  p.batch = i(g.n), p.h = i(g.h.in), p.w = i(g.w.in), p.c = i(g.c);
  p.oh = i(g.h.out), p.ow = i(g.w.out), p.o = i(g.o);
  p.kh = i(g.h.k), p.kw = i(g.w.k);
  p.sh = i(g.h.stride), p.sw = i(g.w.stride), p.dh = i(g.h.dilation), p.dw = i(g.w.dilation);
  p.ph = i(g.h.pad_before), p.pw = i(g.w.pad_before);
  p.m = i(m), p.n = i(n), p.k = i(k);
  return p;
}

VectorPlan vector_plan(Pass pass, const Params& p) {
  switch (pass) {
    case Pass::kForward: return {p.c % 4 == 0, p.o % 4 == 0};
    case Pass::kBackwardInput: return {p.o % 4 == 0, p.o % 4 == 0};
    case Pass::kBackwardFilter: return {p.c % 4 == 0, p.o % 4 == 0};
  }
  return {};
}

std::int64_t GemmPlan::partial_floats() const { return splits > 1 ? splits * m * n : 0; }

GemmPlan make_plan(std::int64_t m, std::int64_t n, std::int64_t k, Tile tile, int splits) {
  const TileShape s = tile_shape(tile);
  GemmPlan plan;
  plan.m = m, plan.n = n, plan.k = k;
  plan.tile = tile;
  plan.grid_m = static_cast<int>((m + s.bm - 1) / s.bm);
  plan.grid_n = static_cast<int>((n + s.bn - 1) / s.bn);
  const std::int64_t k_tiles = (k + s.bk - 1) / s.bk;
  splits =
      static_cast<int>(std::clamp<std::int64_t>(splits, 1, std::max<std::int64_t>(k_tiles, 1)));
  const std::int64_t tiles_per_split = std::max<std::int64_t>(1, (k_tiles + splits - 1) / splits);
  plan.k_per_split = static_cast<int>(tiles_per_split * s.bk);
  // Rounding up may leave the last splits empty: drop them.
  plan.splits =
      static_cast<int>(std::max<std::int64_t>(1, (k + plan.k_per_split - 1) / plan.k_per_split));
  return plan;
}

GemmPlan plan_gemm(std::int64_t m, std::int64_t n, std::int64_t k, int num_sms, bool vector_loads,
                   bool allow_split, std::int64_t max_partial_floats) {
  num_sms = std::max(num_sms, 1);
  const auto blocks = [&](Tile t) {
    const TileShape s = tile_shape(t);
    return ((m + s.bm - 1) / s.bm) * ((n + s.bn - 1) / s.bn);
  };
  Tile tile = Tile::k64x64;
  if (!vector_loads)
    tile = Tile::k64x64;
  else if (n > 64 && blocks(Tile::k128x128) >= num_sms)
    tile = Tile::k128x128;
  else if (blocks(Tile::k128x64) >= num_sms)
    tile = Tile::k128x64;
  const TileShape s = tile_shape(tile);
  const std::int64_t grid = blocks(tile);
  const std::int64_t k_tiles = (k + s.bk - 1) / s.bk;
  std::int64_t splits = 1;
  if (allow_split && grid > 0 && grid < num_sms) {
    splits = (2 * num_sms + grid - 1) / grid;
    splits = std::min<std::int64_t>(splits, k_tiles / kMinTilesPerSplit);
    splits = std::min<std::int64_t>(splits, kMaxSplits);
    splits = std::min<std::int64_t>(splits, max_partial_floats / (m * n));
    splits = std::max<std::int64_t>(splits, 1);
  }
  return make_plan(m, n, k, tile, static_cast<int>(splits));
}

KRange split_range(const GemmPlan& plan, int z) {
  KRange r;
  r.begin = std::min<std::int64_t>(plan.k, std::int64_t{z} * plan.k_per_split);
  r.end = std::min<std::int64_t>(plan.k, r.begin + plan.k_per_split);
  return r;
}

CudnnPadding cudnn_padding(const Conv2DGeom& g) {
  // Total padding TF implies: (out - 1)*stride + effective window - in, never negative.
  const auto after = [](const WindowDim& d) {
    const std::int64_t eff = (d.k - 1) * d.dilation + 1;
    const std::int64_t total = std::max<std::int64_t>((d.out - 1) * d.stride + eff - d.in, 0);
    return total - d.pad_before;
  };
  CudnnPadding p;
  p.pad_h = static_cast<int>(g.h.pad_before);
  p.pad_w = static_cast<int>(g.w.pad_before);
  p.extra_h = static_cast<int>(std::max<std::int64_t>(after(g.h) - g.h.pad_before, 0));
  p.extra_w = static_cast<int>(std::max<std::int64_t>(after(g.w) - g.w.pad_before, 0));
  return p;
}

namespace {
const char* channel_bucket(std::int64_t c) {
  if (c < 4) return "1-3";
  if (c < 32) return "4-31";
  if (c < 128) return "32-127";
  return "128+";
}
const char* pixel_bucket(std::int64_t p) {
  if (p <= 64) return "<=64";
  if (p <= 256) return "<=256";
  if (p <= 1024) return "<=1024";
  return ">1024";
}

// Shape classes where sf-bench-kernels measured the native kernel faster than cuDNN on the
// target GPU, so that the "cudnn" label runs the native kernel for them: those at least 1.05x
// cuDNN in every measurement (device time, and host time where measured) on an NVIDIA H200,
// 2026-11-27 (`scripts/gpu-check.sh --prebuilt`; benchmarks/RESULTS.md has the table). One
// shape was measured per class; a class stays out when its ratio was under 1.05 anywhere
// (e.g. wgrad k3x3 c128+ p<=1024 at 1.03). scripts/bench_summary.py prints the candidates.
constexpr std::array<std::string_view, 17> kNativeClasses{
    "dgrad k1x1 s1 d1 c128+ p<=256",   "dgrad k1x1 s1 d1 c32-127 p>1024",
    "dgrad k3x3 s1 d1 c128+ p<=1024",  "dgrad k3x3 s1 d1 c32-127 p<=1024",
    "dgrad k3x3 s1 d1 c32-127 p>1024", "fprop k1x1 s1 d1 c128+ p<=256",
    "fprop k1x1 s1 d1 c32-127 p>1024", "fprop k3x3 s1 d1 c1-3 p<=1024",
    "fprop k3x3 s1 d1 c128+ p<=1024",  "fprop k3x3 s1 d1 c128+ p<=256",
    "fprop k3x3 s1 d1 c128+ p<=64",    "fprop k3x3 s1 d1 c32-127 p<=1024",
    "fprop k3x3 s1 d1 c32-127 p>1024", "fprop k5x5 s1 d1 c1-3 p<=1024",
    "fprop k5x5 s1 d1 c32-127 p<=256", "wgrad k1x1 s1 d1 c32-127 p>1024",
    "wgrad k5x5 s1 d1 c32-127 p<=256",
};
}  // namespace

std::string shape_class(Pass pass, const Conv2DGeom& g) {
  return str_cat(pass_name(pass), " k", g.h.k, "x", g.w.k, " s",
                 (g.h.stride == 1 && g.w.stride == 1) ? "1" : "2+", " d",
                 (g.h.dilation == 1 && g.w.dilation == 1) ? "1" : "2+", " c",
                 channel_bucket(std::min(g.c, g.o)), " p", pixel_bucket(g.h.out * g.w.out));
}

bool native_preferred(Pass pass, const Conv2DGeom& g) {
  const std::string cls = shape_class(pass, g);
  return std::find(kNativeClasses.begin(), kNativeClasses.end(), cls) != kNativeClasses.end();
}

std::string algo_key(Pass pass, const Conv2DGeom& g, int physical_gpu) {
  return str_cat(pass_name(pass), " gpu", physical_gpu, " n", g.n, " in", g.h.in, "x", g.w.in, "x",
                 g.c, " f", g.h.k, "x", g.w.k, "x", g.o, " s", g.h.stride, ",", g.w.stride, " d",
                 g.h.dilation, ",", g.w.dilation, " p", g.h.pad_before, ",", g.w.pad_before, " out",
                 g.h.out, "x", g.w.out);
}

}  // namespace scopeflow::kernels::igemm
