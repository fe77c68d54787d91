// server/request_common.h — parsing of the fields both endpoints share (internal to the
// request parsers).
#pragma once
#include "server/json_fields.h"
#include "server/request.h"

namespace rotor::server {

enum class RequestApi { Chat, Completion, Responses };

// 400 naming the first OpenAI / vLLM field of `body` that rotor knows and does not implement
// (unsupported_fields.cpp); unknown fields pass.
void reject_unsupported_fields(const json& body, RequestApi api);

// Sampling, limits, stop conditions, n and streaming options; vLLM's allowed_token_ids,
// bad_words, truncate_prompt_tokens, priority, prompt_logprobs, request_id. zero_max_tokens:
// max_tokens may be 0 (completions' echo). max_tokens_field is
// "max_tokens" (completions) or "max_completion_tokens" (chat, which also takes max_tokens).
GenerationOptions parse_generation_options(const json& body, const SamplingDefaults& defaults,
                                           const RequestLimits& limits, bool zero_max_tokens = false);

// The structured-output fields (response_format, guided_json / guided_regex / guided_choice /
// guided_grammar, structured_outputs); at most one may constrain (400 otherwise).
StructuredSpec parse_structured(const json& body);
// 400 for options a constraint cannot honour: min_tokens (eos is masked while the grammar
// may be complete and allow only eos).
void check_structured(const GenerationOptions& g);

// A list of token ids (400 on non-integers, negatives and ids outside the vocabulary).
std::vector<int32_t> parse_token_ids(const json& v, std::string_view name, const RequestLimits& limits);

}  // namespace rotor::server
