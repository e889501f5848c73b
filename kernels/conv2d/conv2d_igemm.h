// Conv2D passes as implicit GEMMs: the operand index maps that conv2d_cuda.cu's tiled kernel
// loads through (SF_HOST_DEVICE, so the CPU tests run the same maps against conv2d_cpu.cc),
// and the host-side plans: tile configuration, split-K partition, vector widths, the cuDNN
// padding fix-up and the shape-class keys that route the "cudnn" label. No CUDA types here.
#pragma once

#include <cstdint>
#include <string>

#include "devices/base/host_device.h"
#include "kernels/conv2d/conv2d.h"

namespace scopeflow::kernels::igemm {

// Forward: C[M x N] = A[M x K] * B[K x N] with
//   forward          M = batch*OH*OW (output pixels)  N = O   K = KH*KW*C
//   backward_input   M = batch*H*W   (input pixels)   N = C   K = KH*KW*O
//   backward_filter  M = KH*KW*C     (filter rows)    N = O   K = batch*OH*OW
// C is row-major with leading dimension N in every pass (NHWC y, NHWC dx, HWIO df).
enum class Pass { kForward, kBackwardInput, kBackwardFilter };
const char* pass_name(Pass pass);  // "fprop", "dgrad", "wgrad"

// The geometry in 32-bit ints for the device. Element offsets are computed in 64 bits.
struct Params {
  int batch = 0, h = 0, w = 0, c = 0;                  // input, NHWC
  int oh = 0, ow = 0, o = 0;                           // output, NHWC
  int kh = 0, kw = 0;                                  // filter, HWIO (KH, KW, C, O)
  int sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;  // strides, dilations, pad before
  int m = 0, n = 0, k = 0;                             // GEMM sizes of the pass
};

// Throws InvalidArgumentError naming `what` when a GEMM size or a tensor does not fit the
// kernels' 32-bit indices (2^31 - 1024 elements, leaving room for tile overhang).
Params make_params(Pass pass, const Conv2DGeom& g, const std::string& what);

// ---------------------------------------------------------------- operand maps
// Each operand is seen as R x K (R = M for A, N for B). row(p, r) precomputes what depends
// on the row only (a thread keeps it for the whole K loop); offset(p, row, k) is the element's
// index in its tensor, or -1 where the element is an implicit zero (padding, a row past R, a
// stride hole). Vector loads of 4 rely on: if K-contiguous (A of fprop and dgrad, B of
// dgrad), offset(k+j) = offset(k)+j for k % 4 == 0 when the contiguous channel count is a
// multiple of 4; if R-contiguous (B of fprop and wgrad, A of wgrad), offset of row r+j is
// offset of row r plus j. conv2d_gpu_test.cc checks both on the CPU.

// fprop A: x[b, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw, c], m = (b, oh, ow), k = (kh, kw, c).
struct ForwardA {
  struct Row {
    std::int64_t base = 0;  // b*H*W*C
    int ih0 = 0, iw0 = 0;   // oh*sh - ph, ow*sw - pw
    bool valid = false;
  };
  SF_HOST_DEVICE static Row row(const Params& p, int m) {
    Row r;
    if (m < 0 || m >= p.m) return r;
    const int ow = m % p.ow, t = m / p.ow, oh = t % p.oh, b = t / p.oh;
    r.base = std::int64_t{b} * p.h * p.w * p.c;
    r.ih0 = oh * p.sh - p.ph;
    r.iw0 = ow * p.sw - p.pw;
    r.valid = true;
    return r;
  }
  SF_HOST_DEVICE static std::int64_t offset(const Params& p, const Row& r, int k) {
    if (!r.valid || k < 0 || k >= p.k) return -1;
    const int c = k % p.c, t = k / p.c, kw = t % p.kw, kh = t / p.kw;
    const int ih = r.ih0 + kh * p.dh, iw = r.iw0 + kw * p.dw;
    if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) return -1;
    return r.base + (std::int64_t{ih} * p.w + iw) * p.c + c;
  }
};

