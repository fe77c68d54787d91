// server/request.h — the parsed, validated form of /v1/chat/completions, /v1/completions and
// /v1/responses bodies (plain data; the engine request is built from it once the prompt is
// tokenized).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/json_fields.h"

namespace rotor::server {

// Defaults for fields a request leaves out: OpenAI/vLLM defaults, overridden by the model's
// generation_config.json as vLLM does (`--generation-config auto`).
struct SamplingDefaults {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  bool return_tokens_as_token_ids = false;  // --return-tokens-as-token-ids (a request may say otherwise)

  static SamplingDefaults from_generation_config(const json& generation_config);
};

// Structured outputs: the constraint a request's outputs must follow (vLLM 0.11's
// response_format / guided_* / structured_outputs fields, or tool_choice required / named).
struct StructuredSpec {
  enum class Kind { None, JsonSchema, JsonObject, Regex, Choice, Grammar, ToolCalls };
  Kind kind = Kind::None;
  std::string text;                        // the JSON schema, the regex or the EBNF grammar
  std::vector<std::string> choices;        // Choice
  std::vector<std::pair<std::string, std::string>> tools;  // ToolCalls: (name, parameters JSON or "")
  bool several = false;                    // ToolCalls: one or more calls (required) or exactly one (named)
  std::string field;                       // the request field it came from (400s name it)
  // A text that identifies the constraint (the compiled-grammar cache key).
  std::string key() const;
};

// Fields shared by both endpoints.
struct GenerationOptions {
  float temperature = 1.0f;               // 0 = greedy
  float top_p = 1.0f;                     // (0, 1]
  int top_k = 0;                          // 0 or -1 = off
  float min_p = 0.0f;                     // [0, 1]
  float presence_penalty = 0.0f;          // [-2, 2]
  float frequency_penalty = 0.0f;         // [-2, 2]
  float repetition_penalty = 1.0f;        // > 0
  std::optional<int64_t> seed;
  std::optional<int> max_tokens;          // absent: up to the context length
  std::string max_tokens_field = "max_tokens";  // the field it came from (max_completion_tokens on chat)
  int min_tokens = 0;
  bool ignore_eos = false;
  std::vector<std::string> stop;          // stop strings (matched on text, never emitted)
  std::vector<int32_t> stop_token_ids;    // vLLM extra
  bool include_stop_str_in_output = false;  // vLLM extra
  bool skip_special_tokens = true;        // vLLM extra
  std::optional<int> logprobs;            // top alternatives per token (0 = the chosen token only)
  std::optional<int> prompt_logprobs;     // vLLM extra: log-probs of the prompt, N best per position
  bool return_tokens_as_token_ids = false;  // vLLM extra: logprob tokens as "token_id:N"
  std::vector<int32_t> allowed_token_ids;  // vLLM extra: only these may be sampled
  std::vector<std::string> bad_words;     // vLLM extra: words the output may not contain
  std::optional<int64_t> truncate_prompt_tokens;  // vLLM extra: keep the prompt's last N tokens (-1: max_model_len)
  int priority = 0;                       // vLLM extra: with --scheduling-policy priority, lower first
  std::string request_id;                 // vLLM extra: the response id's suffix (else random)
  int n = 1;
  bool stream = false;
  bool include_usage = false;             // stream_options.include_usage
  bool continuous_usage_stats = false;    // stream_options.continuous_usage_stats (vLLM)
  StructuredSpec structured;
};

struct ChatRequest {
  std::optional<std::string> model;
  json messages;  // normalised: content is always a string
  json tools;     // null or array of {"type":"function","function":{...}}
  bool parse_tool_calls = false;          // tools given and tool_choice is not "none"
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  json chat_template_kwargs = json::object();
  bool include_reasoning = true;          // false: reasoning_content is dropped
  bool parallel_tool_calls = true;        // false: at most one tool call
  bool echo = false;                      // vLLM extra: the reply starts with the last message when it is the assistant's
  GenerationOptions gen;
};

// One prompt of a completion request: text or token ids.
struct CompletionPrompt {
  std::optional<std::string> text;
  std::vector<int32_t> ids;               // when given as ids
};

struct CompletionRequest {
  std::optional<std::string> model;
  std::vector<CompletionPrompt> prompts;  // a list of prompts gives a choice per prompt
  bool echo = false;
  bool echo_only = false;                 // echo with max_tokens 0: nothing is generated
  std::string suffix;
  GenerationOptions gen;
};

// A /v1/responses body (OpenAI's Responses API): the chat request it amounts to (messages from
// instructions and input items, function tools), and what the response object repeats back.
struct ResponsesRequest {
  ChatRequest chat;
  bool include_logprobs = false;          // include: ["message.output_text.logprobs"]
  json echo = json::object();             // instructions, tools, tool_choice, metadata, ... as given
};

// Limits the parser checks against.
struct RequestLimits {
  int max_logprobs = 20;
  int max_n = 1;                          // n above this is a 400
  int max_prompts = 256;                  // prompts (times n) in one completions request
  int vocab_size = 0;                     // > 0: token ids are checked against it
};

// Both throw ApiError (400) for malformed or out-of-range fields, and for OpenAI and vLLM
// fields rotor does not implement (naming them); unknown fields are ignored.
ChatRequest parse_chat_request(const json& body, const SamplingDefaults& defaults, const RequestLimits& limits);
CompletionRequest parse_completion_request(const json& body, const SamplingDefaults& defaults,
                                           const RequestLimits& limits);
ResponsesRequest parse_responses_request(const json& body, const SamplingDefaults& defaults,
                                         const RequestLimits& limits);

// Parses a request body; 400 for malformed JSON, a non-object or a body nested too deeply.
json parse_body(const std::string& body);

}  // namespace rotor::server
