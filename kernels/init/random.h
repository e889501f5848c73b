// RandomUniform ([0,1)), RandomStandardNormal and TruncatedNormal (|z| <= 2) in float32,
// counter-based: element i of a node's output depends only on the node's seeds and on
// (rng_offset + i). CPU: random_cpu.cc; CUDA: random_cuda.cu; math: philox.h.
#pragma once

#include <cstdint>

#include "devices/device.h"
#include "kernels/init/philox.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

enum class RandomDist { kUniform, kNormal, kTruncatedNormal };

struct RandomArgs {
  RandomDist dist = RandomDist::kUniform;
  philox::Key key{0, 0};
  std::uint64_t offset = 0;
  float* out = nullptr;
  std::int64_t n = 0;
  // GPU only: when set, the kernels take the offset from this device address instead (CUDA
  // graphs; see KernelContext::rng_offset_device). `offset` still sizes the launch.
  const std::uint64_t* offset_device = nullptr;
};

void random_forward_ref(const RandomArgs& a);
void random_forward_cuda(const RandomArgs& a, devices::Stream& stream);

// The Philox key of a random node: its (seed, seed2) attrs, or the session's random
// seed for the node when both are 0 (unseeded: runs differ).
philox::Key random_key(const KernelContext& c);
// The output shape from a shape tensor (int32 or int64, on the host).
Shape shape_from_tensor(const Tensor& t, const std::string& op);

void register_random_cpu_kernels(KernelRegistry& r);
void register_random_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
