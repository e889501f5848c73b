// sf-bench-kernels, oneDNN part (builds with oneDNN only): the peer for the "onednn" conv2d
// label, oneDNN called directly (primitive and memory objects built once outside the timed
// loop, buffers preallocated, NHWC / HWIO, oneDNN's own scratchpad), and ScopeFlow's oneDNN
// path with each layout choice (plain NHWC/HWIO vs blocked + reorders) on the same shapes
// as BM_Conv2D_Cpu (conv2d_bench.cc). FLOP/s counts 2*N*OH*OW*KH*KW*C*O per pass.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <unordered_map>

#include "benchmarks/kernels/conv2d_cpu_shapes.h"
#include "kernels/conv2d/conv2d.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;

namespace {
using sf::bench::ConvShape;
const auto& kShapes = sf::bench::kCpuConvShapes;
const auto& kPassNames = sf::bench::kConvPassOps;

std::vector<float> random_vec(std::int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

k::Conv2DGeom geometry(const ConvShape& s) {
  return {s.n, s.c, s.o, k::window_dim(s.h, s.k, 1, 1, "SAME", "bench"),
          k::window_dim(s.w, s.k, 1, 1, "SAME", "bench")};
}

struct Buffers {
  std::vector<float> x, f, y;
  explicit Buffers(const ConvShape& s)
      : x(random_vec(s.n * s.h * s.w * s.c, 1)),
        f(random_vec(s.k * s.k * s.c * s.o, 2)),
        y(random_vec(s.n * s.h * s.w * s.o, 3)) {}
};

void finish(benchmark::State& state, const ConvShape& s, int pass, const std::string& impl) {
  const double flops = 2.0 * s.n * s.h * s.w * s.k * s.k * s.c * s.o;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(sf::str_cat(kPassNames[pass], " N=", s.n, " ", s.h, "x", s.w, " ", s.c, "->", s.o,
                             " ", s.k, "x", s.k, " ", impl));
}
}  // namespace

// The peer: oneDNN's API used directly, as a user of oneDNN would write it, on NHWC / HWIO
// buffers. kPlain: the primitives run on them in place. kBlocked: oneDNN picks its layouts
// (format_tag::any) and the operands are reordered to and from them inside the timed loop,
// as the data lives in NHWC / HWIO (the same work as the "onednn" label's blocked choice).
static void BM_Conv2D_OneDnnDirect(benchmark::State& state, k::OneDnnLayout layout) {
  using dnnl::memory;
  using Tag = memory::format_tag;
  const ConvShape& s = kShapes[state.range(0)];
  const int pass = static_cast<int>(state.range(1));
  const k::Conv2DGeom g = geometry(s);
  Buffers b(s);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const bool blocked = layout == k::OneDnnLayout::kBlocked;
  const memory::dims src_dims{s.n, s.c, s.h, s.w}, wei_dims{s.o, s.c, s.k, s.k},
      dst_dims{s.n, s.o, s.h, s.w};
  const auto f32 = memory::data_type::f32;
  const memory::desc src(src_dims, f32, Tag::nhwc), wei(wei_dims, f32, Tag::hwio),
      dst(dst_dims, f32, Tag::nhwc), src_any(src_dims, f32, blocked ? Tag::any : Tag::nhwc),
      wei_any(wei_dims, f32, blocked ? Tag::any : Tag::hwio),
      dst_any(dst_dims, f32, blocked ? Tag::any : Tag::nhwc);
  const std::int64_t pad_r = (g.h.out - 1) + s.k - s.h - g.h.pad_before;
  const memory::dims strides{1, 1}, dilates{0, 0}, pl{g.h.pad_before, g.w.pad_before},
      pr{pad_r, pad_r};
  dnnl::convolution_forward::primitive_desc fwd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, src_any, wei_any,
                                      dst_any, strides, dilates, pl, pr),
      engine);
  std::vector<float> out(pass == 0 ? b.y.size() : pass == 1 ? b.x.size() : b.f.size());
  // (user memory, primitive memory, reorder) per operand; the reorder is empty when the
  // primitive reads the user's layout.
  struct Arg {
    int id;
    memory user, prim;
    dnnl::primitive reorder;
    bool input;
  };
  std::vector<Arg> ops;
  auto add = [&](int id, const memory::desc& user_md, const memory::desc& prim_md, void* data,
                 bool input) {
    memory user(user_md, engine, data);
    if (user_md == prim_md) {
      ops.push_back({id, user, user, dnnl::primitive(), input});
      return;
    }
    memory prim(prim_md, engine);
    dnnl::reorder r = input ? dnnl::reorder(user, prim) : dnnl::reorder(prim, user);
    ops.push_back({id, user, prim, r, input});
  };
  dnnl::primitive prim;
  std::string impl;
  if (pass == 0) {
    prim = dnnl::convolution_forward(fwd);
    add(DNNL_ARG_SRC, src, fwd.src_desc(), b.x.data(), true);
    add(DNNL_ARG_WEIGHTS, wei, fwd.weights_desc(), b.f.data(), true);
    add(DNNL_ARG_DST, dst, fwd.dst_desc(), out.data(), false);
    impl = fwd.impl_info_str();
  } else if (pass == 1) {
    dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src_any, wei_any,
                                              dst_any, strides, dilates, pl, pr),
        engine, fwd);
    prim = dnnl::convolution_backward_data(pd);
    add(DNNL_ARG_WEIGHTS, wei, pd.weights_desc(), b.f.data(), true);
    add(DNNL_ARG_DIFF_DST, dst, pd.diff_dst_desc(), b.y.data(), true);
    add(DNNL_ARG_DIFF_SRC, src, pd.diff_src_desc(), out.data(), false);
    impl = pd.impl_info_str();
  } else {
    dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any,
                                                 wei_any, dst_any, strides, dilates, pl, pr),
        engine, fwd);
    prim = dnnl::convolution_backward_weights(pd);
    add(DNNL_ARG_SRC, src, pd.src_desc(), b.x.data(), true);
    add(DNNL_ARG_DIFF_DST, dst, pd.diff_dst_desc(), b.y.data(), true);
    add(DNNL_ARG_DIFF_WEIGHTS, wei, pd.diff_weights_desc(), out.data(), false);
    impl = pd.impl_info_str();
  }
  std::unordered_map<int, memory> args;
  for (const Arg& a : ops) args.emplace(a.id, a.prim);
  for (auto _ : state) {
    for (Arg& a : ops)
      if (a.input && a.user != a.prim)
        a.reorder.execute(stream, {{DNNL_ARG_FROM, a.user}, {DNNL_ARG_TO, a.prim}});
    prim.execute(stream, args);
    for (Arg& a : ops)
      if (!a.input && a.user != a.prim)
        a.reorder.execute(stream, {{DNNL_ARG_FROM, a.prim}, {DNNL_ARG_TO, a.user}});
    stream.wait();
    benchmark::DoNotOptimize(out.data());
  }
  finish(state, s, pass, impl);
}

