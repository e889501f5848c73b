// sf-bench-kernels, GPU part: Conv2D fprop / dgrad / wgrad, native implicit GEMM (label
// "cuda") against cuDNN (conv2d_*_cudnn: FMA math, measured algorithm, HWIO<->OHWI filter
// transposes included) in the same run, on ResNet and small-CNN shapes (SAME, stride 1);
// and the FP32 peak measured with an FMA chain, so that scripts/bench_summary.py can print
// % of peak and native/cuDNN ratios per shape class.
//   BM_Conv2D_Gpu/<pass>/<shape>/<impl>      GPU time from CUDA events (manual time)
//   BM_Conv2D_GpuHost/<pass>/<shape>/<label> wall clock of the registry kernel + sync
//   BM_Gpu_Fp32Peak                          FMA-chain kernel
// TFLOP/s counts 2*N*OH*OW*O*KH*KW*C per pass. Skipped (with an error) without a GPU.
#include <benchmark/benchmark.h>

#include <random>

#include "devices/device_manager.h"
#include "kernels/conv2d/conv2d_cuda.h"
#include "kernels/kernel.h"

namespace sf = scopeflow;
namespace k = scopeflow::kernels;
namespace ig = scopeflow::kernels::igemm;
using ig::Pass;

namespace {

struct Shape {
  const char* name;
  std::int64_t n, h, w, c, k, o;
};
const Shape kResNet[] = {{"resnet_56x56_64-64_3x3", 32, 56, 56, 64, 3, 64},
                         {"resnet_56x56_64-256_1x1", 32, 56, 56, 64, 1, 256},
                         {"resnet_28x28_128-128_3x3", 32, 28, 28, 128, 3, 128},
                         {"resnet_14x14_256-256_3x3", 32, 14, 14, 256, 3, 256},
                         {"resnet_7x7_512-512_3x3", 32, 7, 7, 512, 3, 512},
                         {"resnet_14x14_1024-256_1x1", 32, 14, 14, 1024, 1, 256}};
const Shape kSmallCnn[] = {{"cnn_28x28_1-32_5x5", 64, 28, 28, 1, 5, 32},
                           {"cnn_14x14_32-64_5x5", 64, 14, 14, 32, 5, 64},
                           {"cnn_32x32_3-64_3x3", 128, 32, 32, 3, 3, 64},
                           {"cnn_32x32_64-64_3x3", 128, 32, 32, 64, 3, 64}};
const Pass kPasses[] = {Pass::kForward, Pass::kBackwardInput, Pass::kBackwardFilter};

k::Conv2DGeom geometry(const Shape& s) {
  k::Conv2DGeom g;
  g.n = s.n, g.c = s.c, g.o = s.o;
  g.h = k::window_dim(s.h, s.k, 1, 1, "SAME", s.name);
  g.w = k::window_dim(s.w, s.k, 1, 1, "SAME", s.name);
  return g;
}

double flops(const k::Conv2DGeom& g) {
  return 2.0 * g.n * g.h.out * g.w.out * g.o * g.h.k * g.w.k * g.c;
}

sf::Tensor random_gpu(const sf::Shape& s, unsigned seed,
                      const std::shared_ptr<sf::devices::Device>& device) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(static_cast<std::size_t>(s.num_elements()));
  for (auto& x : v) x = d(gen);
  return sf::Tensor::from_vector(v, s).to(device);
}

// x, f, dy and the pass's output on the GPU.
struct Buffers {
  sf::Tensor x, f, dy, out;
  Buffers(const k::Conv2DGeom& g, Pass pass, const std::shared_ptr<sf::devices::Device>& device)
      : x(random_gpu({g.n, g.h.in, g.w.in, g.c}, 1, device)),
        f(random_gpu({g.h.k, g.w.k, g.c, g.o}, 2, device)),
        dy(random_gpu({g.n, g.h.out, g.w.out, g.o}, 3, device)),
        out(sf::float32,
            pass == Pass::kForward         ? dy.shape()
            : pass == Pass::kBackwardInput ? x.shape()
                                           : f.shape(),
            device) {}
};

void run_impl(bool native, Pass pass, const k::Conv2DGeom& g, Buffers& b, sf::devices::Device& d,
              sf::devices::Stream& s) {
  const float* x = b.x.data<float>();
  const float* f = b.f.data<float>();
  const float* dy = b.dy.data<float>();
  float* out = b.out.data<float>();
  switch (pass) {
    case Pass::kForward:
      return native ? k::conv2d_forward_cuda(g, x, f, out, d, s)
                    : k::conv2d_forward_cudnn(g, x, f, out, d, s);
    case Pass::kBackwardInput:
      return native ? k::conv2d_backward_input_cuda(g, f, dy, out, d, s)
                    : k::conv2d_backward_input_cudnn(g, f, dy, out, d, s);
    case Pass::kBackwardFilter:
      return native ? k::conv2d_backward_filter_cuda(g, x, dy, out, d, s)
                    : k::conv2d_backward_filter_cudnn(g, x, dy, out, d, s);
  }
}

