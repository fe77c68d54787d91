// loadgen/openai_stream.cpp — request bodies and streamed-chunk parsing for the OpenAI API.
// A chunk "has output" exactly when evalscope's perf client counts it as a token arrival:
// non-empty content / reasoning_content / reasoning (chat), non-empty text (completions),
// or a tool-call fragment.
#include "loadgen/openai_stream.h"

#include <cctype>

#include "core/check.h"

namespace rotor::loadgen {

using nlohmann::json;

Endpoint parse_endpoint(std::string_view s) {
  if (s == "chat" || s == "/v1/chat/completions") return Endpoint::kChat;
  if (s == "completions" || s == "/v1/completions") return Endpoint::kCompletions;
  ROTOR_FAIL("--endpoint: '{}' is not chat or completions", s);
}

std::string endpoint_path(Endpoint e, std::string_view prefix) {
  std::string p(prefix);
  while (!p.empty() && p.back() == '/') p.pop_back();
  const bool has_v1 = p.size() >= 3 && p.compare(p.size() - 3, 3, "/v1") == 0;
  if (!has_v1) p += "/v1";
  return p + (e == Endpoint::kChat ? "/chat/completions" : "/completions");
}

std::string request_body(const RequestOptions& o, const Prompt& p) {
  json b;
  b["model"] = o.model;
  if (o.endpoint == Endpoint::kChat) {
    b["messages"] = p.messages.is_null() ? json::array({{{"role", "user"}, {"content", p.text}}}) : p.messages;
  } else {
    ROTOR_CHECK(p.messages.is_null(), "the completions endpoint takes text prompts, not chat messages");
    b["prompt"] = p.text;
  }
  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  const int max_tokens = p.max_tokens > 0 ? p.max_tokens : o.max_tokens;
  if (max_tokens > 0) b["max_tokens"] = max_tokens;
  if (o.ignore_eos) b["ignore_eos"] = true;
  if (o.temperature) b["temperature"] = *o.temperature;
  if (o.top_p) b["top_p"] = *o.top_p;
  if (o.top_k) b["top_k"] = *o.top_k;
  for (auto it = o.extra_body.begin(); it != o.extra_body.end(); ++it) b[it.key()] = it.value();
  return b.dump();
}

namespace {

std::string string_field(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t int_field(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

// The error message of {"error": {...}} / {"error": "..."} / {"object": "error", "message": ...}.
std::string error_message(const json& j) {
  auto it = j.find("error");
  if (it != j.end() && !it->is_null()) {
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
      std::string m = string_field(*it, "message");
      return m.empty() ? it->dump() : m;
    }
    return it->dump();
  }
  if (string_field(j, "object") == "error") {
    std::string m = string_field(j, "message");
    return m.empty() ? j.dump() : m;
  }
  return {};
}

}  // namespace

StreamChunk parse_stream_chunk(std::string_view data) {
  StreamChunk c;
  size_t b = 0, e = data.size();
  while (b < e && std::isspace(static_cast<unsigned char>(data[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(data[e - 1]))) --e;
  data = data.substr(b, e - b);
  if (data == "[DONE]") {
    c.done = true;
    return c;
  }
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return c;
  c.json = true;
  c.error = error_message(j);
  if (auto it = j.find("choices"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_object()) {
    const json& ch = (*it)[0];
    if (auto d = ch.find("delta"); d != ch.end() && d->is_object()) {
      std::string reasoning = string_field(*d, "reasoning_content");
      if (reasoning.empty()) reasoning = string_field(*d, "reasoning");
      c.text = string_field(*d, "content") + reasoning;
      c.has_output = !c.text.empty();
      if (auto tc = d->find("tool_calls"); !c.has_output && tc != d->end() && tc->is_array() && !tc->empty())
        c.has_output = true;
    } else {
      c.text = string_field(ch, "text");
      c.has_output = !c.text.empty();
    }
    c.finish_reason = string_field(ch, "finish_reason");
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    Usage usage;
    usage.prompt_tokens = int_field(*u, "prompt_tokens");
    usage.completion_tokens = int_field(*u, "completion_tokens");
    c.usage = usage;
  }
  return c;
}

}  // namespace rotor::loadgen
