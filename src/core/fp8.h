// core/fp8.h — the float8 e4m3 ("fn": no infinities, NaN = S.1111.111) of an FP8 KV cache:
// f32 -> e4m3 on the host exactly as the GPU's cvt.rn.satfinite.e4m3x2.f32 converts (round to
// nearest, ties to even; magnitudes past 448 saturate to ±448, infinities included; every NaN
// gives 0x7f), e4m3 -> f32, and the bit placement of two e4m3 into f16 that the GPU's
// attention kernels are to read the cache with (not written yet, issue 20; host and device,
// so the host tests check it).
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__CUDACC__)
#define ROTOR_FP8_HD __host__ __device__ __forceinline__
#else
#define ROTOR_FP8_HD inline
#endif

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

// Two e4m3 codes at bits 8..15 and 24..31 of `spread` (zeros elsewhere) -> an f16x2 word
// (first code in the low half) holding each value times 2^-8, exactly: sign to the f16 sign,
// the 4-bit exponent and 3-bit mantissa into the low bits of f16's exponent and the top of its
// mantissa. Subnormals and zeros land on f16 subnormals and zeros (the factor is the same 2^-8
// since both formats' subnormal exponents sit one above their zero codes); the NaN code reads
// as ±480 * 2^-8. Readers multiply by kE4m3F16Factor (folded into their scales).
ROTOR_FP8_HD uint32_t e4m3_spread_to_f16x2(uint32_t spread) {
  return (spread & 0x80008000u) | ((spread >> 1) & 0x3f803f80u);
}
constexpr float kE4m3F16Factor = 256.0f;

}  // namespace rotor
