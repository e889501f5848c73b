// Reduction plans for device kernels: the input with size-1 dimensions dropped and adjacent
// dimensions of the same kind (kept or reduced) merged. One reduced run viewed as [a, r, b]
// (y[a, b] = reduce over r of x[a, r, b]) takes the fast kernels; anything else, a general
// index decode. Built on the host; reduce_offset runs on host and device. User:
// reduce_cuda.cu; tested on the CPU against reduce_forward_ref.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/base/errors.h"
#include "devices/base/host_device.h"
#include "devices/base/shape.h"

namespace scopeflow::kernels {

inline constexpr int kMaxReduceRank = 8;

struct ReducePlan {
  std::int64_t out_n = 0;  // output elements
  std::int64_t group = 0;  // input elements per output (0: every output is the empty reduction)
  bool three_d = true;     // x is [a, r, b] and y [a, b]
  std::int64_t a = 1, r = 1, b = 1;
  // General plans: merged dimensions, outermost first, and their strides in x.
  int rank = 0;
  std::int64_t dims[kMaxReduceRank] = {};
  std::int64_t strides[kMaxReduceRank] = {};
  bool reduced[kMaxReduceRank] = {};
};

// `mask[i]`: dimension i is reduced. Throws InvalidArgumentError when a general plan needs
// more than kMaxReduceRank merged dimensions.
inline ReducePlan make_reduce_plan(const Shape& in, const std::vector<bool>& mask) {
  ReducePlan p;
  p.out_n = 1;
  p.group = 1;
  for (int i = 0; i < in.rank(); ++i)
    (mask[static_cast<std::size_t>(i)] ? p.group : p.out_n) *=
        in.dims()[static_cast<std::size_t>(i)];
  if (p.out_n == 0 || p.group == 0) return p;  // nothing to read
  std::vector<std::int64_t> dims;
  std::vector<bool> red;
  for (int i = 0; i < in.rank(); ++i) {
    const std::int64_t d = in.dims()[static_cast<std::size_t>(i)];
    const bool m = mask[static_cast<std::size_t>(i)];
    if (d == 1) continue;
    if (!dims.empty() && red.back() == m) {
      dims.back() *= d;
    } else {
      dims.push_back(d);
      red.push_back(m);
    }
  }
  const std::size_t k = dims.size();
  // [r], [a, r], [r, b], [a, r, b] (and no reduced run at all: r = 1).
  std::size_t runs = 0;
  for (bool m : red) runs += m;
  if (runs <= 1) {
    p.three_d = true;
    std::size_t i = 0;
    if (i < k && !red[i]) p.a = dims[i++];
    if (i < k && red[i]) p.r = dims[i++];
    if (i < k && !red[i]) p.b = dims[i++];
    return p;
  }
  p.three_d = false;
  if (k > static_cast<std::size_t>(kMaxReduceRank))
    throw InvalidArgumentError(str_cat("reduction of ", in.to_string(), " needs ", k,
                                       " dimensions after merging; GPU kernels take ",
                                       kMaxReduceRank));
  p.rank = static_cast<int>(k);
  std::int64_t s = 1;
  for (int i = p.rank - 1; i >= 0; --i) {
    p.dims[i] = dims[static_cast<std::size_t>(i)];
    p.reduced[i] = red[static_cast<std::size_t>(i)];
    p.strides[i] = s;
    s *= p.dims[i];
  }
  return p;
}

// Offset in x of the g-th element (row-major over the reduced dimensions, the reference's
// order) reduced into output o (row-major over the kept dimensions). General plans only.
SF_HOST_DEVICE inline std::int64_t reduce_offset(const ReducePlan& p, std::int64_t o,
                                                 std::int64_t g) {
  std::int64_t off = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    std::int64_t& i = p.reduced[d] ? g : o;
    const std::int64_t q = i / p.dims[d];
    off += (i - q * p.dims[d]) * p.strides[d];
    i = q;
  }
  return off;
}

// How the two-pass kernels split an [a, r, b] plan's r: `chunks` runs of `len` rows (the
// last may be shorter), chosen from the shape alone so that results repeat bit for bit.
// `direct`: one thread per output instead (tiny groups, many outputs, general plans).
struct ReduceChunking {
  bool direct = true;
  std::int64_t chunks = 0, len = 0;
};
inline constexpr std::int64_t kReduceTargetItems = 132 * 8;  // fills an H100 several times
inline constexpr std::int64_t kReduceDirectMaxGroup = 16;
inline constexpr std::int64_t kReduceDirectMinOutputs = 132 * 1024;
inline constexpr std::int64_t kReduceColsTile = 32;  // outputs per block of the column kernel

inline ReduceChunking reduce_chunking(const ReducePlan& p) {
  ReduceChunking ch;
  if (!p.three_d || p.out_n == 0 || p.group == 0 || p.r <= kReduceDirectMaxGroup ||
      p.out_n >= kReduceDirectMinOutputs)
    return ch;
  auto ceil_div = [](std::int64_t x, std::int64_t y) { return (x + y - 1) / y; };
  auto clamp = [](std::int64_t v, std::int64_t lo, std::int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
  };
  ch.direct = false;
  const std::int64_t want =
      p.b == 1 ? clamp(ceil_div(kReduceTargetItems, p.a), 1, ceil_div(p.r, 2048))
               : clamp(ceil_div(kReduceTargetItems, p.a * ceil_div(p.b, kReduceColsTile)), 1,
                       ceil_div(p.r, 64));
  ch.len = ceil_div(p.r, want);
  ch.chunks = ceil_div(p.r, ch.len);
  return ch;
}

// Doubles of scratch memory (one partial per a, chunk, b) the two-pass kernels need; 0: none.
inline std::int64_t reduce_scratch_elems(const ReducePlan& p) {
  const ReduceChunking ch = reduce_chunking(p);
  return ch.direct ? 0 : p.a * ch.chunks * p.b;
}

}  // namespace scopeflow::kernels
