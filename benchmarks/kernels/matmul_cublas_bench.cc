// MatMul on GPU:0: ScopeFlow's "cublas" kernel through the registry (allocating its output
// and workspace from the caching allocator, as a session does) against cublasSgemm called
// directly on preallocated buffers, same shapes, same run. FP32 math on both (no TF32).
// GPU time from CUDA events (UseManualTime).
#include <benchmark/benchmark.h>
#include <cublas_v2.h>

#include "devices/cuda/cuda_check.h"
#include "devices/cuda/cuda_device.h"
#include "devices/device_manager.h"
#include "kernels/kernel.h"

namespace sf = scopeflow;

namespace {
bool have_gpu(benchmark::State& state) {
  if (sf::devices::is_available("GPU:0")) return true;
  state.SkipWithError(("no GPU: " + sf::devices::why_unavailable("GPU:0")).c_str());
  return false;
}
sf::Tensor gpu_filled(const std::shared_ptr<sf::devices::Device>& gpu, std::int64_t rows,
                      std::int64_t cols, float value) {
  return sf::Tensor::from_vector<float>(
             std::vector<float>(static_cast<std::size_t>(rows * cols), value), {rows, cols})
      .to(gpu);
}
void set_flops(benchmark::State& state, std::int64_t m, std::int64_t n, std::int64_t k) {
  state.counters["TFLOP/s"] = benchmark::Counter(2e-12 * static_cast<double>(m * n * k),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
}  // namespace

static void BM_MatMul_Gpu_ScopeFlow(benchmark::State& state) {
  if (!have_gpu(state)) return;
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  sf::devices::DeviceManager manager;
  auto gpu = manager.gpu(0);
  sf::kernels::KernelContext c;
  c.device = gpu.get();
  c.device_ptr = gpu;
  c.inputs = {gpu_filled(gpu, m, k, 0.5f), gpu_filled(gpu, k, n, 0.25f)};
  const auto& kernel = sf::kernels::kernel_registry().find("MatMul", sf::devices::DeviceType::kGPU,
                                                           sf::float32, "cublas");
  auto start = gpu->create_event(), stop = gpu->create_event();
  kernel(c);  // warm-up: the handle, cuBLAS's heuristics
  for (auto _ : state) {
    start->record(gpu->compute_stream());
    c.outputs.clear();
    kernel(c);
    stop->record(gpu->compute_stream());
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
  }
  set_flops(state, m, n, k);
}

static void BM_MatMul_Gpu_cublasSgemm(benchmark::State& state) {
  if (!have_gpu(state)) return;
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  sf::devices::DeviceManager manager;
  auto gpu = manager.gpu(0);
  const sf::Tensor a = gpu_filled(gpu, m, k, 0.5f), b = gpu_filled(gpu, k, n, 0.25f);
  sf::Tensor out(sf::float32, {m, n}, gpu);
  cublasHandle_t handle;
  SF_CUBLAS_CHECK(cublasCreate(&handle));
  SF_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));  // FP32, no TF32
  SF_CUBLAS_CHECK(cublasSetStream(handle, static_cast<sf::cuda::GpuDevice&>(*gpu).stream()));
  const float alpha = 1.0f, beta = 0.0f;
  auto gemm = [&] {  // row-major [m,k] x [k,n] as column-major [n,k] x [k,m]
    SF_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n),
                                static_cast<int>(m), static_cast<int>(k), &alpha, b.data<float>(),
                                static_cast<int>(n), a.data<float>(), static_cast<int>(k), &beta,
                                out.data<float>(), static_cast<int>(n)));
  };
  auto start = gpu->create_event(), stop = gpu->create_event();
  gemm();
  for (auto _ : state) {
    start->record(gpu->compute_stream());
    gemm();
    stop->record(gpu->compute_stream());
    stop->synchronize();
    state.SetIterationTime(stop->elapsed_ms_since(*start) / 1e3);
  }
  SF_CUBLAS_CHECK(cublasDestroy(handle));
  set_flops(state, m, n, k);
}

// Fashion-CNN dense layers at batch 64 / 128, and square GEMMs.
#define SF_MATMUL_GPU_ARGS        \
  ->Args({64, 3136, 1024})        \
      ->Args({128, 1024, 10})     \
      ->Args({1024, 1024, 1024})  \
      ->Args({4096, 4096, 4096})  \
      ->ArgNames({"m", "k", "n"}) \
      ->UseManualTime()
