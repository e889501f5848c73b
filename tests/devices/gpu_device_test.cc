// GPU devices through the public device API: discovery, logical splits with budgets,
// the caching allocator on real memory, copies in every direction, streams and events.
// Skips (visibly) where no GPU is present; runs in scripts/gpu-check.sh.
#include <gtest/gtest.h>

#include <numeric>

#include "devices/base/errors.h"
#include "devices/device.h"
#include "devices/device_manager.h"
#include "devices/tensor.h"
#include "tests/support/devices.h"

namespace sf = scopeflow;
using sf::devices::DeviceManager;
using sf::devices::DeviceManagerOptions;

namespace {
std::vector<float> iota(std::size_t n, float start = 0.5f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}
}  // namespace

TEST(GpuDeviceTest, InventoryDescribesTheCard) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  const auto& g = sf::devices::gpu_inventory().gpus.at(0);
  EXPECT_FALSE(g.name.empty());
  EXPECT_GT(g.total_memory, 0);
  EXPECT_GT(g.multiprocessors, 0);
  DeviceManager m;
  EXPECT_EQ(m.gpu(0)->name(), "/device:GPU:0");
  EXPECT_EQ(m.gpu(0)->physical_id(), 0);
  EXPECT_NE(m.gpu(0)->description().find(g.name), std::string::npos);
}

TEST(GpuDeviceTest, RoundTripsHostDeviceHost) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto gpu = m.gpu(0);
  // Small (direct), large pageable (staged through pinned buffers, several chunks).
  for (std::size_t n : {std::size_t{3}, std::size_t{5'000'001}}) {
    auto host = sf::Tensor::from_vector<float>(iota(n), {static_cast<std::int64_t>(n)});
    auto dev = host.to(gpu);
    EXPECT_EQ(dev.device(), "/device:GPU:0");
    EXPECT_FALSE(dev.on_host());
    EXPECT_EQ(dev.to_vector<float>(), host.to_vector<float>()) << n;
  }
}

TEST(GpuDeviceTest, PinnedHostCopies) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto gpu = m.gpu(0);
  const std::size_t n = 3'000'000;
  auto* pinned = static_cast<float*>(gpu->host_allocator().allocate(n * 4));
  auto src = iota(n, 2.0f);
  std::copy(src.begin(), src.end(), pinned);
  void* d = gpu->allocator().allocate(n * 4);
  gpu->copy_from_host(d, pinned, n * 4);
  std::fill(pinned, pinned + n, 0.0f);
  gpu->copy_to_host(pinned, d, n * 4);
  EXPECT_TRUE(std::equal(src.begin(), src.end(), pinned));
  gpu->allocator().deallocate(d);
  gpu->host_allocator().deallocate(pinned);
  EXPECT_EQ(gpu->host_allocator().stats().bytes_in_use, 0);
}

// DeviceManagerOptions::pin_cpu_memory: CPU:0's tensors come from a pinned cache of the CPU
// devices' own (cudaHostAlloc), copies both ways keep the values, and a CPU tensor that outlives
// the manager keeps that cache alive (not the GPU) and frees into it.
TEST(GpuDeviceTest, PinnedCpuDeviceCopiesBothWays) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  const std::size_t n = 5'000'001;  // over the staging path's chunks were it pageable
  sf::Tensor kept;
  {
    DeviceManager m(DeviceManagerOptions{.pin_cpu_memory = true});
    auto cpu = m.cpu(0);
    auto gpu = m.gpu(0);
    ASSERT_EQ(cpu->allocator().name(), "cuda_pinned_host");
    const auto before = cpu->allocator().stats().bytes_in_use;
    {
      auto host = sf::Tensor::from_vector<float>(iota(n), {static_cast<std::int64_t>(n)}).to(cpu);
      EXPECT_GE(cpu->allocator().stats().bytes_in_use, before + static_cast<std::int64_t>(n * 4));
      auto dev = host.to(gpu);
      auto back = dev.to(cpu);
      EXPECT_EQ(back.to_vector<float>(), iota(n));
    }
    EXPECT_EQ(cpu->allocator().stats().bytes_in_use, before);
    kept = sf::Tensor::from_vector<float>(iota(3), {3}).to(cpu);
  }
  EXPECT_EQ(kept.to_vector<float>(), iota(3));  // the manager and its GPU are gone
}

