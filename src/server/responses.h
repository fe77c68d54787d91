// server/responses.h — pieces of OpenAI response bodies shared by the endpoints: ids, usage,
// log-probabilities (chat and completions shapes, echoed prompts, vLLM's prompt_logprobs),
// tool calls, SSE events.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/token_logprobs.h"
#include "server/json.h"
#include "server/tool_parser.h"
#include "tokenizer/tokenizer.h"

namespace rotor::server {

// prefix + 32 random hex digits ("chatcmpl-…", "cmpl-…").
std::string random_id(std::string_view prefix);
int64_t unix_seconds();

json usage_json(int prompt_tokens, int completion_tokens);

// {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]}
// as_ids: tokens as "token_id:N" (vLLM's return_tokens_as_token_ids).
json chat_logprobs_json(const Tokenizer& tokenizer, const std::vector<TokenLogprobs>& lps, int top_n, bool as_ids);
// {"tokens", "token_logprobs", "top_logprobs", "text_offset"}; *offset advances by each
// token's text length (code points), as vLLM counts it.
json completion_logprobs_json(const Tokenizer& tokenizer, const std::vector<TokenLogprobs>& lps, int top_n, bool as_ids,
                              int* offset);
// The completion logprobs object of an echoed prompt: its first token has no log-prob (null
// entries), the others those of `prompt_lps` (one per token from the second).
json echo_logprobs_json(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                        const std::vector<TokenLogprobs>& prompt_lps, int top_n, bool as_ids, int* offset);
// Appends b's lists to a (both completion logprobs objects).
void append_completion_logprobs(json& a, const json& b);
// vLLM's prompt_logprobs: [null, {"<id>": {"logprob", "rank", "decoded_token"}, ...}, ...], the
// prompt token first, then the best ones.
json prompt_logprobs_json(const Tokenizer& tokenizer, const std::vector<TokenLogprobs>& prompt_lps);

// [{"index", "id", "type": "function", "function": {"name", "arguments"}}], indices from `first`.
json tool_calls_json(const std::vector<ToolCall>& calls, int first);

// One server-sent event: "data: <json>\n\n".
std::string sse_event(const json& j);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace rotor::server
