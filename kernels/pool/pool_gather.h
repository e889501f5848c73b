// Pooling per output / per input element, for one GPU thread each (pool_cuda.cu) and tested
// on the CPU against the reference loops. Gradients gather from the windows that cover an
// input element, in ascending output order (the order in which the reference scatters), so
// the sums match bit for bit and need no atomics.
#pragma once

#include <cmath>
#include <cstdint>

#include "devices/base/host_device.h"
#include "kernels/pool/pool.h"

namespace scopeflow::kernels {

// The window positions along one dimension that contain input position i: [lo, hi].
struct PoolOutRange {
  std::int64_t lo = 0, hi = -1;  // empty when lo > hi
};
SF_HOST_DEVICE inline PoolOutRange pool_windows_containing(const WindowDim& d, std::int64_t i) {
  const std::int64_t t = i + d.pad_before - d.k + 1;  // o * stride >= t
  const std::int64_t lo = t <= 0 ? 0 : (t + d.stride - 1) / d.stride;
  const std::int64_t hi = (i + d.pad_before) / d.stride;
  return {lo, hi < d.out - 1 ? hi : d.out - 1};
}
// Input positions [begin, end) of window o that fall inside the input.
SF_HOST_DEVICE inline void pool_window_span(const WindowDim& d, std::int64_t o, std::int64_t& begin,
                                            std::int64_t& end) {
  const std::int64_t start = o * d.stride - d.pad_before;
  begin = start < 0 ? 0 : start;
  end = start + d.k < d.in ? start + d.k : d.in;
}

// NHWC position of a flat index over [n, h, w, c] with the given h and w extents.
struct PoolPos {
  std::int64_t n, h, w, c;
};
SF_HOST_DEVICE inline PoolPos pool_pos(const PoolGeom& g, std::int64_t i, std::int64_t h,
                                       std::int64_t w) {
  PoolPos p;
  p.c = i % g.c;
  i /= g.c;
  p.w = i % w;
  i /= w;
  p.h = i % h;
  p.n = i / h;
  return p;
}

// y at flat output index o. NOTE: starts from -inf and lets NaN through (in != in), taps in
// kh-then-kw order, as max_pool_forward_ref.
SF_HOST_DEVICE inline float max_pool_forward_at(const PoolGeom& g, const float* x, std::int64_t o) {
  const PoolPos p = pool_pos(g, o, g.h.out, g.w.out);
  std::int64_t h0, h1, w0, w1;
  pool_window_span(g.h, p.h, h0, h1);
  pool_window_span(g.w, p.w, w0, w1);
  float best = -INFINITY;
  for (std::int64_t ih = h0; ih < h1; ++ih)
    for (std::int64_t iw = w0; iw < w1; ++iw) {
      const float v = x[((p.n * g.h.in + ih) * g.w.in + iw) * g.c + p.c];
      best = (v > best || v != v) ? v : best;
    }
  return best;
}

// dx at flat input index i: dy summed over the covering windows whose argmax is this element,
// where the argmax is the reference's: the first tap, replaced only by a strictly greater one
// (so a NaN first tap keeps it, and a later NaN never wins).
SF_HOST_DEVICE inline float max_pool_backward_at(const PoolGeom& g, const float* x, const float* dy,
                                                 std::int64_t i) {
  const PoolPos p = pool_pos(g, i, g.h.in, g.w.in);
  const float* xn = x + p.n * g.h.in * g.w.in * g.c + p.c;
  const PoolOutRange rh = pool_windows_containing(g.h, p.h), rw = pool_windows_containing(g.w, p.w);
  float acc = 0.0f;
  for (std::int64_t oh = rh.lo; oh <= rh.hi; ++oh)
    for (std::int64_t ow = rw.lo; ow <= rw.hi; ++ow) {
      std::int64_t h0, h1, w0, w1;  // non-empty: the window contains (p.h, p.w)
      pool_window_span(g.h, oh, h0, h1);
      pool_window_span(g.w, ow, w0, w1);
      std::int64_t best_h = h0, best_w = w0;
      float best = xn[(h0 * g.w.in + w0) * g.c];
      for (std::int64_t th = h0; th < h1; ++th)
        for (std::int64_t tw = w0; tw < w1; ++tw) {
          const float v = xn[(th * g.w.in + tw) * g.c];
          if (v > best) {
            best = v;
            best_h = th;
            best_w = tw;
          }
        }
      if (best_h == p.h && best_w == p.w)
        acc += dy[((p.n * g.h.out + oh) * g.w.out + ow) * g.c + p.c];
    }
  return acc;
}

// MaxPoolGradGrad's y at flat output index o: ddx at the window's argmax (the first tap,
// replaced only by a strictly greater one, as max_pool_backward_at); 0 for an empty window.
SF_HOST_DEVICE inline float max_pool_grad_grad_at(const PoolGeom& g, const float* x,
                                                  const float* ddx, std::int64_t o) {
  const PoolPos p = pool_pos(g, o, g.h.out, g.w.out);
  std::int64_t h0, h1, w0, w1;
  pool_window_span(g.h, p.h, h0, h1);
  pool_window_span(g.w, p.w, w0, w1);
  if (h0 >= h1 || w0 >= w1) return 0.0f;
  const std::int64_t base = p.n * g.h.in * g.w.in * g.c + p.c;
  std::int64_t best = base + (h0 * g.w.in + w0) * g.c;
  for (std::int64_t ih = h0; ih < h1; ++ih)
    for (std::int64_t iw = w0; iw < w1; ++iw) {
      const std::int64_t t = base + (ih * g.w.in + iw) * g.c;
      if (x[t] > x[best]) best = t;
    }
  return ddx[best];
}

// NOTE: averages over the taps inside the input (padding not counted), summing in double in
// the reference's tap order.
SF_HOST_DEVICE inline float avg_pool_forward_at(const PoolGeom& g, const float* x, std::int64_t o) {
  const PoolPos p = pool_pos(g, o, g.h.out, g.w.out);
  std::int64_t h0, h1, w0, w1;
  pool_window_span(g.h, p.h, h0, h1);
  pool_window_span(g.w, p.w, w0, w1);
  double s = 0;
  for (std::int64_t ih = h0; ih < h1; ++ih)
    for (std::int64_t iw = w0; iw < w1; ++iw)
      s += x[((p.n * g.h.in + ih) * g.w.in + iw) * g.c + p.c];
  const std::int64_t taps = (h1 > h0 ? h1 - h0 : 0) * (w1 > w0 ? w1 - w0 : 0);
  return taps == 0 ? 0.0f : static_cast<float>(s / static_cast<double>(taps));
}

// dx at flat input index i: dy[o] / taps(o) summed in float over the covering windows.
SF_HOST_DEVICE inline float avg_pool_backward_at(const PoolGeom& g, const float* dy,
                                                 std::int64_t i) {
  const PoolPos p = pool_pos(g, i, g.h.in, g.w.in);
  const PoolOutRange rh = pool_windows_containing(g.h, p.h), rw = pool_windows_containing(g.w, p.w);
  float acc = 0.0f;
  for (std::int64_t oh = rh.lo; oh <= rh.hi; ++oh)
    for (std::int64_t ow = rw.lo; ow <= rw.hi; ++ow) {
      std::int64_t h0, h1, w0, w1;
      pool_window_span(g.h, oh, h0, h1);
      pool_window_span(g.w, ow, w0, w1);
      const float taps = static_cast<float>((h1 - h0) * (w1 - w0));
      acc += dy[((p.n * g.h.out + oh) * g.w.out + ow) * g.c + p.c] / taps;
    }
  return acc;
}

}  // namespace scopeflow::kernels
