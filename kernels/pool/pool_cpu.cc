// Pooling on the CPU: reference loops ("ref") and multi-threaded loops ("cpu"). See pool.h.
#include "kernels/pool/pool.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/common/parallel_for.h"
#include "kernels/init/random.h"
#include "kernels/pool/pool_gather.h"

namespace scopeflow::kernels {
namespace {
inline std::int64_t xi(const PoolGeom& g, std::int64_t n, std::int64_t h, std::int64_t w,
                       std::int64_t c) {
  return ((n * g.h.in + h) * g.w.in + w) * g.c + c;
}
inline std::int64_t yi(const PoolGeom& g, std::int64_t n, std::int64_t h, std::int64_t w,
                       std::int64_t c) {
  return ((n * g.h.out + h) * g.w.out + w) * g.c + c;
}
// The taps [first, last) of output position `o`'s window that fall inside the input (the
// others are padding): window loops visit only these, so a huge ksize (TF accepts 2^62) costs
// the input's size, not the window's.
inline std::pair<std::int64_t, std::int64_t> taps_inside(const WindowDim& d, std::int64_t o) {
  const std::int64_t start = o * d.stride - d.pad_before;
  return {std::max<std::int64_t>(0, -start),
          std::max<std::int64_t>(0, std::min(d.k, d.in - start))};
}
// Calls fn(output index, list of input indices in the window) for every output element.
template <class F>
void for_windows(const PoolGeom& g, F fn) {
  std::vector<std::int64_t> taps;
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow)
        for (std::int64_t c = 0; c < g.c; ++c) {
          taps.clear();
          for (auto [kh, kh_end] = taps_inside(g.h, oh); kh < kh_end; ++kh) {
            const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh;
            if (ih < 0 || ih >= g.h.in) continue;
            for (auto [kw, kw_end] = taps_inside(g.w, ow); kw < kw_end; ++kw) {
              const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw;
              if (iw >= 0 && iw < g.w.in) taps.push_back(xi(g, n, ih, iw, c));
            }
          }
          fn(yi(g, n, oh, ow, c), taps);
        }
}
}  // namespace

namespace {
// One output row (image n, output row oh) of MaxPool. Direct loops (the hot forward pass):
// channels innermost, so reads and writes are contiguous.
void max_pool_row(const PoolGeom& g, const float* x, float* y, std::int64_t n, std::int64_t oh) {
  for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
    float* out = y + yi(g, n, oh, ow, 0);
    std::fill(out, out + g.c, -std::numeric_limits<float>::infinity());
    for (auto [kh, kh_end] = taps_inside(g.h, oh); kh < kh_end; ++kh) {
      const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh;
      if (ih < 0 || ih >= g.h.in) continue;
      for (auto [kw, kw_end] = taps_inside(g.w, ow); kw < kw_end; ++kw) {
        const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw;
        if (iw < 0 || iw >= g.w.in) continue;
        const float* in = x + xi(g, n, ih, iw, 0);
        // NOTE: NaN propagates (x != x), as TF's MaxPool does.
        for (std::int64_t c = 0; c < g.c; ++c)
          out[c] = (in[c] > out[c] || in[c] != in[c]) ? in[c] : out[c];
      }
    }
  }
}
}  // namespace

void max_pool_forward_ref(const PoolGeom& g, const float* x, float* y) {
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh) max_pool_row(g, x, y, n, oh);
}

void max_pool_backward_ref(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  std::fill(dx, dx + g.n * g.h.in * g.w.in * g.c, 0.0f);
  for_windows(g, [&](std::int64_t o, const std::vector<std::int64_t>& taps) {
    if (taps.empty()) return;
    std::int64_t best = taps[0];
    for (auto t : taps)
      if (x[t] > x[best]) best = t;
    dx[best] += dy[o];
  });
}

void max_pool_grad_grad_ref(const PoolGeom& g, const float* x, const float* ddx, float* y) {
  for_windows(g, [&](std::int64_t o, const std::vector<std::int64_t>& taps) {
    if (taps.empty()) {
      y[o] = 0.0f;
      return;
    }
    std::int64_t best = taps[0];
    for (auto t : taps)
      if (x[t] > x[best]) best = t;  // MaxPoolGrad's argmax: the first maximum
    y[o] = ddx[best];
  });
}

