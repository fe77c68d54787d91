// server/responses.cpp — shared pieces of response bodies.
#include "server/responses.h"

#include <chrono>
#include <cmath>
#include <random>

#include <fmt/format.h>

namespace rotor::server {
namespace {

// vLLM's stand-in for -inf (JSON has no infinities).
double finite_logprob(float lp) { return std::isfinite(lp) ? lp : -9999.0; }

int code_points(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

json bytes_of(std::string_view s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

std::string token_text(const Tokenizer& t, int32_t id, bool as_id) {
  return as_id ? fmt::format("token_id:{}", id) : t.decode(std::span<const int32_t>(&id, 1), false);
}

}  // namespace

std::string random_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:016x}", prefix, rng(), rng());
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"completion_tokens", completion_tokens}};
}

json chat_logprobs_json(const Tokenizer& tokenizer, const std::vector<TokenLogprobs>& lps, int top_n, bool as_ids) {
  json content = json::array();
  for (const TokenLogprobs& lp : lps) {
    json top = json::array();
    for (size_t k = 0; k < lp.top_ids.size() && static_cast<int>(k) < top_n; ++k)
      top.push_back({{"token", token_text(tokenizer, lp.top_ids[k], as_ids)},
                     {"logprob", finite_logprob(lp.top_logprobs[k])},
                     {"bytes", bytes_of(tokenizer.token_bytes(lp.top_ids[k]))}});
    content.push_back({{"token", token_text(tokenizer, lp.token, as_ids)},
                       {"logprob", finite_logprob(lp.logprob)},
                       {"bytes", bytes_of(tokenizer.token_bytes(lp.token))},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

json completion_logprobs_json(const Tokenizer& tokenizer, const std::vector<TokenLogprobs>& lps, int top_n, bool as_ids,
                              int* offset) {
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
  for (const TokenLogprobs& lp : lps) {
    const std::string text = token_text(tokenizer, lp.token, as_ids);
    tokens.push_back(text);
    token_logprobs.push_back(finite_logprob(lp.logprob));
    json top = json::object();
    for (size_t k = 0; k < lp.top_ids.size() && static_cast<int>(k) < top_n; ++k)
      top[token_text(tokenizer, lp.top_ids[k], as_ids)] = finite_logprob(lp.top_logprobs[k]);
    top_logprobs.push_back(std::move(top));
    offsets.push_back(*offset);
    *offset += code_points(as_ids ? token_text(tokenizer, lp.token, false) : text);
  }
  return {{"text_offset", std::move(offsets)},
          {"token_logprobs", std::move(token_logprobs)},
          {"tokens", std::move(tokens)},
          {"top_logprobs", std::move(top_logprobs)}};
}

json echo_logprobs_json(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                        const std::vector<TokenLogprobs>& prompt_lps, int top_n, bool as_ids, int* offset) {
  json out = completion_logprobs_json(tokenizer, {}, top_n, as_ids, offset);
  if (prompt.empty()) return out;
  const std::string first = token_text(tokenizer, prompt[0], as_ids);
  out["text_offset"].push_back(*offset);
  out["token_logprobs"].push_back(nullptr);
  out["tokens"].push_back(first);
  out["top_logprobs"].push_back(nullptr);
  *offset += code_points(as_ids ? token_text(tokenizer, prompt[0], false) : first);
  append_completion_logprobs(out, completion_logprobs_json(tokenizer, prompt_lps, top_n, as_ids, offset));
  return out;
}

json prompt_logprobs_json(const Tokenizer& tokenizer, const std::vector<TokenLogprobs>& prompt_lps) {
  json out = json::array({nullptr});
  for (const TokenLogprobs& lp : prompt_lps) {
    json entry = json::object();
    auto add = [&](int32_t id, float logprob, int rank) {
      const std::string key = std::to_string(id);
      if (entry.contains(key)) return;
      entry[key] = {{"logprob", finite_logprob(logprob)},
                    {"rank", rank},
                    {"decoded_token", token_text(tokenizer, id, false)}};
    };
    add(lp.token, lp.logprob, lp.rank);
    for (size_t k = 0; k < lp.top_ids.size(); ++k) add(lp.top_ids[k], lp.top_logprobs[k], static_cast<int>(k) + 1);
    out.push_back(std::move(entry));
  }
  return out;
}

void append_completion_logprobs(json& a, const json& b) {
  for (const char* key : {"text_offset", "token_logprobs", "tokens", "top_logprobs"})
    for (const json& v : b[key]) a[key].push_back(v);
}

json tool_calls_json(const std::vector<ToolCall>& calls, int first) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i)
    out.push_back({{"index", first + static_cast<int>(i)},
                   {"id", calls[i].id},
                   {"type", "function"},
                   {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}});
  return out;
}

std::string sse_event(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

}  // namespace rotor::server
