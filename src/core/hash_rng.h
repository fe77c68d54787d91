// core/hash_rng.h — counter-based random numbers: value = f(seed, counter), no state.
// The same function on host and device, so a seeded sample or a dummy weight is the same
// whatever the backend, the batch or the thread that computes it.
#pragma once
#include <cstdint>

#include "core/host_device.h"

namespace rotor {

// splitmix64 finaliser: a bijective 64-bit mix.
ROTOR_HD uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

ROTOR_HD uint64_t hash3(uint64_t seed, uint64_t a, uint64_t b) { return mix64(mix64(seed ^ mix64(a)) + b); }

// Uniform in (0, 1): 24 random bits, never 0 or 1.
ROTOR_HD float uniform01(uint64_t bits) { return (static_cast<float>(bits >> 40) + 0.5f) * (1.0f / 16777216.0f); }

}  // namespace rotor

namespace rotor {

// Approximately N(0, 1): the sum of four 16-bit uniforms of one hash, centred and scaled
// (Irwin-Hall, variance 4/12). Cheap enough to fill billions of dummy weights.
ROTOR_HD float approx_normal(uint64_t bits) {
  const float s = static_cast<float>(bits & 0xffff) + static_cast<float>((bits >> 16) & 0xffff) +
                  static_cast<float>((bits >> 32) & 0xffff) + static_cast<float>(bits >> 48);
  return (s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

}  // namespace rotor