void avg_pool_forward_ref(const PoolGeom& g, const float* x, float* y) {
  for_windows(g, [&](std::int64_t o, const std::vector<std::int64_t>& taps) {
    double s = 0;
    for (auto t : taps) s += x[t];
    y[o] = taps.empty() ? 0.0f : static_cast<float>(s / static_cast<double>(taps.size()));
  });
}

void avg_pool_backward_ref(const PoolGeom& g, const float* dy, float* dx) {
  std::fill(dx, dx + g.n * g.h.in * g.w.in * g.c, 0.0f);
  for_windows(g, [&](std::int64_t o, const std::vector<std::int64_t>& taps) {
    for (auto t : taps) dx[t] += dy[o] / static_cast<float>(taps.size());
  });
}

// ---------------------------------------------------------------- multi-threaded (label "cpu")
// Forward: output rows (n, oh) in parallel. Backward: the (image, channel) planes in parallel,
// since windows scatter only within one plane; inside a plane the windows are visited in the
// reference's order, so every kernel gives the reference's result bit for bit. MaxPoolGrad with
// windows that do not overlap goes by output rows and writes each dx element once instead
// (max_pool_backward_disjoint_rows).
namespace {

// The taps a window visits along one dimension: at most the input's size (taps_inside), so a
// huge ksize neither overflows these products nor counts as work.
std::int64_t taps(const WindowDim& d) { return std::max<std::int64_t>(1, std::min(d.k, d.in)); }

// Output rows of work at least kElementwiseGrain taps.
std::int64_t row_grain(const PoolGeom& g) {
  return std::max<std::int64_t>(
      1, kElementwiseGrain / std::max<std::int64_t>(1, g.w.out * taps(g.h) * taps(g.w) * g.c));
}
std::int64_t plane_grain(const PoolGeom& g) {
  return std::max<std::int64_t>(
      1, kElementwiseGrain / std::max<std::int64_t>(1, g.h.out * g.w.out * taps(g.h) * taps(g.w)));
}

// Calls fn(n, c_begin, c_end) for the planes [lo, hi) of the n * c (image, channel) planes.
template <class F>
void for_plane_range(const PoolGeom& g, std::int64_t lo, std::int64_t hi, F fn) {
  for (std::int64_t n = lo / g.c; n * g.c < hi; ++n)
    fn(n, std::max<std::int64_t>(lo - n * g.c, 0), std::min<std::int64_t>(hi - n * g.c, g.c));
}

// Calls fn(output offset of channel 0, list of input offsets of channel 0) per output position
// of image n, with the window's taps in the reference's (kh, kw) order.
template <class F>
void for_positions(const PoolGeom& g, std::int64_t n, F fn) {
  std::vector<std::int64_t> taps;
  for (std::int64_t oh = 0; oh < g.h.out; ++oh)
    for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
      taps.clear();
      for (auto [kh, kh_end] = taps_inside(g.h, oh); kh < kh_end; ++kh) {
        const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh;
        if (ih < 0 || ih >= g.h.in) continue;
        for (auto [kw, kw_end] = taps_inside(g.w, ow); kw < kw_end; ++kw) {
          const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw;
          if (iw >= 0 && iw < g.w.in) taps.push_back(xi(g, n, ih, iw, 0));
        }
      }
      fn(yi(g, n, oh, ow, 0), taps);
    }
}

}  // namespace

