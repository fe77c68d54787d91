// server/choice_stream.h — one choice of a response, from the engine's token deltas to text
// deltas: each token through the incremental detokenizer and the stop strings (a stop string
// ends the choice at the token that completes it; later tokens are neither emitted nor
// counted), then for chat the Qwen3 reasoning and tool-call parsers; the prompt's log-probs
// pass through. Streaming and non-streaming responses are both built from these deltas.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/request_output.h"
#include "server/json.h"
#include "server/reasoning_parser.h"
#include "server/stop_matcher.h"
#include "server/tool_parser.h"
#include "tokenizer/detokenizer.h"

namespace rotor::server {

struct ChoiceOptions {
  std::vector<std::string> stop;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  int min_tokens = 0;                 // stop strings apply from this many output tokens on
  bool parse_reasoning = false;       // --reasoning-parser qwen3
  bool prompt_opened_think = false;   // the prompt ends inside <think>
  bool parse_tool_calls = false;      // the request has tools (tool_choice auto)
  bool single_tool_call = false;      // parallel_tool_calls false: calls after the first are dropped
  bool echo_only = false;             // completions' echo with max_tokens 0: the output is dropped
};

struct ChoiceDelta {
  std::string content;                // chat content, or the completion text
  std::string reasoning;              // chat reasoning_content
  std::vector<ToolCall> tool_calls;
  std::vector<TokenLogprobs> logprobs;  // of the tokens this delta counted
  std::vector<TokenLogprobs> prompt_logprobs;  // of prompt tokens from the second (prompt_logprobs asked)
  bool finished = false;
  std::string finish_reason;          // stop | length | tool_calls | abort | error (when finished)
  json stop_reason;                   // the stop string or stop token id, else null
  std::string error;                  // finish_reason error: what failed

  bool empty() const {
    return content.empty() && reasoning.empty() && tool_calls.empty() && logprobs.empty() && prompt_logprobs.empty() &&
           !finished;
  }
};

class ChoiceStream {
 public:
  ChoiceStream(const Tokenizer& tokenizer, ChoiceOptions options);

  ChoiceDelta push(const RequestOutput& out);
  bool finished() const { return finished_; }
  // The engine request must be aborted: a stop string ended the choice first.
  bool stopped_by_string() const { return stop_.stopped(); }

  int num_prompt_tokens() const { return num_prompt_tokens_; }
  int num_output_tokens() const { return num_output_tokens_; }
  int num_cached_tokens() const { return num_cached_tokens_; }
  // Output tokens inside the think block (<think> and </think> included; parse_reasoning only).
  int num_reasoning_tokens() const { return num_reasoning_tokens_; }
  int num_tool_calls() const { return tools_.num_calls(); }

 private:
  // Runs emitted text through the reasoning and tool parsers into d.
  void route(std::string text, ChoiceDelta& d, bool final);
  void count_reasoning(int32_t token);

  ChoiceOptions opt_;
  IncrementalDetokenizer detok_;
  StopMatcher stop_;
  std::optional<ReasoningParser> reasoning_;
  ToolCallParser tools_;
  bool finished_ = false;
  int num_prompt_tokens_ = 0, num_output_tokens_ = 0, num_cached_tokens_ = 0;
  int num_calls_kept_ = 0;
  int num_reasoning_tokens_ = 0;
  bool in_think_ = false;                 // the output so far is inside <think>
  std::optional<int32_t> think_start_, think_end_;
};

}  // namespace rotor::server
