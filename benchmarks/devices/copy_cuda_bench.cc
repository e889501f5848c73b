// Copy bandwidth H2D / D2H / D2D: ScopeFlow's device copies (pageable host memory staged
// through pinned buffers; pinned directly) against plain cudaMemcpy in the same run.
// Bytes/s counts the bytes copied once (D2D moves twice that through memory).
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <vector>

#include "devices/cuda/cuda_check.h"
#include "devices/device_manager.h"

namespace sf = scopeflow;

namespace {
enum Dir { kH2D = 0, kD2H = 1, kD2D = 2 };
enum Host { kPageable = 0, kPinned = 1 };

struct Buffers {
  std::shared_ptr<sf::devices::Device> gpu;
  std::vector<char> pageable;
  char* pinned = nullptr;
  void* d0 = nullptr;
  void* d1 = nullptr;
  Buffers(sf::devices::DeviceManager& m, std::size_t bytes) : gpu(m.gpu(0)), pageable(bytes, 1) {
    pinned = static_cast<char*>(gpu->host_allocator().allocate(bytes));
    d0 = gpu->allocator().allocate(bytes);
    d1 = gpu->allocator().allocate(bytes);
    gpu->memset(d0, 0, bytes);
  }
  ~Buffers() {
    gpu->allocator().deallocate(d0);
    gpu->allocator().deallocate(d1);
    gpu->host_allocator().deallocate(pinned);
  }
};
}  // namespace

static void BM_Copy_ScopeFlow(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError("no GPU");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const auto dir = static_cast<Dir>(state.range(1));
  const auto host = static_cast<Host>(state.range(2));
  sf::devices::DeviceManager m;
  Buffers b(m, bytes);
  void* h = host == kPinned ? static_cast<void*>(b.pinned) : b.pageable.data();
  for (auto _ : state) {
    if (dir == kH2D) b.gpu->copy_from_host(b.d0, h, bytes);
    if (dir == kD2H) b.gpu->copy_to_host(h, b.d0, bytes);
    if (dir == kD2D) b.gpu->copy_from_device(b.d1, *b.gpu, b.d0, bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

static void BM_Copy_CudaMemcpy(benchmark::State& state) {
  if (!sf::devices::is_available("GPU:0")) {
    state.SkipWithError("no GPU");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const auto dir = static_cast<Dir>(state.range(1));
  const auto host = static_cast<Host>(state.range(2));
  sf::devices::DeviceManager m;
  Buffers b(m, bytes);
  void* h = host == kPinned ? static_cast<void*>(b.pinned) : b.pageable.data();
  for (auto _ : state) {
    if (dir == kH2D) SF_CUDA_CHECK(cudaMemcpy(b.d0, h, bytes, cudaMemcpyHostToDevice));
    if (dir == kD2H) SF_CUDA_CHECK(cudaMemcpy(h, b.d0, bytes, cudaMemcpyDeviceToHost));
    if (dir == kD2D) {
      SF_CUDA_CHECK(cudaMemcpy(b.d1, b.d0, bytes, cudaMemcpyDeviceToDevice));
      SF_CUDA_CHECK(cudaDeviceSynchronize());
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

// Args: bytes, direction (0 H2D, 1 D2H, 2 D2D), host memory (0 pageable, 1 pinned).
static void copy_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t bytes :
       {std::int64_t{1} << 20, std::int64_t{64} << 20, std::int64_t{256} << 20}) {
    for (int dir : {kH2D, kD2H})
      for (int host : {kPageable, kPinned}) b->Args({bytes, dir, host});
    b->Args({bytes, kD2D, kPinned});
  }
  b->ArgNames({"bytes", "dir", "pinned"})->UseRealTime();
}

BENCHMARK(BM_Copy_ScopeFlow)->Apply(copy_args);
BENCHMARK(BM_Copy_CudaMemcpy)->Apply(copy_args);