namespace {
// max_pool_row's result without its -inf fill: the window's first tap is copied, since the
// reference's first step, (v > -inf || v != v) ? v : -inf, gives v's bits for every v (NaN and
// -inf included). The select uses `|` so that the channel loop has no branch and vectorizes.
void max_pool_row_fast(const PoolGeom& g, const float* x, float* y, std::int64_t n,
                       std::int64_t oh) {
  std::int64_t h0, h1;
  pool_window_span(g.h, oh, h0, h1);
  for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
    std::int64_t w0, w1;
    pool_window_span(g.w, ow, w0, w1);
    float* out = y + yi(g, n, oh, ow, 0);
    if (h0 >= h1 || w0 >= w1) {  // no tap inside the input
      std::fill(out, out + g.c, -std::numeric_limits<float>::infinity());
      continue;
    }
    const float* first = x + xi(g, n, h0, w0, 0);
    std::copy(first, first + g.c, out);
    for (std::int64_t ih = h0; ih < h1; ++ih)
      for (std::int64_t iw = ih == h0 ? w0 + 1 : w0; iw < w1; ++iw) {
        const float* in = x + xi(g, n, ih, iw, 0);
        for (std::int64_t c = 0; c < g.c; ++c)  // NOTE: NaN propagates, as in max_pool_row
          out[c] = ((in[c] > out[c]) | (in[c] != in[c])) ? in[c] : out[c];
      }
  }
}

// `a` if take, else `b`, bit for bit, through integer masks: GCC turns a float `take ? a : b`
// stored over b's own array slot into a conditional store (and sinks a computed `a` into the
// branch), which would keep the channel loops scalar.
inline float select_bits(bool take, float a, float b) {
  const std::uint32_t m = 0u - static_cast<std::uint32_t>(take);
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(a) & m) |
                              (std::bit_cast<std::uint32_t>(b) & ~m));
}

// One full 2x2 window (the convnet's case) of max_pool_backward_disjoint_rows, in registers:
// taps 0, 1 at r0[0 .. C), r0[C .. 2C), taps 2, 3 at r1 likewise; dx rows o0, o1 the same way.
// The winner is the last tap greater than the maximum of the taps before it (the reference's
// first maximum); it gets 0 + dy, the other three +0.
void max_pool_backward_2x2(const float* __restrict r0, const float* __restrict r1,
                           const float* __restrict dy, float* __restrict o0, float* __restrict o1,
                           std::int64_t C) {
  for (std::int64_t c = 0; c < C; ++c) {
    const float t0 = r0[c], t1 = r0[C + c], t2 = r1[c], t3 = r1[C + c];
    const bool g1 = t1 > t0;
    const float m1 = select_bits(g1, t1, t0);
    const bool g2 = t2 > m1;
    const bool g3 = t3 > select_bits(g2, t2, m1);
    const float grad = 0.0f + dy[c];
    o0[c] = select_bits(!g3 & !g2 & !g1, grad, 0.0f);
    o0[C + c] = select_bits(!g3 & !g2 & g1, grad, 0.0f);
    o1[c] = select_bits(!g3 & g2, grad, 0.0f);
    o1[C + c] = select_bits(g3, grad, 0.0f);
  }
}

// The first input position of output position o's band (see max_pool_backward_disjoint_rows).
std::int64_t band_start(const WindowDim& d, std::int64_t o) {
  if (o <= 0) return 0;
  if (o >= d.out) return d.in;
  return std::clamp<std::int64_t>(o * d.stride - d.pad_before, 0, d.in);
}

