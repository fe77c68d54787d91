// tests/kernels/test_w8a8_round.cpp — the GPU kernels' W8A8 rounding (kernels/w8a8_round.h:
// float arithmetic, the double path only near half-integers) against the CPU ops it must
// equal bit for bit: static quantisation of every bf16 value and of random f32 values, with
// scales and offsets that make exact ties (x / scale + offset a half-integer) as well as
// realistic ones; per-token quantisation of random rows and of rows full of ties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/bf16.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/w8a8_round.h"

namespace rotor {
namespace {

// Scales: powers of two and short-significand values (exact ties), realistic ones, tiny and huge.
std::vector<float> test_scales() {
  std::vector<float> s = {1.0f,      0.5f,        0x1p-7f,        0x1p-12f,  8.0f,        0.75f,      3 * 0x1p-10f,
                          5 * 0x1p-9f, 0.0123f,   0.05f / 127.0f, 1e-4f,     3.1416f,     1e-12f,     1e6f,
                          0x1p-126f, 0x1p-140f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-12.0f, 3.0f);
  for (int i = 0; i < 24; ++i) s.push_back(std::pow(2.0f, exponent(rng)));
  return s;
}

const std::vector<float> kOffsets = {0.0f, 1.0f, -3.0f, 0.5f, -0.5f, 7.25f, 127.0f, -128.0f, 1000.0f};

// Every x rounded as the CPU's static quantisation does.
void expect_static(const std::vector<float>& xs, float scale, float offset) {
  const W8A8Round r = w8a8_round_params(scale, offset);
  std::vector<int8_t> want(xs.size());
  cpu::quant_row_static(xs.data(), static_cast<int64_t>(xs.size()), scale, offset, want.data());
  int bad = 0;
  float first_bad = 0.0f;
  for (size_t i = 0; i < xs.size(); ++i)
    if (w8a8_round(xs[i], r, -128, 127) != want[i] && bad++ == 0) first_bad = xs[i];
  EXPECT_EQ(bad, 0) << "scale " << scale << " offset " << offset << " first x " << first_bad;
}

TEST(W8A8Round, StaticEveryBf16Value) {
  // Infinities too; not NaN, which the CPU op converts to int8 without a defined result.
  std::vector<float> xs;
  for (uint32_t b = 0; b < 65536; ++b)
    if (const float x = bf16_to_f32(static_cast<uint16_t>(b)); !std::isnan(x)) xs.push_back(x);
  for (float scale : test_scales())
    for (float offset : kOffsets) expect_static(xs, scale, offset);
}

TEST(W8A8Round, StaticRandomAndTiedF32) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float scale : test_scales())
    for (float offset : kOffsets) {
      std::vector<float> xs;
      for (int i = 0; i < 20000; ++i) xs.push_back(normal(rng) * scale * 60.0f);
      // x = (k + 1/2 - offset) * scale, exact where the product is: ties of the double path.
      for (int k = -140; k <= 140; ++k) {
        const float x = static_cast<float>((k + 0.5 - offset) * static_cast<double>(scale));
        xs.push_back(x);
        xs.push_back(std::nextafter(x, 0.0f));
        xs.push_back(std::nextafter(x, 1e30f));
      }
      expect_static(xs, scale, offset);
    }
}

// Rows quantised per token by the CPU op; each value again with the row's scale.
TEST(W8A8Round, PerTokenRows) {
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> level(-127, 126);
  int rows = 0, bad = 0;
  auto check = [&](const std::vector<float>& row) {
    std::vector<int8_t> want(row.size());
    const float scale = cpu::quant_row_per_token(row.data(), static_cast<int64_t>(row.size()), want.data());
    const W8A8Round r = w8a8_round_params(scale, 0.0f);
    for (size_t i = 0; i < row.size(); ++i) bad += w8a8_round(row[i], r, -127, 127) != want[i];
    ++rows;
  };
  for (int n = 0; n < 200; ++n) {
    const float spread = std::pow(10.0f, static_cast<float>(n % 9) - 4.0f);
    std::vector<float> row(768);
    for (float& v : row) v = normal(rng) * spread;
    check(row);
  }
  // amax = 127 * 2^-e makes the scale 2^-e exactly, and (k + 1/2) * 2^-e a tie.
  for (int e = -3; e <= 9; ++e) {
    const float s = std::ldexp(1.0f, -e);
    std::vector<float> row = {127.0f * s};
    for (int i = 0; i < 2048; ++i) row.push_back((level(rng) + 0.5f) * s);
    check(row);
  }
  check(std::vector<float>(64, 0.0f));
  EXPECT_EQ(bad, 0) << "over " << rows << " rows";
}

}  // namespace
}  // namespace rotor
