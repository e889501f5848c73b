// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3") and the
// float transforms used by the random initializers. Compiled by g++ and nvcc alike; the
// transforms use only IEEE-exact double operations (+ - * / sqrt, no libm, no FMA
// contraction: kernels build with -ffp-contract=off / --fmad=false), so element i has
// the same bits on the CPU and on every GPU, whatever the launch shape.
#pragma once

#include <cstdint>

#include "devices/base/host_device.h"

namespace scopeflow::kernels::philox {

struct Block {
  std::uint32_t v[4];
};

SF_HOST_DEVICE inline std::uint32_t mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t* hi) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(p >> 32);
  return static_cast<std::uint32_t>(p);
}

// Ten rounds over counter (c0..c3) with key (k0, k1).
SF_HOST_DEVICE inline Block philox4x32_10(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                          std::uint32_t c3, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = mulhilo(kM0, c0, &hi0);
    const std::uint32_t lo1 = mulhilo(kM1, c2, &hi1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return Block{{c0, c1, c2, c3}};
}

// The Philox key for an op's (seed, seed2) attributes.
struct Key {
  std::uint32_t k0, k1;
};
SF_HOST_DEVICE inline Key make_key(std::uint64_t seed, std::uint64_t seed2) {
  return Key{static_cast<std::uint32_t>(seed) ^ static_cast<std::uint32_t>(seed2 >> 32),
             static_cast<std::uint32_t>(seed2) ^ static_cast<std::uint32_t>(seed >> 32)};
}

// [0, 1) with 23 random mantissa bits (TF's Uint32ToFloat).
SF_HOST_DEVICE inline float uint32_to_float(std::uint32_t x) {
  const std::uint32_t bits = (x & 0x7fffffu) | 0x3f800000u;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f - 1.0f;
}

// (0, 1] in double from 32 random bits: never 0, so log() is finite.
SF_HOST_DEVICE inline double uint32_to_open_unit(std::uint32_t x) {
  return (static_cast<double>(x) + 1.0) * (1.0 / 4294967296.0);
}

// log(x) for x in (0, 1]: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then the atanh series.
SF_HOST_DEVICE inline double log_unit(double x) {
  int e = 0;
  while (x < 0.70710678118654752) {
    x *= 2.0;
    --e;
  }
  const double s = (x - 1.0) / (x + 1.0);
  const double s2 = s * s;
  // 2 * (s + s^3/3 + ... + s^19/19): |s| <= 0.1716, error < 1e-16 relative.
  double p = 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  p = p * s2 + 1.0;
  return 2.0 * s * p + static_cast<double>(e) * 0.69314718055994531;
}

// sin and cos of 2*pi*u for u in [0, 1): exact reduction to a quadrant in u, then Taylor
// series on [0, pi/2) to degree 17/18 (error < 1e-13).
SF_HOST_DEVICE inline void sincos_2pi(double u, double* s, double* c) {
  const double q4 = u * 4.0;  // exact
  const int q = static_cast<int>(q4);
  const double r = (q4 - q) * 1.5707963267948966;  // angle in [0, pi/2)
  const double r2 = r * r;
  double sn = 1.0 / 355687428096000.0;  // 1/17!
  sn = -sn * r2 + 1.0 / 1307674368000.0;
  sn = -sn * r2 + 1.0 / 6227020800.0;
  sn = -sn * r2 + 1.0 / 39916800.0;
  sn = -sn * r2 + 1.0 / 362880.0;
  sn = -sn * r2 + 1.0 / 5040.0;
  sn = -sn * r2 + 1.0 / 120.0;
  sn = -sn * r2 + 1.0 / 6.0;
  sn = r - r * r2 * sn;
  double cs = 1.0 / 6402373705728000.0;  // 1/18!
  cs = -cs * r2 + 1.0 / 20922789888000.0;
  cs = -cs * r2 + 1.0 / 87178291200.0;
  cs = -cs * r2 + 1.0 / 479001600.0;
  cs = -cs * r2 + 1.0 / 3628800.0;
  cs = -cs * r2 + 1.0 / 40320.0;
  cs = -cs * r2 + 1.0 / 720.0;
  cs = -cs * r2 + 1.0 / 24.0;
  cs = 1.0 - r2 * 0.5 + r2 * r2 * cs;
  switch (q & 3) {
    case 0:
      *s = sn;
      *c = cs;
      break;
    case 1:
      *s = cs;
      *c = -sn;
      break;
    case 2:
      *s = -sn;
      *c = -cs;
      break;
    default:
      *s = -cs;
      *c = sn;
      break;
  }
}

SF_HOST_DEVICE inline double sqrt_exact(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return __builtin_sqrt(x);
#endif
}

// Two standard normals from two 32-bit words (Box-Muller).
SF_HOST_DEVICE inline void box_muller(std::uint32_t a, std::uint32_t b, float* z0, float* z1) {
  const double radius = sqrt_exact(-2.0 * log_unit(uint32_to_open_unit(a)));
  double s, c;
  sincos_2pi(static_cast<double>(b) * (1.0 / 4294967296.0), &s, &c);
  *z0 = static_cast<float>(radius * s);
  *z1 = static_cast<float>(radius * c);
}

// Element i of each distribution, given the key and the element's global counter.
SF_HOST_DEVICE inline float uniform_at(Key k, std::uint64_t i) {
  const std::uint64_t block = i >> 2;
  const Block b = philox4x32_10(static_cast<std::uint32_t>(block),
                                static_cast<std::uint32_t>(block >> 32), 0u, 0u, k.k0, k.k1);
  return uint32_to_float(b.v[i & 3]);
}

// Normals come in pairs: elements 2j and 2j+1 are the two Box-Muller outputs of block j.
SF_HOST_DEVICE inline void normal_pair_at(Key k, std::uint64_t j, float* z0, float* z1) {
  const Block b = philox4x32_10(static_cast<std::uint32_t>(j), static_cast<std::uint32_t>(j >> 32),
                                1u, 0u, k.k0, k.k1);
  box_muller(b.v[0], b.v[1], z0, z1);
}

SF_HOST_DEVICE inline float normal_at(Key k, std::uint64_t i) {
  float z0, z1;
  normal_pair_at(k, i >> 1, &z0, &z1);
  return (i & 1) ? z1 : z0;
}

// A standard normal redrawn until |z| <= 2 (TF's TruncatedNormal).
SF_HOST_DEVICE inline float truncated_normal_at(Key k, std::uint64_t i) {
  for (std::uint32_t attempt = 0;; ++attempt) {
    const Block b = philox4x32_10(static_cast<std::uint32_t>(i),
                                  static_cast<std::uint32_t>(i >> 32), 2u, attempt, k.k0, k.k1);
    float z[4];
    box_muller(b.v[0], b.v[1], &z[0], &z[1]);
    box_muller(b.v[2], b.v[3], &z[2], &z[3]);
    for (float x : z)
      if (x >= -2.0f && x <= 2.0f) return x;
  }
}

}  // namespace scopeflow::kernels::philox
