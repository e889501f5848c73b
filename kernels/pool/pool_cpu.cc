// Pooling on the CPU: reference loops. See pool.h.
#include "kernels/pool/pool.h"

#include <algorithm>
#include <limits>

#include "kernels/init/random.h"

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
// Calls fn(output index, list of input indices in the window) for every output element.
template <class F>
void for_windows(const PoolGeom& g, F fn) {
  std::vector<std::int64_t> taps;
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow)
        for (std::int64_t c = 0; c < g.c; ++c) {
          taps.clear();
          for (std::int64_t kh = 0; kh < g.h.k; ++kh) {
            const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh;
            if (ih < 0 || ih >= g.h.in) continue;
            for (std::int64_t kw = 0; kw < g.w.k; ++kw) {
              const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw;
              if (iw >= 0 && iw < g.w.in) taps.push_back(xi(g, n, ih, iw, c));
            }
          }
          fn(yi(g, n, oh, ow, c), taps);
        }
}
}  // namespace

void max_pool_forward_ref(const PoolGeom& g, const float* x, float* y) {
  // Direct loops (the hot forward pass): channels innermost, so reads and writes are contiguous.
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
        float* out = y + yi(g, n, oh, ow, 0);
        std::fill(out, out + g.c, -std::numeric_limits<float>::infinity());
        for (std::int64_t kh = 0; kh < g.h.k; ++kh) {
          const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh;
          if (ih < 0 || ih >= g.h.in) continue;
          for (std::int64_t kw = 0; kw < g.w.k; ++kw) {
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

void register_pool_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"MaxPool", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const PoolGeom g = pool_geometry(c, x.shape());
    Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    max_pool_forward_ref(g, x.data<float>(), y.data<float>());
  });
  r.add({"MaxPoolGrad", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const Tensor& dy = c.inputs.at(2);
    const PoolGeom g = pool_geometry(c, x.shape());
    Tensor& dx = c.allocate_output(0, DType::kFloat32, x.shape());
    max_pool_backward_ref(g, x.data<float>(), dy.data<float>(), dx.data<float>());
  });
  r.add({"AvgPool", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const PoolGeom g = pool_geometry(c, x.shape());
    Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{g.n, g.h.out, g.w.out, g.c});
    avg_pool_forward_ref(g, x.data<float>(), y.data<float>());
  });
  r.add({"AvgPoolGrad", DeviceType::kCPU, DType::kFloat32, "ref"}, [](KernelContext& c) {
    const Shape in = shape_from_tensor(c.inputs.at(0), c.node_name);
    const Tensor& dy = c.inputs.at(1);
    const PoolGeom g = pool_geometry(c, in);
    Tensor& dx = c.allocate_output(0, DType::kFloat32, in);
    avg_pool_backward_ref(g, dy.data<float>(), dx.data<float>());
  });
}

}  // namespace scopeflow::kernels