// GPU time of one pass through the launcher (native or cuDNN), from CUDA events.
void bm_conv2d_gpu(benchmark::State& state, Shape shape, Pass pass, bool native) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError(sf::str_cat("no GPU: ", sf::devices::why_unavailable("GPU:0")).c_str());
    return;
  }
  if (!native && !k::cudnn_available()) {
    state.SkipWithError("this build has no cuDNN");
    return;
  }
  sf::devices::DeviceManager m;
  auto gpu = m.gpu(0);
  auto& stream = gpu->compute_stream();
  const k::Conv2DGeom g = geometry(shape);
  Buffers b(g, pass, gpu);
  run_impl(native, pass, g, b, *gpu, stream);  // cuDNN: the algorithm search
  stream.synchronize();
  auto start = gpu->create_event(), stop = gpu->create_event();
  for (auto _ : state) {
    start->record(stream);
    run_impl(native, pass, g, b, *gpu, stream);
    stop->record(stream);
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
  }
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops(g) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  std::string label = ig::shape_class(pass, g);
  if (native) {
    const ig::GemmPlan plan = k::conv2d_plan_cuda(pass, g, *gpu);
    label = sf::str_cat(label, " | tile ", ig::tile_name(plan.tile), " splits ", plan.splits);
  }
  state.SetLabel(label);
}

const char* op_name(Pass pass) {
  switch (pass) {
    case Pass::kForward: return "Conv2D";
    case Pass::kBackwardInput: return "Conv2DBackpropInput";
    case Pass::kBackwardFilter: return "Conv2DBackpropFilter";
  }
  return "?";
}

// Wall clock of the registry kernel (argument checks, output allocation, launch) plus the
// stream synchronization: what a small model's step pays per convolution.
void bm_conv2d_gpu_host(benchmark::State& state, Shape shape, Pass pass, std::string label) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError(sf::str_cat("no GPU: ", sf::devices::why_unavailable("GPU:0")).c_str());
    return;
  }
  const auto& registry = k::kernel_registry();
  if (!registry.contains(op_name(pass), sf::devices::DeviceType::kGPU, sf::float32, label)) {
    state.SkipWithError(sf::str_cat("label ", label, " not built").c_str());
    return;
  }
  sf::devices::DeviceManager m;
  auto gpu = m.gpu(0);
  const k::Conv2DGeom g = geometry(shape);
  Buffers b(g, pass, gpu);
  sf::AttrMap a;
  a.set("strides", std::vector<std::int64_t>{1, 1, 1, 1});
  a.set("padding", std::string("SAME"));
  k::KernelContext c;
  c.device = gpu.get();
  c.device_ptr = gpu;
  c.attrs = &a;
  c.node_name = op_name(pass);
  const auto dims = [](const sf::Tensor& t) {
    std::vector<std::int32_t> d;
    for (auto v : t.shape().dims()) d.push_back(static_cast<std::int32_t>(v));
    return sf::Tensor::from_vector(d);
  };
  switch (pass) {
    case Pass::kForward: c.inputs = {b.x, b.f}; break;
    case Pass::kBackwardInput: c.inputs = {dims(b.x), b.f, b.dy}; break;
    case Pass::kBackwardFilter: c.inputs = {b.x, dims(b.f), b.dy}; break;
  }
  const auto& kernel =
      registry.find(op_name(pass), sf::devices::DeviceType::kGPU, sf::float32, label);
  kernel(c);
  gpu->synchronize();
  for (auto _ : state) {
    c.outputs.clear();
    kernel(c);
    gpu->compute_stream().synchronize();
  }
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops(g) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(ig::shape_class(pass, g));
}

// The FP32 FMA peak this GPU reaches: 8 blocks of 256 threads per SM, 8 chains each.
void bm_gpu_fp32_peak(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError(sf::str_cat("no GPU: ", sf::devices::why_unavailable("GPU:0")).c_str());
    return;
  }
  sf::devices::DeviceManager m;
  auto gpu = m.gpu(0);
  const int sms = sf::devices::gpu_inventory().gpus.at(0).multiprocessors;
  const int blocks = 8 * sms, threads = 256, iters = 1 << 14;
  sf::Tensor out(sf::float32, {std::int64_t{blocks} * threads}, gpu);
  auto& stream = gpu->compute_stream();
  k::fma_peak_cuda(out.data<float>(), blocks, threads, iters, stream);
  stream.synchronize();
  auto start = gpu->create_event(), stop = gpu->create_event();
  for (auto _ : state) {
    start->record(stream);
    k::fma_peak_cuda(out.data<float>(), blocks, threads, iters, stream);
    stop->record(stream);
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
  }
  const double fl = 2.0 * 8 * iters * double(blocks) * threads;
  state.counters["TFLOP/s"] =
      benchmark::Counter(fl * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

[[maybe_unused]] const bool kRegistered = [] {
  benchmark::RegisterBenchmark("BM_Gpu_Fp32Peak", bm_gpu_fp32_peak)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  for (Pass pass : kPasses) {
    auto add = [&](const Shape& s) {
      for (bool native : {true, false}) {
        const std::string name = sf::str_cat("BM_Conv2D_Gpu/", ig::pass_name(pass), "/", s.name,
                                             "/", native ? "native" : "cudnn");
        benchmark::RegisterBenchmark(name.c_str(), bm_conv2d_gpu, s, pass, native)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
    };
    for (const Shape& s : kResNet) add(s);
    for (const Shape& s : kSmallCnn) add(s);
    for (const Shape& s : kSmallCnn) {
      for (const char* label : {"cuda", "cudnn"}) {
        const std::string name =
            sf::str_cat("BM_Conv2D_GpuHost/", ig::pass_name(pass), "/", s.name, "/", label);
        benchmark::RegisterBenchmark(name.c_str(), bm_conv2d_gpu_host, s, pass, std::string(label))
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}();

}  // namespace
