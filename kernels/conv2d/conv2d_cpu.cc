// Conv2D and its gradients on the CPU: reference loops. See conv2d.h.
#include "kernels/conv2d/conv2d.h"

#include <vector>

#include "kernels/init/random.h"

namespace scopeflow::kernels {

WindowDim window_dim(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation,
                     const std::string& padding, const std::string& what) {
  if (stride < 1 || dilation < 1 || k < 1)
    throw InvalidArgumentError(str_cat(what, ": strides, dilations and window sizes must be >= 1"));
  WindowDim d{in, 0, k, stride, dilation, 0};
  const std::int64_t eff = (k - 1) * dilation + 1;
  if (padding == "VALID") {
    if (in < eff)
      throw InvalidArgumentError(str_cat(what, ": window of effective size ", eff,
                                         " does not fit an input of size ", in,
                                         " with VALID padding"));
    d.out = (in - eff) / stride + 1;
  } else if (padding == "SAME") {
    d.out = (in + stride - 1) / stride;
    const std::int64_t total = std::max<std::int64_t>((d.out - 1) * stride + eff - in, 0);
    d.pad_before = total / 2;
  } else {
    throw InvalidArgumentError(
        str_cat(what, ": padding must be SAME or VALID, got '", padding, "'"));
  }
  return d;
}

namespace {
inline std::int64_t xi(const Conv2DGeom& g, std::int64_t n, std::int64_t h, std::int64_t w,
                       std::int64_t c) {
  return ((n * g.h.in + h) * g.w.in + w) * g.c + c;
}
inline std::int64_t yi(const Conv2DGeom& g, std::int64_t n, std::int64_t h, std::int64_t w,
                       std::int64_t o) {
  return ((n * g.h.out + h) * g.w.out + w) * g.o + o;
}
inline std::int64_t fi(const Conv2DGeom& g, std::int64_t kh, std::int64_t kw, std::int64_t c,
                       std::int64_t o) {
  return ((kh * g.w.k + kw) * g.c + c) * g.o + o;
}
// Calls fn(input_h, input_w, kh, kw) for the taps of output (oh, ow) that land inside the input.
template <class F>
void for_taps(const Conv2DGeom& g, std::int64_t oh, std::int64_t ow, F fn) {
  for (std::int64_t kh = 0; kh < g.h.k; ++kh) {
    const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh * g.h.dilation;
    if (ih < 0 || ih >= g.h.in) continue;
    for (std::int64_t kw = 0; kw < g.w.k; ++kw) {
      const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw * g.w.dilation;
      if (iw < 0 || iw >= g.w.in) continue;
      fn(ih, iw, kh, kw);
    }
  }
}
}  // namespace

void conv2d_forward_ref(const Conv2DGeom& g, const float* x, const float* f, float* y) {
  std::vector<double> acc(static_cast<std::size_t>(g.o));
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for_taps(g, oh, ow,
                 [&](std::int64_t ih, std::int64_t iw, std::int64_t kh, std::int64_t kw) {
                   for (std::int64_t c = 0; c < g.c; ++c) {
                     const double xv = x[xi(g, n, ih, iw, c)];
                     const float* frow = f + fi(g, kh, kw, c, 0);
                     for (std::int64_t o = 0; o < g.o; ++o)
                       acc[static_cast<std::size_t>(o)] += xv * frow[o];
                   }
                 });
        for (std::int64_t o = 0; o < g.o; ++o)
          y[yi(g, n, oh, ow, o)] = static_cast<float>(acc[static_cast<std::size_t>(o)]);
      }
}

void conv2d_backward_input_ref(const Conv2DGeom& g, const float* f, const float* dy, float* dx) {
  std::vector<double> acc(static_cast<std::size_t>(g.n * g.h.in * g.w.in * g.c), 0.0);
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow)
        for_taps(g, oh, ow,
                 [&](std::int64_t ih, std::int64_t iw, std::int64_t kh, std::int64_t kw) {
                   for (std::int64_t c = 0; c < g.c; ++c) {
                     double s = 0;
                     for (std::int64_t o = 0; o < g.o; ++o)
                       s += double(dy[yi(g, n, oh, ow, o)]) * f[fi(g, kh, kw, c, o)];
                     acc[static_cast<std::size_t>(xi(g, n, ih, iw, c))] += s;
                   }
                 });
  for (std::size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<float>(acc[i]);
}

void conv2d_backward_filter_ref(const Conv2DGeom& g, const float* x, const float* dy, float* df) {
  std::vector<double> acc(static_cast<std::size_t>(g.h.k * g.w.k * g.c * g.o), 0.0);
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oh = 0; oh < g.h.out; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow)
        for_taps(g, oh, ow,
                 [&](std::int64_t ih, std::int64_t iw, std::int64_t kh, std::int64_t kw) {
                   for (std::int64_t c = 0; c < g.c; ++c) {
                     const double xv = x[xi(g, n, ih, iw, c)];
                     for (std::int64_t o = 0; o < g.o; ++o)
                       acc[static_cast<std::size_t>(fi(g, kh, kw, c, o))] +=
                           xv * dy[yi(g, n, oh, ow, o)];
                   }
                 });
  for (std::size_t i = 0; i < acc.size(); ++i) df[i] = static_cast<float>(acc[i]);
}