// Pinned memory is cached: freed blocks are reused without cudaHostAlloc, a block a copy
// reads is not reused before the copy ran, and empty_cache gives it all back.
TEST(GpuDeviceTest, PinnedHostMemoryIsCachedAndCopiedAsync) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto gpu = m.gpu(0);
  auto pinned = sf::devices::pinned_host_device(gpu);
  auto& h2d = gpu->host_to_device_stream();
  EXPECT_NE(h2d.id(), gpu->compute_stream().id());
  const std::size_t n = 1 << 18;  // 1 MiB of floats: the small pool
  auto done = gpu->create_event();
  for (int i = 0; i < 50; ++i) {
    sf::Tensor host(sf::DType::kFloat32, {static_cast<std::int64_t>(n)}, pinned);
    auto values = iota(n, static_cast<float>(i));
    std::copy(values.begin(), values.end(), host.data<float>());
    auto dev =
        sf::Tensor::empty_on_stream(sf::DType::kFloat32, {static_cast<std::int64_t>(n)}, gpu, h2d);
    gpu->copy_from_host_async(dev.raw_data(), host.raw_data(), host.bytes(), h2d);
    gpu->host_allocator().record_stream(host.raw_data(), h2d.id());
    host = sf::Tensor();  // back to the cache, pending the copy
    done->record(h2d);
    done->synchronize();
    EXPECT_EQ(dev.to_vector<float>(), values) << i;
  }
  auto s = gpu->host_allocator().stats();
  EXPECT_EQ(s.num_allocs, 50);
  EXPECT_LE(s.num_raw_allocs, 2) << s.to_string();
  EXPECT_EQ(s.num_raw_frees, 0);
  EXPECT_EQ(s.bytes_in_use, 0);
  gpu->host_allocator().empty_cache();
  s = gpu->host_allocator().stats();
  EXPECT_EQ(s.bytes_reserved, 0);
  EXPECT_EQ(s.num_raw_frees, s.num_raw_allocs);
  float x = 0;
  EXPECT_THROW(gpu->copy_from_host_async(&x, &x, 4, m.cpu(0)->compute_stream()),
               sf::InvalidArgumentError);
}

TEST(GpuDeviceTest, DeviceToDeviceAndMemset) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto gpu = m.gpu(0);
  auto a = sf::Tensor::from_vector<float>(iota(1000)).to(gpu);
  auto b = a.to(gpu);  // D2D on the same device
  EXPECT_FALSE(b.shares_buffer_with(a));
  EXPECT_EQ(b.to_vector<float>(), iota(1000));
  gpu->memset(b.raw_data(), 0, b.bytes());
  EXPECT_EQ(b.to_vector<float>(), std::vector<float>(1000, 0.0f));
}

TEST(GpuDeviceTest, LogicalGpusHaveTheirOwnStreamsAndBudgets) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManagerOptions o;
  o.logical_gpus[0] = {{.memory_limit = 256 << 20}, {.memory_limit = 512 << 20}};
  DeviceManager m(o);
  const int physical = static_cast<int>(sf::devices::gpu_inventory().gpus.size());
  ASSERT_EQ(m.num_gpus(), physical + 1);
  auto g0 = m.gpu(0);
  auto g1 = m.gpu(1);
  EXPECT_EQ(g0->physical_id(), 0);
  EXPECT_EQ(g1->physical_id(), 0);
  EXPECT_NE(g0->compute_stream().id(), g1->compute_stream().id());
  EXPECT_EQ(g0->memory_limit(), 256 << 20);
  EXPECT_NE(g1->description().find("logical 2 of 2"), std::string::npos) << g1->description();
  // Copy between logical GPUs of one card.
  auto a = sf::Tensor::from_vector<float>(iota(4096)).to(g0);
  auto b = a.to(g1);
  EXPECT_EQ(b.device(), "/device:GPU:1");
  EXPECT_EQ(b.to_vector<float>(), iota(4096));
  // The budget is enforced per logical device, with the device named in the error.
  void* p = g0->allocator().allocate(200 << 20);
  try {
    g0->allocator().allocate(100 << 20);
    FAIL() << "budget not enforced";
  } catch (const sf::ResourceExhaustedError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/device:GPU:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("104857600 bytes"), std::string::npos) << msg;
  }
  void* q = g1->allocator().allocate(300 << 20);  // the other logical GPU still has room
  g1->allocator().deallocate(q);
  g0->allocator().deallocate(p);
}

// Copies between logical GPUs of a card on their own streams (Device::inbound_stream): one
// stream per source, kept; the compute stream for the device itself; the copy on it, ordered
// by events, lands in a buffer stream-ordered for that stream and read on the compute stream.
TEST(GpuDeviceTest, InboundStreamsPerSourceDevice) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManagerOptions o;
  o.logical_gpus[0] = {{}, {}, {}};
  DeviceManager m(o);
  auto g0 = m.gpu(0);
  auto g1 = m.gpu(1);
  auto g2 = m.gpu(2);
  auto& from0 = g1->inbound_stream(*g0);
  EXPECT_EQ(&from0, &g1->inbound_stream(*g0)) << "made once, kept";
  EXPECT_NE(&from0, &g1->inbound_stream(*g2)) << "one per source";
  EXPECT_NE(from0.id(), g1->compute_stream().id());
  EXPECT_EQ(&g1->inbound_stream(*g1), &g1->compute_stream());
  EXPECT_EQ(&g1->inbound_stream(*sf::devices::host_device()), &g1->compute_stream());
  for (int round = 0; round < 20; ++round) {
    const auto values = iota(1 << 16);
    auto a = sf::Tensor::from_vector<float>(values).to(g0);
    from0.wait_for(g0->compute_stream());
    auto b = sf::Tensor::empty_on_stream(sf::DType::kFloat32, a.shape(), g1, from0);
    g1->copy_from_device_on_stream(b.raw_data(), *g0, a.raw_data(), a.bytes(), from0);
    g1->allocator().record_stream(b.raw_data(), g1->compute_stream().id());
    g1->compute_stream().wait_for(from0);
    g0->compute_stream().wait_for(from0);
    EXPECT_EQ(b.to_vector<float>(), values) << "round " << round;
  }
  EXPECT_THROW(g1->copy_from_device_on_stream(nullptr, *g0, nullptr, 4,
                                              sf::devices::host_device()->compute_stream()),
               sf::InvalidArgumentError)
      << "not a CUDA stream";
}