// MaxPoolGrad for output rows [lo, hi) of the n * h.out when no input element lies in two
// windows (stride >= window in both dimensions, as the convnet's 2x2 / stride 2): every dx
// element is written once, by the output row whose band of input rows holds it, with no zero
// fill and no scatter. Band of output row oh: input rows [band(oh), band(oh + 1)), band(0) = 0,
// band(out) = in, else the window's clamped start, so the bands tile the input and each window
// lies inside its own band (the same along w). Within a window, the argmax per channel is the
// reference's (the first tap, replaced only by a strictly greater one: a NaN first tap keeps
// it, a later NaN never wins), and the chosen element gets 0.0f + dy as the reference's
// zero-filled dx[best] += dy does (NOTE: not dy itself: 0.0f + -0.0f is +0.0f).
void max_pool_backward_disjoint_rows(const PoolGeom& g, const float* x, const float* dy, float* dx,
                                     std::int64_t lo, std::int64_t hi) {
  const std::int64_t C = g.c;
  std::vector<float> best(static_cast<std::size_t>(C));
  std::vector<std::int32_t> arg(static_cast<std::size_t>(C));
  float* bp = best.data();
  std::int32_t* ap = arg.data();
  for (std::int64_t r = lo; r < hi; ++r) {
    const std::int64_t n = r / g.h.out, oh = r % g.h.out;
    std::int64_t h0, h1;
    pool_window_span(g.h, oh, h0, h1);
    for (std::int64_t ih = band_start(g.h, oh); ih < band_start(g.h, oh + 1); ++ih)
      if (ih < h0 || ih >= h1) {  // a row of no window
        float* row = dx + xi(g, n, ih, 0, 0);
        std::fill(row, row + g.w.in * C, 0.0f);
      }
    if (h0 >= h1) continue;
    for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
      std::int64_t w0, w1;
      pool_window_span(g.w, ow, w0, w1);
      for (std::int64_t ih = h0; ih < h1; ++ih)
        for (std::int64_t iw = band_start(g.w, ow); iw < band_start(g.w, ow + 1); ++iw)
          if (iw < w0 || iw >= w1) {  // a column of no window
            float* col = dx + xi(g, n, ih, iw, 0);
            std::fill(col, col + C, 0.0f);
          }
      if (w0 >= w1) continue;
      const float* d = dy + yi(g, n, oh, ow, 0);
      if (h1 - h0 == 2 && w1 - w0 == 2) {
        max_pool_backward_2x2(x + xi(g, n, h0, w0, 0), x + xi(g, n, h0 + 1, w0, 0), d,
                              dx + xi(g, n, h0, w0, 0), dx + xi(g, n, h0 + 1, w0, 0), C);
        continue;
      }
      const float* first = x + xi(g, n, h0, w0, 0);
      for (std::int64_t c = 0; c < C; ++c) {
        bp[c] = first[c];
        ap[c] = 0;
      }
      std::int32_t t = 0;
      for (std::int64_t ih = h0; ih < h1; ++ih)
        for (std::int64_t iw = w0; iw < w1; ++iw, ++t) {
          if (t == 0) continue;
          const float* in = x + xi(g, n, ih, iw, 0);
          for (std::int64_t c = 0; c < C; ++c) {
            const float v = in[c];
            const bool greater = v > bp[c];
            bp[c] = select_bits(greater, v, bp[c]);
            ap[c] = greater ? t : ap[c];
          }
        }
      t = 0;
      for (std::int64_t ih = h0; ih < h1; ++ih)
        for (std::int64_t iw = w0; iw < w1; ++iw, ++t) {
          float* out = dx + xi(g, n, ih, iw, 0);
          for (std::int64_t c = 0; c < C; ++c) out[c] = select_bits(ap[c] == t, 0.0f + d[c], 0.0f);
        }
    }
  }
}
}  // namespace

void max_pool_forward_cpu(const PoolGeom& g, const float* x, float* y) {
  parallel_for(g.n * g.h.out, row_grain(g), [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t r = lo; r < hi; ++r) max_pool_row_fast(g, x, y, r / g.h.out, r % g.h.out);
  });
}

void avg_pool_forward_cpu(const PoolGeom& g, const float* x, float* y) {
  parallel_for(g.n * g.h.out, row_grain(g), [&](std::int64_t lo, std::int64_t hi) {
    std::vector<double> acc(static_cast<std::size_t>(g.c));
    for (std::int64_t r = lo; r < hi; ++r) {
      const std::int64_t n = r / g.h.out, oh = r % g.h.out;
      for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
        std::fill(acc.begin(), acc.end(), 0.0);
        std::int64_t count = 0;
        for (auto [kh, kh_end] = taps_inside(g.h, oh); kh < kh_end; ++kh) {
          const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh;
          if (ih < 0 || ih >= g.h.in) continue;
          for (auto [kw, kw_end] = taps_inside(g.w, ow); kw < kw_end; ++kw) {
            const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw;
            if (iw < 0 || iw >= g.w.in) continue;
            const float* in = x + xi(g, n, ih, iw, 0);
            for (std::int64_t c = 0; c < g.c; ++c) acc[static_cast<std::size_t>(c)] += in[c];
            ++count;
          }
        }
        float* out = y + yi(g, n, oh, ow, 0);
        for (std::int64_t c = 0; c < g.c; ++c)
          out[c] = count == 0 ? 0.0f
                              : static_cast<float>(acc[static_cast<std::size_t>(c)] /
                                                   static_cast<double>(count));
      }
    }
  });
}

