// core/token_logprobs.h — the log-probability of one sampled token and of the most likely
// alternatives (plain data from the runner through the scheduler to the server).
#pragma once
#include <cstdint>
#include <vector>

namespace rotor {

struct TokenLogprobs {
  int32_t token = -1;
  float logprob = 0.0f;
  int rank = 0;                       // 1 = the most likely token
  std::vector<int32_t> top_ids;       // the N most likely tokens, best first (ties: lower id)
  std::vector<float> top_logprobs;
};

}  // namespace rotor
