// server/unsupported_fields.cpp — the OpenAI and vLLM request fields rotor knows and does not
// implement: a request that uses one (with a value that asks for something) gets a 400 naming
// it, never silence. Fields no one has defined are ignored, as OpenAI's servers do. The
// README lists the same set.
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/request_common.h"

namespace rotor::server {
namespace {

enum : unsigned { kChat = 1, kCompletion = 2, kResponses = 4, kGenerate = kChat | kCompletion };

// When a present, non-null field asks for something rotor does not do.
enum class When { Present, True, NotEmpty, NotOne, NotText };

struct Unsupported {
  const char* name;
  unsigned apis;
  When when;
  const char* why;
};

constexpr Unsupported kFields[] = {
    {"logit_bias", kGenerate, When::NotEmpty, "no logit biases (allowed_token_ids and bad_words restrict sampling)"},
    {"guided_decoding_backend", kGenerate, When::Present, "structured outputs have one backend, rotor's own"},
    {"guided_whitespace_pattern", kGenerate, When::Present, "JSON grammars allow JSON's own whitespace"},
    {"structural_tag", kGenerate, When::Present, "no structural tags"},
    {"use_beam_search", kGenerate, When::True, "no beam search"},
    {"length_penalty", kGenerate, When::NotOne, "it applies to beam search, which rotor does not do"},
    {"logits_processors", kGenerate, When::Present, "no custom logits processors"},
    {"cache_salt", kGenerate | kResponses, When::Present, "the prefix cache is shared and not salted"},
    {"kv_transfer_params", kGenerate, When::Present, "no disaggregated prefill"},
    {"vllm_xargs", kGenerate, When::Present, "no custom request extensions"},
    {"return_token_ids", kGenerate, When::True, "token ids come back only as log-prob tokens (logprobs with "
                                                "return_tokens_as_token_ids)"},
    {"mm_processor_kwargs", kChat | kResponses, When::Present, "this model takes text only"},
    {"prompt_embeds", kCompletion, When::Present, "prompts are text or token ids"},
    {"functions", kChat, When::Present, "the deprecated function-calling fields: use tools"},
    {"function_call", kChat, When::Present, "the deprecated function-calling fields: use tool_choice"},
    {"audio", kChat, When::Present, "this model takes and gives text only"},
    {"modalities", kChat, When::NotText, "this model gives text only"},
    {"prediction", kChat, When::Present, "no predicted outputs"},
    {"web_search_options", kChat, When::Present, "no web search"},
    {"verbosity", kChat, When::Present, "no verbosity control"},
    {"reasoning_effort", kChat, When::Present, "Qwen3 thinks or not: chat_template_kwargs {\"enable_thinking\": false}"},
    {"reasoning", kResponses, When::Present, "Qwen3 thinks or not: there is no effort to set"},
    {"background", kResponses, When::True, "responses are not stored (no background mode)"},
    {"previous_response_id", kResponses, When::Present, "responses are not stored: send the conversation as input"},
    {"conversation", kResponses, When::Present, "responses are not stored: send the conversation as input"},
    {"prompt", kResponses, When::Present, "no prompt templates"},
    {"max_tool_calls", kResponses, When::Present, "no built-in tools"},
};

bool asks(const json& v, When when) {
  switch (when) {
    case When::Present: return true;
    case When::True: return !(v.is_boolean() && !v.get<bool>());
    case When::NotEmpty: return !((v.is_object() || v.is_array()) && v.empty());
    case When::NotOne: return !(v.is_number() && v.get<double>() == 1.0);
    case When::NotText: return !(v.is_array() && v.size() == 1 && v[0] == "text");
  }
  return true;
}

}  // namespace

void reject_unsupported_fields(const json& body, RequestApi api) {
  const unsigned bit = api == RequestApi::Chat ? kChat : api == RequestApi::Completion ? kCompletion : kResponses;
  for (const Unsupported& f : kFields) {
    if (!(f.apis & bit)) continue;
    const json* v = find_field(body, f.name);
    if (v && asks(*v, f.when)) bad_request(fmt::format("'{}' is not supported: {}", f.name, f.why), f.name);
  }
}

}  // namespace rotor::server