// ScopeFlow's oneDNN path (plan cache, per-thread workspace) with an explicit layout, output
// preallocated: plain NHWC/HWIO against oneDNN's blocked layouts with reorders.
static void BM_Conv2D_OneDnnLayout(benchmark::State& state, k::OneDnnLayout layout) {
  const ConvShape& s = kShapes[state.range(0)];
  const int pass = static_cast<int>(state.range(1));
  const auto p = static_cast<k::Conv2DPass>(pass);
  const k::Conv2DGeom g = geometry(s);
  Buffers b(s);
  std::vector<float> out(pass == 0 ? b.y.size() : pass == 1 ? b.x.size() : b.f.size());
  const float* a = pass == 1 ? b.f.data() : b.x.data();
  const float* second = pass == 0 ? b.f.data() : b.y.data();
  for (auto _ : state) {
    k::conv2d_onednn(p, layout, g, a, second, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  finish(state, s, pass, k::conv2d_onednn_implementation(p, layout, g));
}

BENCHMARK_CAPTURE(BM_Conv2D_OneDnnDirect, plain, k::OneDnnLayout::kPlain)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2D_OneDnnDirect, blocked, k::OneDnnLayout::kBlocked)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2D_OneDnnLayout, plain, k::OneDnnLayout::kPlain)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2D_OneDnnLayout, blocked, k::OneDnnLayout::kBlocked)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
