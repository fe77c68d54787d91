// model/rope.h — the RoPE table the qk_norm_rope ops read: NeoX rotary frequencies, plain or
// YaRN-scaled (transformers' _compute_yarn_parameters), with YaRN's attention factor folded
// into cos and sin.
#pragma once
#include <vector>

#include "model/config.h"

namespace rotor {

// The per-pair inverse frequencies [hd/2] and the factor that multiplies cos and sin.
struct RopeFrequencies {
  std::vector<double> inv_freq;
  double attention_factor = 1.0;
};
RopeFrequencies rope_frequencies(int hd, double theta, const RopeScaling& scaling = {});

// [positions, hd] f32: attention_factor * cos(p * f_i) in [:hd/2], * sin in [hd/2:], in double.
std::vector<float> rope_table(int positions, int hd, double theta, const RopeScaling& scaling = {});

}  // namespace rotor
