// server/request_common.cpp — the request body, and the fields chat and completion requests
// share: sampling parameters, lengths, stop conditions, n, streaming options. Ranges follow
// vLLM's SamplingParams checks.
#include "server/request_common.h"

#include <fmt/format.h>

#include "server/api_error.h"
#include "server/json_fields.h"

namespace rotor::server {
namespace {

std::vector<std::string> parse_stop(const json& body) {
  const json* v = find_field(body, "stop");
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    if (!v->get_ref<const std::string&>().empty()) out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) bad_request("'stop' must be a string or a list of strings", "stop");
  for (const json& s : *v) {
    if (!s.is_string()) bad_request("'stop' must be a string or a list of strings", "stop");
    if (!s.get_ref<const std::string&>().empty()) out.push_back(s.get<std::string>());
  }
  return out;
}

// nlohmann's message for malformed JSON quotes the token it stopped in ("last read: '...'"),
// which can be most of the body (a string never closed): its first 40 bytes are kept.
std::string malformed_json_message(const json::exception& e) {
  std::string m = e.what();
  constexpr std::string_view kOpen = "; last read: '";
  const size_t open = m.find(kOpen);
  if (open == std::string::npos) return m;
  const size_t start = open + kOpen.size();
  const size_t expected = m.rfind("'; expected ");
  const size_t end = expected != std::string::npos && expected >= start ? expected : m.size() - 1;
  if (end > start + 40) m.replace(start + 40, end - start - 40, "...");
  return m;
}

}  // namespace

SamplingDefaults SamplingDefaults::from_generation_config(const json& g) {
  SamplingDefaults d;
  if (!g.is_object()) return d;
  auto num = [&](const char* k, auto& field) {
    const auto it = g.find(k);
    if (it != g.end() && it->is_number()) field = it->get<std::remove_reference_t<decltype(field)>>();
  };
  num("temperature", d.temperature);
  num("top_p", d.top_p);
  num("top_k", d.top_k);
  num("min_p", d.min_p);
  num("repetition_penalty", d.repetition_penalty);
  return d;
}

json parse_body(const std::string& body) {
  std::optional<json> j;
  try {
    j = parse_json_within(body, kMaxJsonDepth);
  } catch (const json::exception& e) {
    bad_request("malformed JSON: " + malformed_json_message(e));
  }
  if (!j) bad_request(fmt::format("the request body is nested deeper than {} levels", kMaxJsonDepth));
  if (!j->is_object()) bad_request(fmt::format("the request body must be a JSON object (got {})", j->type_name()));
  return std::move(*j);
}

