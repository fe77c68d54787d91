// tests/core/test_fp8.cpp — core/fp8.h against the conversion written independently in
// tests/support/e4m3_reference.h: the 256 e4m3 codes' values from the format's definition, and
// f32 -> e4m3 as the nearest of them (ties to the even code, saturation at ±448, NaN -> 0x7f),
// over every code's neighbourhood (the values, the midpoints between neighbours and the floats
// next to them), special values and millions of random bit patterns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp8.h"
#include "tests/support/e4m3_reference.h"

namespace rotor {
namespace {

using test::e4m3_code_value;
using test::e4m3_nearest_code;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Fp8, CodesDecodeToTheirDefinition) {
  for (int c = 0; c < 256; ++c) {
    const double want = e4m3_code_value(c);
    const float got = e4m3_to_f32(static_cast<uint8_t>(c));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << c;
    } else {
      EXPECT_EQ(static_cast<double>(got), want) << c;
      EXPECT_EQ(std::signbit(got), (c & 0x80) != 0) << c;
    }
  }
  EXPECT_EQ(e4m3_to_f32(0x7e), kE4m3Max);
}

TEST(Fp8, EveryCodeRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN
    EXPECT_EQ(f32_to_e4m3(e4m3_to_f32(static_cast<uint8_t>(c))), c) << c;
  }
}

TEST(Fp8, NeighbourhoodsOfEveryCodeAndMidpoint) {
  std::vector<float> probes;
  for (int c = 0; c < 0x7e; ++c) {
    const double lo = e4m3_code_value(c), hi = e4m3_code_value(c + 1);
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: a one-bit-longer mantissa
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    for (float p : {static_cast<float>(lo), mid, static_cast<float>(hi)})
      for (float q : {p, std::nextafter(p, 0.0f), std::nextafter(p, INFINITY)}) probes.push_back(q);
  }
  for (float p : {0.0f, 1e-30f, 1e-45f, 0x1p-10f, 0x1p-9f, 448.0f, 456.0f, 464.0f, 480.0f, 1e30f, INFINITY,
                  std::nextafter(464.0f, 0.0f), std::nextafter(464.0f, INFINITY), -0.0f,
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()})
    probes.push_back(p);
  for (size_t i = 0, n = probes.size(); i < n; ++i) probes.push_back(-probes[i]);
  for (float p : probes) ASSERT_EQ(f32_to_e4m3(p), e4m3_nearest_code(p)) << p;
  EXPECT_EQ(f32_to_e4m3(464.0f), 0x7e);   // the tie past 448 goes to the even code, 448
  EXPECT_EQ(f32_to_e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(f32_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_e4m3(0x1p-10f), 0x00);  // half the least subnormal: ties to zero
  EXPECT_EQ(f32_to_e4m3(from_bits(0xffc00001u)), 0x7f);  // a negative NaN
}

TEST(Fp8, RandomBitPatterns) {
  std::mt19937 g(7);
  // Uniform over all bit patterns, then over the magnitudes that matter (2^-12 .. 2^10).
  for (int i = 0; i < 2000000; ++i) {
    const float f = from_bits(g());
    ASSERT_EQ(f32_to_e4m3(f), e4m3_nearest_code(f)) << f;
  }
  std::uniform_int_distribution<uint32_t> exp(127 - 12, 127 + 10);
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t u = (g() & 0x807fffffu) | (exp(g) << 23);
    ASSERT_EQ(f32_to_e4m3(from_bits(u)), e4m3_nearest_code(from_bits(u))) << from_bits(u);
  }
}

}  // namespace
}  // namespace rotor
