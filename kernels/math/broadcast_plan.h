// Broadcast plans for element-wise kernels on devices: the output shape with adjacent
// dimensions merged where both inputs broadcast alike, and each input's strides (0 where it
// broadcasts). Built on the host; broadcast_offsets runs on host and device. Users:
// broadcast_launch.cuh (binary_cuda.cu, compare_cuda.cu); tested on the CPU against the reference.
#pragma once

#include <cstdint>

#include "devices/base/errors.h"
#include "devices/base/host_device.h"
#include "devices/base/shape.h"

namespace scopeflow::kernels {

inline constexpr int kMaxBroadcastRank = 16;

struct BroadcastPlan {
  int rank = 0;        // merged rank, 0..kMaxBroadcastRank (0: a single element)
  std::int64_t n = 0;  // output elements
  std::int64_t dims[kMaxBroadcastRank] = {};
  std::int64_t stride_a[kMaxBroadcastRank] = {};  // element strides, 0 where a broadcasts
  std::int64_t stride_b[kMaxBroadcastRank] = {};
};

// The plan for out = f(a, b) with `out` the broadcast shape of a and b (NumPy rules, already
// checked). Throws InvalidArgumentError when the merged rank exceeds kMaxBroadcastRank.
inline BroadcastPlan make_broadcast_plan(const Shape& a, const Shape& b, const Shape& out) {
  BroadcastPlan p;
  p.n = out.num_elements();
  const int r = out.rank(), ra = a.rank(), rb = b.rank();
  // Dimensions of size 1 in the output drop out; the others are merged with their left
  // neighbour when both inputs broadcast (or not) alike on each.
  std::int64_t dims[64], da[64], db[64];
  int m = 0;
  bool prev_ba = false, prev_bb = false;
  if (r > 64) throw InvalidArgumentError(str_cat("broadcast: rank ", r, " is above 64"));
  for (int i = 0; i < r; ++i) {
    const std::int64_t d = out.dims()[static_cast<std::size_t>(i)];
    if (d == 1) continue;
    const std::int64_t ai = i < r - ra ? 1 : a.dims()[static_cast<std::size_t>(i - (r - ra))];
    const std::int64_t bi = i < r - rb ? 1 : b.dims()[static_cast<std::size_t>(i - (r - rb))];
    const bool ba = ai == 1, bb = bi == 1;
    if (m > 0 && ba == prev_ba && bb == prev_bb) {
      dims[m - 1] *= d;
      da[m - 1] *= ai;
      db[m - 1] *= bi;
    } else {
      dims[m] = d;
      da[m] = ai;
      db[m] = bi;
      ++m;
    }
    prev_ba = ba;
    prev_bb = bb;
  }
  if (m > kMaxBroadcastRank)
    throw InvalidArgumentError(str_cat("broadcast of ", a.to_string(), " and ", b.to_string(),
                                       " needs ", m, " dimensions after merging; GPU kernels take ",
                                       kMaxBroadcastRank));
  p.rank = m;
  std::int64_t sa = 1, sb = 1;
  for (int i = m - 1; i >= 0; --i) {
    p.dims[i] = dims[i];
    p.stride_a[i] = da[i] == 1 ? 0 : sa;
    p.stride_b[i] = db[i] == 1 ? 0 : sb;
    sa *= da[i];
    sb *= db[i];
  }
  return p;
}

// Offsets into a and b of output element i (0 <= i < p.n), for index type I (std::int32_t
// when every offset fits, which keeps the divisions cheap on GPUs).
template <class I>
SF_HOST_DEVICE inline void broadcast_offsets(const BroadcastPlan& p, I i, I& ia, I& ib) {
  ia = 0;
  ib = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    const I dim = static_cast<I>(p.dims[d]);
    const I q = i / dim;
    const I k = i - q * dim;
    ia += k * static_cast<I>(p.stride_a[d]);
    ib += k * static_cast<I>(p.stride_b[d]);
    i = q;
  }
}

// True when 32-bit indices are safe: every index and offset, and an index plus one
// grid-stride step (grids stay far below 2^24 threads), fit in int32.
inline bool broadcast_fits_int32(const BroadcastPlan& p) {
  return p.n <= (std::int64_t{1} << 31) - 1 - (std::int64_t{1} << 24);
}

}  // namespace scopeflow::kernels