void max_pool_backward_cpu(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  if (g.h.stride >= g.h.k && g.w.stride >= g.w.k && g.h.out > 0 && g.w.out > 0) {
    parallel_for(g.n * g.h.out, row_grain(g), [&](std::int64_t lo, std::int64_t hi) {
      max_pool_backward_disjoint_rows(g, x, dy, dx, lo, hi);
    });
    return;
  }
  // Overlapping windows (3x3 / stride 2): images in parallel; per window, the argmax of every
  // channel at once (contiguous channel loops), then dy added to the winners, windows in the
  // reference's (oh, ow) order, so each dx element sums its contributions in the reference's
  // order: bit for bit.
  const std::int64_t per_image = g.h.in * g.w.in * g.c;
  const std::int64_t image_work =
      std::max<std::int64_t>(1, g.h.out * g.w.out * taps(g.h) * taps(g.w) * g.c);
  parallel_for(g.n, std::max<std::int64_t>(1, kElementwiseGrain / image_work),
               [&](std::int64_t lo, std::int64_t hi) {
                 const std::int64_t C = g.c;
                 std::vector<float> best(static_cast<std::size_t>(C));
                 std::vector<std::int32_t> arg(static_cast<std::size_t>(C));
                 float* bp = best.data();
                 std::int32_t* ap = arg.data();
                 for (std::int64_t n = lo; n < hi; ++n) {
                   std::fill(dx + n * per_image, dx + (n + 1) * per_image, 0.0f);
                   for_positions(g, n, [&](std::int64_t o, const std::vector<std::int64_t>& t) {
                     if (t.empty()) return;
                     const float* first = x + t[0];
                     for (std::int64_t c = 0; c < C; ++c) {
                       bp[c] = first[c];
                       ap[c] = 0;
                     }
                     for (std::size_t k = 1; k < t.size(); ++k) {
                       const float* in = x + t[k];
                       const auto kk = static_cast<std::int32_t>(k);
                       for (std::int64_t c = 0; c < C; ++c) {
                         const bool greater = in[c] > bp[c];  // the first maximum wins ties
                         bp[c] = select_bits(greater, in[c], bp[c]);
                         ap[c] = greater ? kk : ap[c];
                       }
                     }
                     for (std::int64_t c = 0; c < C; ++c)
                       dx[t[static_cast<std::size_t>(ap[c])] + c] += dy[o + c];
                   });
                 }
               });
}

void avg_pool_backward_cpu(const PoolGeom& g, const float* dy, float* dx) {
  const std::int64_t nx = g.n * g.h.in * g.w.in * g.c;
  parallel_for(nx, kElementwiseGrain,
               [&](std::int64_t lo, std::int64_t hi) { std::fill(dx + lo, dx + hi, 0.0f); });
  parallel_for(g.n * g.c, plane_grain(g), [&](std::int64_t lo, std::int64_t hi) {
    for_plane_range(g, lo, hi, [&](std::int64_t n, std::int64_t c0, std::int64_t c1) {
      for_positions(g, n, [&](std::int64_t o, const std::vector<std::int64_t>& taps) {
        const float count = static_cast<float>(taps.size());
        for (auto t : taps)
          for (std::int64_t c = c0; c < c1; ++c) dx[t + c] += dy[o + c] / count;
      });
    });
  });
}

