// tests/support/e4m3_reference.h — e4m3 written from the format's definition for the tests,
// independent of core/fp8.h: each code's value, and f32 -> e4m3 as the nearest finite code
// (ties to the code with an even mantissa; beyond 448 saturated; NaN -> 0x7f; zero's sign kept).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rotor::test {

// (-1)^s 2^(E-7) (1 + m/8), or (-1)^s 2^-6 (m/8) when E = 0; S.1111.111 is NaN.
inline double e4m3_code_value(int code) {
  const int s = code >> 7, E = (code >> 3) & 15, m = code & 7;
  if (E == 15 && m == 7) return NAN;
  const double mag = E == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, E - 7);
  return s ? -mag : mag;
}

inline uint8_t e4m3_nearest_code(float f) {
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (int c = 0; c < 0x7f; ++c) v.push_back(e4m3_code_value(c));  // the non-negative finite codes
    return v;
  }();
  if (std::isnan(f)) return 0x7f;
  const double a = std::min<double>(std::fabs(static_cast<double>(f)), 448.0);
  int best = 0;
  double best_d = INFINITY;
  for (int c = 0; c < 0x7f; ++c) {
    const double d = std::fabs(values[c] - a);
    if (d < best_d || (d == best_d && (c & 1) == 0)) {
      best = c;
      best_d = d;
    }
  }
  return static_cast<uint8_t>((std::signbit(f) ? 0x80 : 0) | best);
}

}  // namespace rotor::test
