// tests/support/offline_generate.h — a fixed set of prompts generated to completion on one
// runner (no scheduler): chunked prefill, then a decode step per token, all in one batch.
// The model tests use it as the reference of a request run alone.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/runner/model_runner.h"

namespace rotor {

struct OfflineRequest {
  std::vector<int32_t> prompt;
  SamplingParams params;
  uint64_t seed = 0;
  int max_tokens = 16;
  bool ignore_eos = false;
  bool prompt_argmax = false;      // argmax after every prompt token
  bool prompt_logits = false;      // the logits after the last prompt token
};

struct OfflineResult {
  std::vector<int32_t> output;
  std::vector<int32_t> prompt_argmax;
  std::vector<float> prompt_logits;  // [V]
};

struct OfflineStats {
  int prefill_tokens = 0, decode_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// KV blocks that `requests` need at the runner's block size.
int offline_blocks_needed(std::span<const OfflineRequest> requests, int block_size);

// A runner sized for exactly `requests` in one batch: their KV blocks, the longest prompt +
// max_tokens as max_model_len, every request a sequence, every token of them in one step.
RunnerOptions offline_runner_options(std::span<const OfflineRequest> requests);

// prefill_chunk <= 0: whole prompts. Stops at max_tokens or at an eos id unless ignore_eos.
std::vector<OfflineResult> generate_offline(ModelRunner& runner, std::span<const OfflineRequest> requests,
                                            int prefill_chunk, const std::vector<int>& eos_ids,
                                            OfflineStats* stats = nullptr);

}  // namespace rotor
