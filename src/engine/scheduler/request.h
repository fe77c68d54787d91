// engine/scheduler/request.h — a request as the scheduler tracks it: its tokens (prompt, then
// outputs), how many are in the KV cache and how many of those steps in flight still write, how
// many were sampled by steps still in flight (placeholders), and its status. No phases: "there is
// no decoding phase nor prefill phase; each request just has num_computed_tokens and num_tokens"
// (vLLM v1). With the prefill lane a request computes its prompt there (Prefilling) before it runs
// in the decode lane, or, while the backlog is long, in decode steps.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/sampling_params.h"
#include "engine/scheduler/scheduler_output.h"

namespace rotor {

enum class RequestStatus : uint8_t { Waiting, Prefilling, Running, Preempted, Finished };

struct Request {
  uint64_t id = 0;
  std::vector<int32_t> tokens;        // prompt, then the outputs known so far
  int num_prompt_tokens = 0;
  SamplingParams params;
  int max_tokens = 0;                 // resolved (params.max_tokens or up to max_model_len)
  uint64_t seed = 0;
  bool prompt_argmax = false;         // never reads the prefix cache
  int priority = 0;                   // --scheduling-policy priority: lower is served first
  std::shared_ptr<TokenConstraint> constraint;  // structured outputs (the runner feeds and asks it)

  RequestStatus status = RequestStatus::Waiting;
  FinishReason finish_reason = FinishReason::None;
  int num_computed_tokens = 0;        // in the KV cache, or being computed by a scheduled step
  int num_placeholders = 0;           // tokens sampled by scheduled steps, not reported yet
  int num_tokens_in_flight = 0;       // computed by steps or chunks not reported yet (old ones too)
  int num_sent_tokens = 0;            // tokens the runner holding it has been given (0: it holds none)
  int num_cached_tokens = -1;         // prefix-cache hit at first admission (-1: not admitted)
  int num_prompt_argmax = 0;          // prompt positions whose argmax was reported
  int num_prompt_logprobs = 0;        // prompt tokens (from the second) whose log-prob was reported
  int num_preemptions = 0;

  int num_tokens() const { return static_cast<int>(tokens.size()); }
  int num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  int num_tokens_with_placeholders() const { return num_tokens() + num_placeholders; }
  // Context tokens whose KV every step writing it has reported (fewer while a step from before a
  // preemption is in flight).
  int num_written_tokens() const { return std::clamp(num_computed_tokens - num_tokens_in_flight, 0, num_tokens()); }
  bool finished() const { return status == RequestStatus::Finished; }
  // Computes every prompt position (prompt argmax or log-probs): the prefix cache is not read.
  bool computes_whole_prompt() const { return prompt_argmax || params.prompt_logprobs.has_value(); }
};

}  // namespace rotor
