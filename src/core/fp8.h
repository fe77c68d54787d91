// core/fp8.h — the float8 e4m3 ("fn": no infinities, NaN = S.1111.111) of an FP8 KV cache:
// f32 -> e4m3 on the host exactly as the GPU's cvt.rn.satfinite.e4m3x2.f32 converts (round to
// nearest, ties to even; magnitudes past 448 saturate to ±448, infinities included; every NaN
// gives 0x7f), and e4m3 -> f32 (the GPU's attention kernels read the cache through
// kernels/cuda/fp8.cuh's cvt to f16, which gives the same values).
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

namespace rotor {

constexpr float kE4m3Max = 448.0f;
// --calculate-kv-scales: K scale = max|k| / kKScaleRange, V scale = max|v| / kVScaleRange
// (vLLM's K_SCALE_CONSTANT and V_SCALE_CONSTANT).
constexpr float kKScaleRange = 200.0f, kVScaleRange = 100.0f;

inline uint8_t f32_to_e4m3(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7f;                    // NaN
  if (a >= 0x43e80000u) return static_cast<uint8_t>(sign | 0x7e);  // |f| >= 464 = 448 + half a step: 448
  const int e = static_cast<int>(a >> 23) - 127;       // |f| in [2^e, 2^(e+1))
  if (e < -10) return static_cast<uint8_t>(sign);      // below half the least subnormal (2^-10): zero
  // |f| = mant * 2^(e-23); the e4m3 step is 2^(e-3) for normals (e >= -6), 2^-9 below: n steps.
  const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  const int shift = e >= -6 ? 20 : 14 - e;
  uint32_t n = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  n += rest > half || (rest == half && (n & 1u));
  // Normals: exponent field e + 7 and mantissa n - 8, written as one sum so that n = 16 carries
  // into the exponent; subnormals: n itself (n = 8 is the least normal).
  const uint32_t code = e >= -6 ? (static_cast<uint32_t>(e + 6) << 3) + n : n;
  return static_cast<uint8_t>(sign | code);
}

inline float e4m3_to_f32(uint8_t x) {
  const uint32_t exp = (x >> 3) & 15u, mant = x & 7u;
  float v;
  if ((x & 0x7fu) == 0x7fu) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    v = static_cast<float>(mant) * 0x1p-9f;
  } else {
    const uint32_t bits = ((exp + 120u) << 23) | (mant << 20);
    std::memcpy(&v, &bits, 4);
  }
  return (x & 0x80u) ? -v : v;
}

}  // namespace rotor
