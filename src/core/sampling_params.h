// core/sampling_params.h — per-request sampling and stopping parameters (plain data shared by
// the server, the engine, the scheduler and the runner; names and defaults as in vLLM's
// SamplingParams and the OpenAI API).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace rotor {

struct SamplingParams {
  // Drawing the next token (kernels/ops.h: Ops::sample).
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // 1 = off
  int top_k = 0;             // 0 or -1 = off
  float min_p = 0.0f;        // 0 = off
  std::optional<int64_t> seed;  // set: the request's tokens are reproducible whatever the batch
  // Penalties on the logits before sampling (Ops::apply_penalties), as vLLM applies them.
  float presence_penalty = 0.0f;    // minus this once for every token already in the output
  float frequency_penalty = 0.0f;   // minus this times the token's count in the output
  float repetition_penalty = 1.0f;  // tokens in prompt or output: l > 0 ? l / r : l * r
  // Stopping.
  std::optional<int> max_tokens;    // unset: until the context reaches max_model_len
  int min_tokens = 0;               // eos and stop ids are masked until this many tokens
  std::vector<int32_t> stop_token_ids;  // finish on these (kept in the output), even with ignore_eos
  bool ignore_eos = false;          // do not finish on the model's eos ids
  // Log-probabilities of each sampled token (from the raw logits) and of the N best tokens.
  std::optional<int> logprobs;      // unset: none; N >= 0: the sampled token's plus top-N
  // Log-probabilities of the prompt: each prompt token's after the tokens before it, with the
  // N best tokens at that position (vLLM's prompt_logprobs; the prefix cache is not read).
  std::optional<int> prompt_logprobs;
  // What may be sampled (vLLM's allowed_token_ids and bad_words).
  std::vector<int32_t> allowed_token_ids;       // non-empty: nothing else may be sampled
  std::vector<std::vector<int32_t>> bad_words;  // token sequences the output may not complete

  // A bad word of several tokens: whether its last token is banned depends on the tokens
  // sampled just before, so such a request waits for them (no overlapped step).
  bool needs_previous_tokens() const {
    for (const auto& w : bad_words)
      if (w.size() > 1) return true;
    return false;
  }
  bool has_penalties() const {
    return presence_penalty != 0.0f || frequency_penalty != 0.0f || repetition_penalty != 1.0f;
  }
};

}  // namespace rotor
