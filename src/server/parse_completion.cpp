// server/parse_completion.cpp — /v1/completions bodies: the prompt as a string, token ids,
// or a list of either; echo (with max_tokens 0: the prompt alone); logprobs.
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/request_common.h"

namespace rotor::server {
namespace {

std::vector<CompletionPrompt> parse_prompts(const json& body, const RequestLimits& limits) {
  const json* p = find_field(body, "prompt");
  if (!p) bad_request("'prompt' is required", "prompt");
  std::vector<CompletionPrompt> out;
  auto one = [&](const json& v) {
    CompletionPrompt cp;
    if (v.is_string()) {
      cp.text = v.get<std::string>();
    } else {
      cp.ids = parse_token_ids(v, "prompt", limits);
      if (cp.ids.empty()) bad_request("'prompt' must not be empty", "prompt");
    }
    out.push_back(std::move(cp));
  };
  if (p->is_string()) {
    one(*p);
  } else if (!p->is_array()) {
    bad_request("'prompt' must be a string, a list of token ids, or a list of either", "prompt");
  } else if (p->empty()) {
    bad_request("'prompt' must not be empty", "prompt");
  } else if ((*p)[0].is_number()) {
    one(*p);
  } else {
    if (p->size() > static_cast<size_t>(limits.max_prompts))
      bad_request(fmt::format("'prompt' is a list of {} prompts; at most {} per request", p->size(), limits.max_prompts),
                  "prompt");
    for (const json& v : *p) {
      if (!v.is_string() && !v.is_array())
        bad_request("'prompt' must be a string, a list of token ids, or a list of either", "prompt");
      one(v);
    }
  }
  return out;
}

}  // namespace

CompletionRequest parse_completion_request(const json& body, const SamplingDefaults& defaults,
                                           const RequestLimits& limits) {
  reject_unsupported_fields(body, RequestApi::Completion);
  CompletionRequest r;
  r.model = opt_string(body, "model");
  r.prompts = parse_prompts(body, limits);
  r.echo = opt_bool(body, "echo").value_or(false);
  if (const auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty())
    bad_request("'suffix' is not supported", "suffix");
  // vLLM: echo with max_tokens 0 returns the prompt (with its log-probs) and generates nothing.
  r.echo_only = r.echo && opt_int(body, "max_tokens") == 0;
  r.gen = parse_generation_options(body, defaults, limits, r.echo_only);
  const int64_t choices = static_cast<int64_t>(r.prompts.size()) * r.gen.n;
  if (choices > limits.max_prompts)
    bad_request(fmt::format("{} prompts with n = {} make {} choices; at most {} per request", r.prompts.size(), r.gen.n,
                            choices, limits.max_prompts),
                "prompt");
  if (const auto lp = opt_int(body, "logprobs")) {
    check_range("logprobs", static_cast<double>(*lp), 0, limits.max_logprobs);
    r.gen.logprobs = static_cast<int>(*lp);
  }
  // echo with logprobs: the prompt's tokens get log-probs too (vLLM's prompt_logprobs = logprobs).
  if (r.echo && r.gen.logprobs && !r.gen.prompt_logprobs) r.gen.prompt_logprobs = r.gen.logprobs;
  return r;
}

}  // namespace rotor::server
