// Bandwidth of the element-wise GPU kernels: Relu and the fused bias-add + relu against a
// device-to-device cudaMemcpyAsync of the same bytes in the same run (the ceiling). GPU time
// from CUDA events (UseManualTime); GB/s counts bytes read plus bytes written.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <string>

#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "devices/device_manager.h"
#include "kernels/bias_add/bias_add.h"
#include "kernels/relu/relu.h"

namespace sf = scopeflow;

namespace {

// GPU:0 and two device buffers of `bytes`, or a skip naming why there is no GPU.
struct GpuBuffers {
  std::unique_ptr<sf::devices::DeviceManager> manager;
  std::shared_ptr<sf::devices::Device> gpu;
  void* a = nullptr;
  void* b = nullptr;
  bool ok(benchmark::State& state, std::size_t bytes) {
    if (!sf::devices::is_available("GPU:0")) {
      state.SkipWithError(("no GPU: " + sf::devices::why_unavailable("GPU:0")).c_str());
      return false;
    }
    manager = std::make_unique<sf::devices::DeviceManager>();
    gpu = manager->gpu(0);
    a = gpu->allocator().allocate(bytes);
    b = gpu->allocator().allocate(bytes);
    gpu->memset(a, 0, bytes);  // defined inputs (0.0f); the kernels' speed does not depend on them
    return true;
  }
  ~GpuBuffers() {
    if (gpu) {
      gpu->allocator().deallocate(a);
      gpu->allocator().deallocate(b);
    }
  }
};

// Times `body` per iteration with events on GPU:0's compute stream.
template <class F>
void time_gpu(benchmark::State& state, sf::devices::Device& gpu, F body) {
  auto start = gpu.create_event(), stop = gpu.create_event();
  body();  // warm-up
  for (auto _ : state) {
    start->record(gpu.compute_stream());
    body();
    stop->record(gpu.compute_stream());
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
  }
}

void set_bandwidth(benchmark::State& state, double bytes) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

static void BM_Relu_Gpu_ScopeFlow(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  GpuBuffers buf;
  if (!buf.ok(state, static_cast<std::size_t>(n) * 4)) return;
  time_gpu(state, *buf.gpu, [&] {
    sf::kernels::relu_forward_cuda(static_cast<const float*>(buf.a), static_cast<float*>(buf.b), n,
                                   buf.gpu->compute_stream());
  });
  set_bandwidth(state, 2.0 * 4 * static_cast<double>(n));
}

// [rows, channels] with a bias of `channels`: reads x and b, writes y.
static void BM_BiasAddRelu_Gpu_ScopeFlow(benchmark::State& state) {
  const std::int64_t channels = state.range(0), rows = state.range(1) / channels;
  const std::int64_t n = rows * channels;
  GpuBuffers buf;
  if (!buf.ok(state, static_cast<std::size_t>(n + channels) * 4)) return;
  const auto* x = static_cast<const float*>(buf.a);
  const float* bias = x + n;
  time_gpu(state, *buf.gpu, [&] {
    sf::kernels::bias_add_relu_cuda(x, bias, static_cast<float*>(buf.b), rows, channels,
                                    buf.gpu->compute_stream());
  });
  set_bandwidth(state, 4.0 * static_cast<double>(2 * n + channels));
}

// The ceiling: cudaMemcpyAsync device to device of n floats (n read, n written).
static void BM_Copy_Gpu_cudaMemcpyAsync(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  GpuBuffers buf;
  if (!buf.ok(state, static_cast<std::size_t>(n) * 4)) return;
  const cudaStream_t s = static_cast<sf::cuda::GpuDevice&>(*buf.gpu).stream();
  time_gpu(state, *buf.gpu, [&] {
    SF_CUDA_CHECK(cudaMemcpyAsync(buf.b, buf.a, static_cast<std::size_t>(n) * 4,
                                  cudaMemcpyDeviceToDevice, s));
  });
  set_bandwidth(state, 2.0 * 4 * static_cast<double>(n));
}

BENCHMARK(BM_Relu_Gpu_ScopeFlow)->Arg(1 << 20)->Arg(1 << 26)->ArgName("n")->UseManualTime();
BENCHMARK(BM_BiasAddRelu_Gpu_ScopeFlow)
    ->Args({64, 1 << 26})
    ->Args({10, 1 << 26})
    ->ArgNames({"channels", "n"})
    ->UseManualTime();
BENCHMARK(BM_Copy_Gpu_cudaMemcpyAsync)->Arg(1 << 20)->Arg(1 << 26)->ArgName("n")->UseManualTime();
