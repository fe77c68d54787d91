// core/sampling_params.h — per-request sampling parameters (plain data shared by the
// scheduler, the runner and the server; defaults as in vLLM / the OpenAI API).
#pragma once
#include <cstdint>
#include <optional>

namespace rotor {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;             // 0 or -1 = off
  float min_p = 0.0f;
  std::optional<int64_t> seed;
};

}  // namespace rotor
