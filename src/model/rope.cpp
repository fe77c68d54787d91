// model/rope.cpp — RoPE frequencies (default and YaRN) and the cos | sin table.
#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace rotor {
namespace {

// YaRN's attention scale for a context extended `scale` times (1 when not extended).
double yarn_mscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

// The (fractional) pair index whose wavelength fits `rotations` times into `context`.
double correction_dim(double rotations, int dim, double theta, int context) {
  return dim * std::log(context / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(theta));
}

}  // namespace

RopeFrequencies rope_frequencies(int hd, double theta, const RopeScaling& s) {
  RopeFrequencies r;
  const int half = hd / 2;
  r.inv_freq.resize(half);
  for (int i = 0; i < half; ++i) r.inv_freq[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / hd);
  if (s.type != "yarn") return r;

  // Pairs below `low` rotate fast enough to keep their frequency (extrapolation); pairs above
  // `high` are slowed down by `factor` (interpolation); a linear ramp blends the pairs between.
  double low = correction_dim(s.beta_fast, hd, theta, s.original_max_position_embeddings);
  double high = correction_dim(s.beta_slow, hd, theta, s.original_max_position_embeddings);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(hd - 1));
  if (low == high) high += 0.001;
  for (int i = 0; i < half; ++i) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);  // 0: extrapolate, 1: interpolate
    r.inv_freq[i] = r.inv_freq[i] / s.factor * ramp + r.inv_freq[i] * (1.0 - ramp);
  }
  if (s.attention_factor > 0.0)
    r.attention_factor = s.attention_factor;
  else if (s.mscale != 0.0 && s.mscale_all_dim != 0.0)
    r.attention_factor = yarn_mscale(s.factor, s.mscale) / yarn_mscale(s.factor, s.mscale_all_dim);
  else
    r.attention_factor = yarn_mscale(s.factor, 1.0);
  return r;
}

std::vector<float> rope_table(int positions, int hd, double theta, const RopeScaling& scaling) {
  const RopeFrequencies f = rope_frequencies(hd, theta, scaling);
  std::vector<float> t(static_cast<size_t>(positions) * hd);
  const int half = hd / 2;
  for (int i = 0; i < half; ++i)
    for (int p = 0; p < positions; ++p) {
      const double a = p * f.inv_freq[i];
      t[static_cast<size_t>(p) * hd + i] = static_cast<float>(f.attention_factor * std::cos(a));
      t[static_cast<size_t>(p) * hd + half + i] = static_cast<float>(f.attention_factor * std::sin(a));
    }
  return t;
}

}  // namespace rotor