PoolGeom pool_geometry(const KernelContext& c, const Shape& in) {
  if (in.rank() != 4)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": input must be 4-D NHWC, got ", in.to_string()));
  const auto ksize = c.attr().get<std::vector<std::int64_t>>("ksize");
  const auto strides = c.attr().get<std::vector<std::int64_t>>("strides");
  const std::string padding = c.attr().get<std::string>("padding");
  PoolGeom g;
  g.n = in.dims()[0];
  g.c = in.dims()[3];
  g.h = window_dim(in.dims()[1], ksize.at(1), strides.at(1), 1, padding, c.node_name);
  g.w = window_dim(in.dims()[2], ksize.at(2), strides.at(2), 1, padding, c.node_name);
  return g;
}

namespace {
// The gradient must have the forward output's shape (the kernels index it by that geometry).
void check_grad_shape(const KernelContext& c, const PoolGeom& g, const Tensor& dy) {
  const Shape want{g.n, g.h.out, g.w.out, g.c};
  if (!(dy.shape() == want))
    throw InvalidArgumentError(str_cat(c.node_name, ": gradient shape ", dy.shape().to_string(),
                                       " does not match the pooled shape ", want.to_string()));
}

using PoolForwardFn = void (*)(const PoolGeom&, const float*, float*);
using MaxPoolBackwardFn = void (*)(const PoolGeom&, const float*, const float*, float*);
using AvgPoolBackwardFn = void (*)(const PoolGeom&, const float*, float*);

void register_pool_family(KernelRegistry& r, const std::string& label, PoolForwardFn max_fwd,
                          MaxPoolBackwardFn max_bwd, PoolForwardFn avg_fwd,
                          AvgPoolBackwardFn avg_bwd) {
  using devices::DeviceType;
  r.add({"MaxPool", DeviceType::kCPU, DType::kFloat32, label}, [max_fwd](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const PoolGeom g = pool_geometry(c, x.shape());
    Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    max_fwd(g, x.data<float>(), y.data<float>());
  });
  r.add({"MaxPoolGrad", DeviceType::kCPU, DType::kFloat32, label}, [max_bwd](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const Tensor& dy = c.inputs.at(2);
    const PoolGeom g = pool_geometry(c, x.shape());
    check_grad_shape(c, g, dy);
    Tensor& dx = c.allocate_output(0, DType::kFloat32, x.shape());
    max_bwd(g, x.data<float>(), dy.data<float>(), dx.data<float>());
  });
  r.add({"AvgPool", DeviceType::kCPU, DType::kFloat32, label}, [avg_fwd](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const PoolGeom g = pool_geometry(c, x.shape());
    Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    avg_fwd(g, x.data<float>(), y.data<float>());
  });
  r.add({"AvgPoolGrad", DeviceType::kCPU, DType::kFloat32, label}, [avg_bwd](KernelContext& c) {
    const Shape in = shape_from_tensor(c.inputs.at(0), c.node_name);
    const Tensor& dy = c.inputs.at(1);
    const PoolGeom g = pool_geometry(c, in);
    check_grad_shape(c, g, dy);
    Tensor& dx = c.allocate_output(0, DType::kFloat32, in);
    avg_bwd(g, dy.data<float>(), dx.data<float>());
  });
}
}  // namespace

void register_pool_cpu_kernels(KernelRegistry& r) {
  register_pool_family(r, "ref", max_pool_forward_ref, max_pool_backward_ref, avg_pool_forward_ref,
                       avg_pool_backward_ref);
  register_pool_family(r, "cpu", max_pool_forward_cpu, max_pool_backward_cpu, avg_pool_forward_cpu,
                       avg_pool_backward_cpu);
  // Inputs (orig_input, orig_output, grad): grad has orig_input's shape; out the pooled shape.
  r.add(
      {"MaxPoolGradGrad", devices::DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
        const Tensor& x = c.inputs.at(0);
        const Tensor& ddx = c.inputs.at(2);
        const PoolGeom g = pool_geometry(c, x.shape());
        if (!(ddx.shape() == x.shape()))
          throw InvalidArgumentError(str_cat(c.node_name, ": grad shape ", ddx.shape().to_string(),
                                             " does not match the input ", x.shape().to_string()));
        Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
        max_pool_grad_grad_ref(g, x.data<float>(), ddx.data<float>(), y.data<float>());
      });
}

}  // namespace scopeflow::kernels