std::vector<int32_t> parse_token_ids(const json& v, std::string_view name, const RequestLimits& limits) {
  if (!v.is_array()) bad_request(fmt::format("'{}' must be a list of token ids", name), std::string(name));
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (const json& x : v) {
    if (!x.is_number_integer())
      bad_request(fmt::format("'{}' must be a list of integer token ids (found {})", name, x.type_name()), std::string(name));
    const bool negative = x.is_number_integer() && !x.is_number_unsigned() && x.get<int64_t>() < 0;
    const uint64_t id = negative ? 0 : x.get<uint64_t>();
    const uint64_t limit = limits.vocab_size > 0 ? static_cast<uint64_t>(limits.vocab_size) : uint64_t{INT32_MAX};
    if (negative || id >= limit)
      bad_request(fmt::format("'{}': token id {} is outside the vocabulary (0 to {})", name, x.dump(), limit - 1),
                  std::string(name));
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

GenerationOptions parse_generation_options(const json& body, const SamplingDefaults& d, const RequestLimits& limits,
                                           bool zero_max_tokens) {
  GenerationOptions g;
  g.temperature = opt_float(body, "temperature").value_or(d.temperature);
  check_min("temperature", g.temperature, 0.0);
  g.top_p = opt_float(body, "top_p").value_or(d.top_p);
  if (!(g.top_p > 0.0f && g.top_p <= 1.0f))
    bad_request(fmt::format("'top_p' must be in (0, 1] (got {})", g.top_p), "top_p");
  const int64_t top_k = opt_int(body, "top_k").value_or(d.top_k);
  if (top_k < -1 || top_k > INT32_MAX)
    bad_request(fmt::format("'top_k' must be -1 or 0 (off) or a positive integer (got {})", top_k), "top_k");
  g.top_k = top_k < 0 ? 0 : static_cast<int>(top_k);
  g.min_p = opt_float(body, "min_p").value_or(d.min_p);
  check_range("min_p", g.min_p, 0.0, 1.0);
  g.presence_penalty = opt_float(body, "presence_penalty").value_or(0.0f);
  check_range("presence_penalty", g.presence_penalty, -2.0, 2.0);
  g.frequency_penalty = opt_float(body, "frequency_penalty").value_or(0.0f);
  check_range("frequency_penalty", g.frequency_penalty, -2.0, 2.0);
  g.repetition_penalty = opt_float(body, "repetition_penalty").value_or(d.repetition_penalty);
  if (!(g.repetition_penalty > 0.0f))
    bad_request(fmt::format("'repetition_penalty' must be greater than 0 (got {})", g.repetition_penalty),
                "repetition_penalty");
  g.seed = opt_int(body, "seed");

  // Chat prefers max_completion_tokens; both endpoints take max_tokens (read either way: a
  // value of the wrong type is refused even when the other field wins).
  const std::optional<int64_t> completion_max = opt_int(body, "max_completion_tokens");
  const std::optional<int64_t> plain_max = opt_int(body, "max_tokens");
  const std::optional<int64_t> max_tokens = completion_max ? completion_max : plain_max;
  const char* max_name = completion_max ? "max_completion_tokens" : "max_tokens";
  if (max_tokens) {
    const int64_t least = zero_max_tokens ? 0 : 1;
    if (*max_tokens < least || *max_tokens > INT32_MAX)
      bad_request(fmt::format("'{}' must be between 1 and {} (got {}){}", max_name, INT32_MAX, *max_tokens,
                              *max_tokens == 0 ? "; 0 only with echo, on /v1/completions" : ""),
                  max_name);
    g.max_tokens = static_cast<int>(*max_tokens);
    g.max_tokens_field = max_name;
  }
  const int64_t min_tokens = opt_int(body, "min_tokens").value_or(0);
  if (min_tokens < 0 || min_tokens > INT32_MAX)
    bad_request(fmt::format("'min_tokens' must be at least 0 (got {})", min_tokens), "min_tokens");
  if (g.max_tokens && min_tokens > *g.max_tokens)
    bad_request(fmt::format("'min_tokens' ({}) must not exceed '{}' ({})", min_tokens, max_name, *g.max_tokens),
                "min_tokens");
  g.min_tokens = static_cast<int>(min_tokens);
  g.ignore_eos = opt_bool(body, "ignore_eos").value_or(false);
  g.stop = parse_stop(body);
  if (const json* ids = find_field(body, "stop_token_ids"))
    g.stop_token_ids = parse_token_ids(*ids, "stop_token_ids", limits);
  g.include_stop_str_in_output = opt_bool(body, "include_stop_str_in_output").value_or(false);
  g.skip_special_tokens = opt_bool(body, "skip_special_tokens").value_or(true);
  g.return_tokens_as_token_ids =
      opt_bool(body, "return_tokens_as_token_ids").value_or(d.return_tokens_as_token_ids);

  const int64_t n = opt_int(body, "n").value_or(1);
  if (n < 1) bad_request(fmt::format("'n' must be at least 1 (got {})", n), "n");
  if (n > limits.max_n)
    bad_request(fmt::format("'n' = {} is not supported: at most {} choice(s) per request", n, limits.max_n), "n");
  g.n = static_cast<int>(n);
  if (const auto best_of = opt_int(body, "best_of"); best_of && *best_of != g.n)
    bad_request("'best_of' is not supported (it must equal n)", "best_of");

  g.stream = opt_bool(body, "stream").value_or(false);
  if (const json* so = opt_object(body, "stream_options")) {
    if (!g.stream) bad_request("'stream_options' can only be given when 'stream' is true", "stream_options");
    g.include_usage = opt_bool(*so, "include_usage").value_or(false);
    g.continuous_usage_stats = opt_bool(*so, "continuous_usage_stats").value_or(false);
  }

  if (const auto n = opt_int(body, "prompt_logprobs")) {
    check_range("prompt_logprobs", static_cast<double>(*n), 0, limits.max_logprobs);
    if (g.stream) bad_request("'prompt_logprobs' are not available when 'stream' is true", "prompt_logprobs");
    g.prompt_logprobs = static_cast<int>(*n);
  }
  if (const json* ids = find_field(body, "allowed_token_ids")) {
    g.allowed_token_ids = parse_token_ids(*ids, "allowed_token_ids", limits);
    if (g.allowed_token_ids.empty()) bad_request("'allowed_token_ids' must not be empty", "allowed_token_ids");
  }
  if (const json* words = find_field(body, "bad_words")) {
    if (!words->is_array()) bad_request("'bad_words' must be a list of strings", "bad_words");
    for (const json& w : *words) {
      if (!w.is_string()) bad_request("'bad_words' must be a list of strings", "bad_words");
      g.bad_words.push_back(w.get<std::string>());
    }
  }
  if (const auto t = opt_int(body, "truncate_prompt_tokens")) {
    if (*t < -1 || *t == 0)
      bad_request(fmt::format("'truncate_prompt_tokens' must be -1 (the model's context) or at least 1 (got {})", *t),
                  "truncate_prompt_tokens");
    g.truncate_prompt_tokens = *t;
  }
  if (const auto prio = opt_int(body, "priority")) {
    if (*prio < INT32_MIN || *prio > INT32_MAX) bad_request("'priority' must fit a 32-bit integer", "priority");
    g.priority = static_cast<int>(*prio);
  }
  g.request_id = opt_string(body, "request_id").value_or("");
  g.structured = parse_structured(body);
  check_structured(g);
  return g;
}

}  // namespace rotor::server
