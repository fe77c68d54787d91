// kernels/w8a8_round.h — the rounding of W8A8 activation quantisation for the GPU kernels, host
// and device: clamp(rint(x / scale + offset), lo, hi) with the CPU reference's bits (quotient
// and sum in double, half to even: kernels/cpu/quantize.cpp), computed in float, with the
// double path taken only for the values whose float result could round to another integer (a
// few in a million). tests/kernels/test_w8a8_round.cpp checks it against the CPU op over every
// bf16 value and many scales and offsets.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/host_device.h"

namespace rotor {

// One quantisation's constants: scale and offset, and 1 / scale rounded once in float.
struct W8A8Round {
  float inv;
  float offset;
  double scale;
  double offset_d;
};

ROTOR_HD W8A8Round w8a8_round_params(float scale, float offset) {
  return W8A8Round{1.0f / scale, offset, static_cast<double>(scale), static_cast<double>(offset)};
}

// The CPU reference's arithmetic: the quotient and the sum each rounded once in double.
ROTOR_HD int w8a8_round_double(float x, const W8A8Round& r, int lo, int hi) {
#if defined(__CUDA_ARCH__)
  const double q = rint(__dadd_rn(__ddiv_rn(static_cast<double>(x), r.scale), r.offset_d));
  return static_cast<int>(fmin(fmax(q, static_cast<double>(lo)), static_cast<double>(hi)));
#else
  const double q = std::nearbyint(static_cast<double>(x) / r.scale + r.offset_d);
  return static_cast<int>(std::fmin(std::fmax(q, static_cast<double>(lo)), static_cast<double>(hi)));
#endif
}

// clamp(rint(x / scale + offset), lo, hi) with w8a8_round_double's result, lo < hi small integers.
//
// t = x * inv + offset in one fma is within 2^-23 (|t| + |offset|) of the double path's sum
// (inv and the fma round once each in float, the double path twice in double). Where no
// half-integer lies within 2^-20 (|t| + |offset|) of t (8 times that bound), both round to the
// integer nearest t; elsewhere (and for NaN and infinities, whose comparisons fail) the double
// path decides. t is clamped to [lo - 1, hi + 1] before rounding (the clamp after gives the same
// integer), where adding 1.5 * 2^23 rounds it to an integer, half to even, in the low bits.
ROTOR_HD int w8a8_round(float x, const W8A8Round& r, int lo, int hi) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  constexpr int32_t kMagicBits = 0x4B400000;
#if defined(__CUDA_ARCH__)
  const float t = __fmaf_rn(x, r.inv, r.offset);
  const float tc = fminf(fmaxf(t, static_cast<float>(lo - 1)), static_cast<float>(hi + 1));
  const float m = __fadd_rn(tc, kMagic);
  const float d = __fsub_rn(0.5f, fabsf(__fsub_rn(tc, __fsub_rn(m, kMagic))));
  const float tol = __fmul_rn(__fadd_rn(fabsf(t), fabsf(r.offset)), 0x1p-20f);
#else
  const float t = std::fma(x, r.inv, r.offset);
  const float tc = std::fmin(std::fmax(t, static_cast<float>(lo - 1)), static_cast<float>(hi + 1));
  const float m = tc + kMagic;
  const float d = 0.5f - std::fabs(tc - (m - kMagic));
  const float tol = (std::fabs(t) + std::fabs(r.offset)) * 0x1p-20f;
#endif
  if (!(d > tol)) return w8a8_round_double(x, r, lo, hi);
  int32_t bits;
  std::memcpy(&bits, &m, sizeof bits);
  const int n = bits - kMagicBits;
  return n < lo ? lo : (n > hi ? hi : n);
}

}  // namespace rotor
