// engine/scheduler/scheduler_output.h — the plain data that crosses the scheduler's boundary:
// SchedulerOutput (what one step computes; the same for every tensor-parallel rank), the
// runner's answer (sampled ids, log-probs) and the per-request updates the scheduler derives
// from it. No pointers into scheduler state, so each can be copied, queued or broadcast.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/sampling_params.h"
#include "core/token_constraint.h"
#include "core/token_logprobs.h"

namespace rotor {

enum class FinishReason : uint8_t {
  None,    // still running
  Stop,    // an eos id (unless ignore_eos) or one of stop_token_ids
  Length,  // max_tokens, or the context reached max_model_len
  Abort,   // cancelled by the client (or the engine shut down)
  Error,   // the engine failed while running it
};
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error", ""

// A request the runner does not hold yet: first scheduled, or resumed after preemption.
struct NewRequestData {
  uint64_t req_id = 0;
  std::vector<int32_t> token_ids;     // every known token: the prompt, then (resumed) outputs
  int num_prompt_tokens = 0;
  SamplingParams params;
  uint64_t seed = 0;                  // the request's random stream (hash(seed, counter, token))
  bool prompt_argmax = false;         // return the argmax after every prompt token computed
  std::shared_ptr<TokenConstraint> constraint;  // structured outputs: limits each sampled token
  std::vector<int32_t> block_ids;     // its whole block table
  int num_computed_tokens = 0;        // already in the KV cache (prefix-cache hit)
};

// A request the runner holds: only what changed.
struct CachedRequestData {
  uint64_t req_id = 0;
  std::vector<int32_t> new_token_ids;  // sampled tokens the runner has not been sent yet
  std::vector<int32_t> new_block_ids;  // appended to its block table
  int num_computed_tokens = 0;         // before this step
};

struct ScheduledRequest {
  uint64_t req_id = 0;
  int num_tokens = 0;                  // new tokens computed this step
  bool sample = false;                 // the chunk reaches the end: draw the next token
};

struct SchedulerOutput {
  uint64_t step = 0;
  std::vector<NewRequestData> new_requests;
  std::vector<CachedRequestData> cached_requests;
  std::vector<ScheduledRequest> scheduled;    // every request of the step, in batch order
  int total_num_tokens = 0;
  // Requests the runner must forget before this step (finished, aborted, or preempted:
  // a preempted request comes back later as a NewRequestData).
  std::vector<uint64_t> finished_req_ids;
  std::vector<uint64_t> preempted_req_ids;

  bool empty() const { return scheduled.empty() && finished_req_ids.empty() && preempted_req_ids.empty(); }
};

// The runner's answer for one scheduled request.
struct SampledToken {
  uint64_t req_id = 0;
  int32_t token = -1;                        // when it sampled
  std::optional<TokenLogprobs> logprobs;     // when params.logprobs is set
  int prompt_position = 0;                   // first prompt position of the chunk
  std::vector<int32_t> prompt_argmax;        // argmax after prompt tokens [prompt_position, ...)
  // Log-prob of prompt token p + 1 at each position p from prompt_position (params.prompt_logprobs).
  std::vector<TokenLogprobs> prompt_logprobs;
};

// One entry per SchedulerOutput::scheduled entry, in the same order.
struct RunnerOutput {
  std::vector<SampledToken> outputs;
};

// What a step changed for one request (the engine turns it into a RequestOutput).
struct RequestUpdate {
  uint64_t req_id = 0;
  std::vector<int32_t> new_token_ids;
  std::vector<TokenLogprobs> logprobs;       // one per new token when requested
  std::vector<int32_t> prompt_argmax;        // newly computed positions, in order
  std::vector<TokenLogprobs> prompt_logprobs;  // of the prompt's tokens from the second, newly computed, in order
  FinishReason finish_reason = FinishReason::None;
  std::optional<int32_t> stop_token_id;      // the stop_token_ids entry that finished it
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;
  int num_cached_tokens = 0;                 // prompt tokens served by the prefix cache
};

}  // namespace rotor
