// bench/decode_rows.h — one decode step's work for the step benchmarks: every sequence one new
// random token after `num_computed` cached ones in its block table, sampled greedily.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/runner/step_inputs.h"

namespace rotor {

struct DecodeRows {
  std::vector<int32_t> next;   // [B] the new tokens, which work[s].tokens views
  std::vector<SeqWork> work;   // [B]
};

inline DecodeRows decode_rows(const std::vector<std::vector<int32_t>>& tables, int num_computed, int vocab_size,
                              std::mt19937& g) {
  const int B = static_cast<int>(tables.size());
  DecodeRows r{std::vector<int32_t>(B), std::vector<SeqWork>(B)};
  for (int s = 0; s < B; ++s) {
    r.next[s] = static_cast<int32_t>(g() % vocab_size);
    r.work[s].tokens = std::span<const int32_t>(&r.next[s], 1);
    r.work[s].num_computed = num_computed;
    r.work[s].block_table = tables[s];
    r.work[s].sample = true;
    r.work[s].params.temperature = 0.0f;
  }
  return r;
}

}  // namespace rotor
