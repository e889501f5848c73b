// The unit of work of the CUDA random kernels, host-device so the CPU tests can run it in
// any order: unit j of a fill of n elements starting at element counter `offset` is one
// Philox block of 4 uniforms (or one Box-Muller pair of normals). It writes the elements of
// the unit that fall inside [0, n).
#pragma once

#include <cstdint>

#include "kernels/init/philox.h"

namespace scopeflow::kernels {

SF_HOST_DEVICE inline std::int64_t uniform_units(std::uint64_t offset, std::int64_t n) {
  return (n + static_cast<std::int64_t>(offset & 3) + 3) / 4;
}
SF_HOST_DEVICE inline std::int64_t normal_units(std::uint64_t offset, std::int64_t n) {
  return (n + static_cast<std::int64_t>(offset & 1) + 1) / 2;
}

SF_HOST_DEVICE inline void uniform_unit(philox::Key key, std::uint64_t offset, float* out,
                                        std::int64_t n, std::int64_t j) {
  const std::int64_t shift = static_cast<std::int64_t>(offset & 3);
  const std::uint64_t block = (offset >> 2) + static_cast<std::uint64_t>(j);
  const philox::Block b =
      philox::philox4x32_10(static_cast<std::uint32_t>(block),
                            static_cast<std::uint32_t>(block >> 32), 0u, 0u, key.k0, key.k1);
  for (int k = 0; k < 4; ++k) {
    const std::int64_t i = 4 * j + k - shift;
    if (i >= 0 && i < n) out[i] = philox::uint32_to_float(b.v[k]);
  }
}

SF_HOST_DEVICE inline void normal_unit(philox::Key key, std::uint64_t offset, float* out,
                                       std::int64_t n, std::int64_t j) {
  const std::int64_t shift = static_cast<std::int64_t>(offset & 1);
  float z[2];
  philox::normal_pair_at(key, (offset >> 1) + static_cast<std::uint64_t>(j), &z[0], &z[1]);
  for (int k = 0; k < 2; ++k) {
    const std::int64_t i = 2 * j + k - shift;
    if (i >= 0 && i < n) out[i] = z[k];
  }
}

}  // namespace scopeflow::kernels