// A row-major K x N matrix seen as B (r = column): the HWIO filter in fprop, dy in wgrad.
struct RowMajorB {
  struct Row {
    int col = 0;
    bool valid = false;
  };
  SF_HOST_DEVICE static Row row(const Params& p, int n) {
    Row r;
    r.col = n;
    r.valid = n >= 0 && n < p.n;
    return r;
  }
  SF_HOST_DEVICE static std::int64_t offset(const Params& p, const Row& r, int k) {
    if (!r.valid || k < 0 || k >= p.k) return -1;
    return std::int64_t{k} * p.n + r.col;
  }
};

// dgrad A: dy[b, oh, ow, o] for input pixel m = (b, ih, iw) and k = (kh, kw, o), where
// oh*sh = ih + ph - kh*dh (likewise ow); zero unless that lands on a whole output position.
struct BackwardInputA {
  struct Row {
    std::int64_t base = 0;  // b*OH*OW*O
    int ihp = 0, iwp = 0;   // ih + ph, iw + pw
    bool valid = false;
  };
  SF_HOST_DEVICE static Row row(const Params& p, int m) {
    Row r;
    if (m < 0 || m >= p.m) return r;
    const int iw = m % p.w, t = m / p.w, ih = t % p.h, b = t / p.h;
    r.base = std::int64_t{b} * p.oh * p.ow * p.o;
    r.ihp = ih + p.ph;
    r.iwp = iw + p.pw;
    r.valid = true;
    return r;
  }
  SF_HOST_DEVICE static std::int64_t offset(const Params& p, const Row& r, int k) {
    if (!r.valid || k < 0 || k >= p.k) return -1;
    const int o = k % p.o, t = k / p.o, kw = t % p.kw, kh = t / p.kw;
    const int yh = r.ihp - kh * p.dh, yw = r.iwp - kw * p.dw;
    // NOTE: test the sign before % and /: C++ rounds negative quotients toward zero.
    if (yh < 0 || yw < 0 || yh % p.sh != 0 || yw % p.sw != 0) return -1;
    const int oh = yh / p.sh, ow = yw / p.sw;
    if (oh >= p.oh || ow >= p.ow) return -1;
    return r.base + (std::int64_t{oh} * p.ow + ow) * p.o + o;
  }
};

// dgrad B: f[kh, kw, c, o] for column c and k = (kh, kw, o): the filter transposed per tap,
// contiguous along k (o).
struct BackwardInputB {
  struct Row {
    int c = 0;
    bool valid = false;
  };
  SF_HOST_DEVICE static Row row(const Params& p, int n) {
    Row r;
    r.c = n;
    r.valid = n >= 0 && n < p.n;
    return r;
  }
  SF_HOST_DEVICE static std::int64_t offset(const Params& p, const Row& r, int k) {
    if (!r.valid || k < 0 || k >= p.k) return -1;
    const int o = k % p.o, tap = k / p.o;  // tap = kh*KW + kw
    return (std::int64_t{tap} * p.c + r.c) * p.o + o;
  }
};

// wgrad A: x[b, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw, c], m = (kh, kw, c), k = (b, oh, ow).
struct BackwardFilterA {
  struct Row {
    int c = 0;
    int hoff = 0, woff = 0;  // kh*dh - ph, kw*dw - pw
    bool valid = false;
  };
  SF_HOST_DEVICE static Row row(const Params& p, int m) {
    Row r;
    if (m < 0 || m >= p.m) return r;
    const int c = m % p.c, t = m / p.c, kw = t % p.kw, kh = t / p.kw;
    r.c = c;
    r.hoff = kh * p.dh - p.ph;
    r.woff = kw * p.dw - p.pw;
    r.valid = true;
    return r;
  }
  SF_HOST_DEVICE static std::int64_t offset(const Params& p, const Row& r, int k) {
    if (!r.valid || k < 0 || k >= p.k) return -1;
    const int ow = k % p.ow, t = k / p.ow, oh = t % p.oh, b = t / p.oh;
    const int ih = oh * p.sh + r.hoff, iw = ow * p.sw + r.woff;
    if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) return -1;
    return ((std::int64_t{b} * p.h + ih) * p.w + iw) * p.c + r.c;
  }
};

// Whether each operand of `pass` may be loaded 4 floats at a time: its contiguous channel
// count is a multiple of 4 (fprop A: C, B: O; dgrad A and B: O; wgrad A: C, B: O). The
// pointers' 16-byte alignment is checked by the launcher.
struct VectorPlan {
  bool a = false, b = false;
};
VectorPlan vector_plan(Pass pass, const Params& p);