Conv2DGeom conv2d_geometry(const KernelContext& c, const Shape& in, const Shape& filter) {
  if (in.rank() != 4 || filter.rank() != 4)
    throw InvalidArgumentError(str_cat(c.node_name, ": input and filter must be 4-D, got ",
                                       in.to_string(), " and ", filter.to_string()));
  if (in.dims()[3] != filter.dims()[2])
    throw InvalidArgumentError(str_cat(c.node_name, ": input depth ", in.dims()[3],
                                       " does not match filter in_channels ", filter.dims()[2]));
  const auto strides = c.attr().get_or<std::vector<std::int64_t>>("strides", {1, 1, 1, 1});
  const auto dil = c.attr().get_or<std::vector<std::int64_t>>("dilations", {1, 1, 1, 1});
  const std::string padding = c.attr().get_or<std::string>("padding", "VALID");
  // The shape function checks these for graph nodes; a kernel called directly checks them too.
  for (const auto* v : {&strides, &dil})
    if (v->size() != 4 || (*v)[0] != 1 || (*v)[3] != 1)
      throw InvalidArgumentError(
          str_cat(c.node_name, ": ", v == &strides ? "strides" : "dilations",
                  " must have 4 elements with 1 in the batch and depth positions (NHWC), got ",
                  v->size(), " elements"));
  Conv2DGeom g;
  g.n = in.dims()[0];
  g.c = in.dims()[3];
  g.o = filter.dims()[3];
  g.h = window_dim(in.dims()[1], filter.dims()[0], strides.at(1), dil.at(1), padding, c.node_name);
  g.w = window_dim(in.dims()[2], filter.dims()[1], strides.at(2), dil.at(2), padding, c.node_name);
  return g;
}

void check_conv_out_backprop(const KernelContext& c, const Conv2DGeom& g, const Tensor& dy) {
  if (!(dy.shape() == Shape{g.n, g.h.out, g.w.out, g.o}))
    throw InvalidArgumentError(str_cat(c.node_name, ": out_backprop shape ", dy.shape().to_string(),
                                       " does not match the convolution output"));
}

namespace {
// Output 0 with `shape`: a preallocated float32 host tensor of that shape is written in place
// (tests poison it to catch unwritten elements); otherwise a new one is allocated.
Tensor& conv_output(KernelContext& c, const Shape& shape) {
  if (!c.outputs.empty()) {
    Tensor& t = c.outputs[0];
    if (t.initialized() && t.on_host() && t.dtype() == DType::kFloat32 && t.shape() == shape)
      return t;
  }
  return c.allocate_output(0, DType::kFloat32, shape);
}

}  // namespace

void register_conv2d_cpu_family(KernelRegistry& r, const std::string& label, Conv2DFn forward,
                                Conv2DFn backward_input, Conv2DFn backward_filter) {
  using devices::DeviceType;
  r.add({"Conv2D", DeviceType::kCPU, DType::kFloat32, label}, [forward](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    const Tensor& f = c.inputs.at(1);
    const Conv2DGeom g = conv2d_geometry(c, x.shape(), f.shape());
    Tensor& y = conv_output(c, Shape{g.n, g.h.out, g.w.out, g.o});
    forward(g, x.data<float>(), f.data<float>(), y.data<float>());
  });
  r.add({"Conv2DBackpropInput", DeviceType::kCPU, DType::kFloat32, label},
        [backward_input](KernelContext& c) {
          const Shape in = shape_from_tensor(c.inputs.at(0), c.node_name);
          const Tensor& f = c.inputs.at(1);
          const Tensor& dy = c.inputs.at(2);
          const Conv2DGeom g = conv2d_geometry(c, in, f.shape());
          check_conv_out_backprop(c, g, dy);
          Tensor& dx = conv_output(c, in);
          backward_input(g, f.data<float>(), dy.data<float>(), dx.data<float>());
        });
  r.add({"Conv2DBackpropFilter", DeviceType::kCPU, DType::kFloat32, label},
        [backward_filter](KernelContext& c) {
          const Tensor& x = c.inputs.at(0);
          const Shape fs = shape_from_tensor(c.inputs.at(1), c.node_name);
          const Tensor& dy = c.inputs.at(2);
          const Conv2DGeom g = conv2d_geometry(c, x.shape(), fs);
          check_conv_out_backprop(c, g, dy);
          Tensor& df = conv_output(c, fs);
          backward_filter(g, x.data<float>(), dy.data<float>(), df.data<float>());
        });
}

void register_conv2d_cpu_kernels(KernelRegistry& r) {
  register_conv2d_cpu_family(r, "ref", conv2d_forward_ref, conv2d_backward_input_ref,
                             conv2d_backward_filter_ref);
}

}  // namespace scopeflow::kernels
