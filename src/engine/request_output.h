// engine/request_output.h — what a request's stream yields: the tokens generated since the
// previous read (several steps merge when the reader is slower than the engine), their
// log-probs, and at the end the finish reason, usage counts and timestamps.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/scheduler/scheduler_output.h"

namespace rotor {

using Clock = std::chrono::steady_clock;

// When things happened to a request (steady clock; unset = not yet).
struct RequestTimes {
  Clock::time_point arrival;                      // submit()
  std::optional<Clock::time_point> first_scheduled;
  std::optional<Clock::time_point> first_token;   // TTFT = first_token - arrival
  std::optional<Clock::time_point> last_token;
  std::optional<Clock::time_point> finished;      // E2E = finished - arrival
};

struct RequestOutput {
  uint64_t request_id = 0;
  std::vector<int32_t> token_ids;           // new tokens since the previous read (eos/stop id included)
  std::vector<TokenLogprobs> logprobs;      // one per new token when params.logprobs is set
  std::vector<int32_t> prompt_argmax;       // EngineRequest::prompt_argmax: new positions, in order
  // params.prompt_logprobs: of prompt tokens from the second on (the first has none), new ones in order.
  std::vector<TokenLogprobs> prompt_logprobs;
  bool finished = false;                    // the last output of the stream
  FinishReason finish_reason = FinishReason::None;
  std::optional<int32_t> stop_token_id;     // the stop_token_ids entry that ended it
  std::string error;                        // FinishReason::Error: what failed
  // Usage so far.
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;                // all tokens generated so far (not only this delta)
  int num_cached_tokens = 0;                // prompt tokens served from the prefix cache
  RequestTimes times;
};

}  // namespace rotor