// ---------------------------------------------------------------- tiling and split-K
// Block tiles of the tiled kernel; every configuration runs 256 threads (16 x 16), each
// holding a TM x TN register micro-tile, with BK-deep double-buffered shared-memory tiles.
enum class Tile { k128x128, k128x64, k64x64 };
struct TileShape {
  int bm, bn, bk, tm, tn;
};
constexpr TileShape tile_shape(Tile t) {
  switch (t) {
    case Tile::k128x128: return {128, 128, 8, 8, 8};
    case Tile::k128x64: return {128, 64, 16, 8, 4};
    case Tile::k64x64: return {64, 64, 16, 4, 4};
  }
  return {64, 64, 16, 4, 4};
}
const char* tile_name(Tile t);  // "128x128x8"

struct GemmPlan {
  Tile tile = Tile::k64x64;
  int grid_m = 0, grid_n = 0;           // blocks along M and N
  int splits = 1;                       // K partitions (blockIdx.z); > 1: partial sums + reduction
  int k_per_split = 0;                  // a multiple of the tile's BK; split z covers
                                        // [z*k_per_split, min(K, (z+1)*k_per_split))
  std::int64_t partial_floats() const;  // splits * M * N when splits > 1, else 0
  std::int64_t m = 0, n = 0, k = 0;
};

// Picks the largest tile that still gives every SM a block (128x128 only when N > 64; only
// 64x64 when `vector_loads` is false: with 4-8 scalar loads per operand and thread, the larger
// tiles spill registers), then, when the grid has fewer blocks than SMs and K is long,
// splits K for about two blocks per SM, keeping at least kMinTilesPerSplit BK-steps per
// split, at most kMaxSplits splits and at most `max_partial_floats` of partial sums.
inline constexpr int kMinTilesPerSplit = 8;
inline constexpr int kMaxSplits = 128;
inline constexpr std::int64_t kMaxPartialFloats = std::int64_t{64} << 20;  // 256 MiB
GemmPlan plan_gemm(std::int64_t m, std::int64_t n, std::int64_t k, int num_sms, bool vector_loads,
                   bool allow_split = true, std::int64_t max_partial_floats = kMaxPartialFloats);

// The plan for an explicit tile and (at most) `splits` K partitions: grid sizes, k_per_split
// rounded up to whole BK steps, and splits reduced so that none is empty. plan_gemm's last
// step; tests use it to run every configuration.
GemmPlan make_plan(std::int64_t m, std::int64_t n, std::int64_t k, Tile tile, int splits);

// [begin, end) of split z.
struct KRange {
  std::int64_t begin = 0, end = 0;
};
KRange split_range(const GemmPlan& plan, int z);

// ---------------------------------------------------------------- cuDNN and routing
// cuDNN pads symmetrically; TF's SAME puts the odd pixel of an odd total padding after
// (bottom/right). cuDNN then sees the input grown by extra_h rows at the bottom and extra_w
// columns at the right (zeros), with symmetric padding pad_h / pad_w (TF's pad_before).
struct CudnnPadding {
  int pad_h = 0, pad_w = 0;
  int extra_h = 0, extra_w = 0;
  bool needs_copy() const { return extra_h != 0 || extra_w != 0; }
};
CudnnPadding cudnn_padding(const Conv2DGeom& g);

// The shape class that routes the "cudnn" label: "<pass> k<KH>x<KW> s<1|2+> d<1|2+>
// c<bucket> p<bucket>", with channel buckets of min(C, O) (1-3, 4-31, 32-127, 128+) and
// output-pixel buckets of OH*OW (<=64, <=256, <=1024, >1024). Benchmarks are keyed by it.
std::string shape_class(Pass pass, const Conv2DGeom& g);
// True when the table in conv2d_igemm.cc says the native kernel beat cuDNN for this class.
bool native_preferred(Pass pass, const Conv2DGeom& g);

// The cuDNN algorithm cache key: every field that changes the algorithm choice.
std::string algo_key(Pass pass, const Conv2DGeom& g, int physical_gpu);

}  // namespace scopeflow::kernels::igemm