// While a CUDA graph is captured on another logical GPU of the card (here: the exclusion such
// a capture holds), a GPU allocator must neither synchronize the card nor cudaFree: out of
// budget it reports out-of-memory at once, and empty_cache keeps its cache; afterwards both
// give memory back. (The fake-backend tests in caching_allocator_test cover the logic; this
// checks that the CUDA backend asks CaptureExclusion.)
TEST(GpuDeviceTest, AllocatorNeitherSynchronizesNorFreesWhileAnotherDeviceCaptures) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManagerOptions o;
  o.logical_gpus[0] = {{.memory_limit = 64 << 20}, {.memory_limit = 64 << 20}};
  DeviceManager m(o);
  auto& alloc = m.gpu(1)->allocator();
  EXPECT_EQ(alloc.name(), "gpu_caching");
  EXPECT_EQ(m.gpu(1)->host_allocator().name(), "cuda_pinned_host");
  alloc.deallocate(alloc.allocate(40 << 20));  // a cached 40 MiB segment
  struct Capture {  // as GPU:0's CapturedStep::begin() .. end() would hold it
    Capture() { sf::devices::CaptureExclusion::capture_begins(); }
    ~Capture() { sf::devices::CaptureExclusion::capture_ends(); }
  };
  {
    Capture capture;
    try {
      alloc.allocate(50 << 20);
      ADD_FAILURE() << "50 MiB fit in a 64 MiB budget beside a cached 40 MiB segment";
    } catch (const sf::ResourceExhaustedError& e) {
      EXPECT_NE(std::string(e.what()).find("captured in this process"), std::string::npos)
          << e.what();
    }
    alloc.empty_cache();
    EXPECT_EQ(alloc.stats().bytes_reserved, 40 << 20);
    EXPECT_EQ(alloc.stats().num_raw_frees, 0);
  }
  void* p = alloc.allocate(50 << 20);  // the retry gives the cached segment back
  EXPECT_EQ(alloc.stats().num_raw_frees, 1);
  alloc.deallocate(p);
  alloc.empty_cache();
  EXPECT_EQ(alloc.stats().bytes_reserved, 0);
}

TEST(GpuDeviceTest, SteadyStateMakesNoCudaMalloc) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto& alloc = m.gpu(0)->allocator();
  for (int step = 0; step < 20; ++step) {
    void* a = alloc.allocate(12 << 20);
    void* b = alloc.allocate(4096);
    void* c = alloc.allocate(3 << 20);
    alloc.deallocate(b);
    alloc.deallocate(a);
    alloc.deallocate(c);
  }
  auto s = alloc.stats();
  EXPECT_EQ(s.num_allocs, 60);
  EXPECT_EQ(s.num_raw_allocs, 3) << s.to_string();
}

TEST(GpuDeviceTest, OutOfMemoryIsResourceExhausted) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto gpu = m.gpu(0);
  const auto total = sf::devices::gpu_inventory().gpus[0].total_memory;
  try {
    gpu->allocator().allocate(static_cast<std::size_t>(total) * 2);
    FAIL() << "allocating twice the card's memory succeeded";
  } catch (const sf::ResourceExhaustedError& e) {
    EXPECT_NE(std::string(e.what()).find("/device:GPU:0"), std::string::npos) << e.what();
  }
  // The device is still usable afterwards.
  auto t = sf::Tensor::from_vector<float>({1, 2}).to(gpu);
  EXPECT_EQ(t.to_vector<float>()[1], 2.0f);
}

TEST(GpuDeviceTest, EventsTimeAndOrderStreams) {
  SF_SKIP_UNLESS_DEVICE("GPU:0");
  DeviceManager m;
  auto gpu = m.gpu(0);
  auto s2 = gpu->create_stream();
  auto start = gpu->create_event();
  auto stop = gpu->create_event();
  start->record(gpu->compute_stream());
  auto t = sf::Tensor::from_vector<float>(iota(1 << 20)).to(gpu);
  stop->record(gpu->compute_stream());
  stop->synchronize();
  EXPECT_TRUE(stop->query());
  EXPECT_GE(stop->elapsed_ms_since(*start), 0.0f);
  s2->wait_for(gpu->compute_stream());
  s2->synchronize();
}

TEST(GpuDeviceTest, PeerCopyBetweenPhysicalGpus) {
  SF_SKIP_UNLESS_DEVICE("GPU:1");
  DeviceManager m;
  auto a = sf::Tensor::from_vector<float>(iota(1 << 16)).to(m.gpu(0));
  auto b = a.to(m.gpu(1));
  EXPECT_EQ(b.to_vector<float>(), iota(1 << 16));
}