BENCHMARK(BM_MatMul_Gpu_ScopeFlow) SF_MATMUL_GPU_ARGS;
BENCHMARK(BM_MatMul_Gpu_cublasSgemm) SF_MATMUL_GPU_ARGS;

// Host cost per call (what a training step's MatMuls add to the executor's critical path): a
// 32x32x32 GEMM (a few microseconds of GPU time) launched back to back on one logical GPU per
// thread, the stream synchronized every 64 calls; real time per call. ScopeFlow's kernel
// (registry, output and 32 MiB workspace from the caching allocator, a pooled cuBLAS handle)
// against cublasGemmEx on a handle of the thread's own and preallocated buffers. Threads(4):
// four logical GPUs of one card, one thread each, as four towers' MatMuls run.
namespace {
constexpr std::int64_t kLaunchDim = 32;
constexpr int kLaunchSyncEvery = 64;
std::shared_ptr<sf::devices::Device> logical_gpu(int i) {
  static sf::devices::DeviceManager* manager = [] {
    sf::devices::DeviceManagerOptions o;
    o.logical_gpus[0] = std::vector<sf::devices::LogicalGpuConfig>(4);
    return new sf::devices::DeviceManager(o);  // NOTE: kept for the process (its streams)
  }();
  return manager->gpu(i);
}
}  // namespace

static void BM_MatMulHostCost_Gpu_ScopeFlow(benchmark::State& state) {
  if (!have_gpu(state)) return;
  auto gpu = logical_gpu(state.thread_index());
  sf::kernels::KernelContext c;
  c.device = gpu.get();
  c.device_ptr = gpu;
  c.inputs = {gpu_filled(gpu, kLaunchDim, kLaunchDim, 0.5f),
              gpu_filled(gpu, kLaunchDim, kLaunchDim, 0.25f)};
  const auto& kernel = sf::kernels::kernel_registry().find("MatMul", sf::devices::DeviceType::kGPU,
                                                           sf::float32, "cublas");
  kernel(c);
  int n = 0;
  for (auto _ : state) {
    c.outputs.clear();
    kernel(c);
    if (++n % kLaunchSyncEvery == 0) gpu->synchronize();
  }
  gpu->synchronize();
}

static void BM_MatMulHostCost_Gpu_cublasGemmEx(benchmark::State& state) {
  if (!have_gpu(state)) return;
  auto gpu = logical_gpu(state.thread_index());
  const sf::Tensor a = gpu_filled(gpu, kLaunchDim, kLaunchDim, 0.5f),
                   b = gpu_filled(gpu, kLaunchDim, kLaunchDim, 0.25f);
  sf::Tensor out(sf::float32, {kLaunchDim, kLaunchDim}, gpu);
  SF_CUDA_CHECK(cudaSetDevice(gpu->physical_id()));
  cublasHandle_t handle;
  SF_CUBLAS_CHECK(cublasCreate(&handle));
  SF_CUBLAS_CHECK(cublasSetStream(handle, static_cast<sf::cuda::GpuDevice&>(*gpu).stream()));
  const float alpha = 1.0f, beta = 0.0f;
  const int d = static_cast<int>(kLaunchDim);
  auto gemm = [&] {
    SF_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, d, d, d, &alpha, b.data<float>(),
                                 CUDA_R_32F, d, a.data<float>(), CUDA_R_32F, d, &beta,
                                 out.data<float>(), CUDA_R_32F, d, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
  };
  gemm();
  int n = 0;
  for (auto _ : state) {
    gemm();
    if (++n % kLaunchSyncEvery == 0) gpu->synchronize();
  }
  gpu->synchronize();
  SF_CUBLAS_CHECK(cublasDestroy(handle));
}

// The caching allocator's part: the 32 MiB workspace taken and given back per call.
static void BM_GpuScratch32MiB_HostCost(benchmark::State& state) {
  if (!have_gpu(state)) return;
  auto gpu = logical_gpu(state.thread_index());
  for (auto _ : state) {
    sf::Tensor t(sf::DType::kUInt8, sf::Shape{32 << 20}, gpu);
    benchmark::DoNotOptimize(t.raw_data());
  }
}

BENCHMARK(BM_MatMulHostCost_Gpu_ScopeFlow)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_MatMulHostCost_Gpu_cublasGemmEx)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_GpuScratch32MiB_HostCost)->Threads(1)->Threads(4)->UseRealTime();
