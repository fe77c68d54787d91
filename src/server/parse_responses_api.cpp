// server/parse_responses_api.cpp — /v1/responses bodies (OpenAI's Responses API, as vLLM 0.11
// serves it, plus function tools): instructions and input items (messages, function calls and
// their outputs) become chat messages, function tools become chat tools, max_output_tokens,
// temperature, top_p, top_logprobs and include; the chat parser then checks the rest (vLLM's
// sampling extras are taken as on /v1/chat/completions).
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/request_common.h"

namespace rotor::server {
namespace {

// Text content: a string, or a list of input_text / output_text parts.
std::string text_of(const json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad_request(fmt::format("'{}' must be a string or a list of text parts", param), param);
  std::string text;
  for (const json& part : content) {
    const std::string type = part.is_object() ? opt_string(part, "type").value_or("") : "";
    if (type != "input_text" && type != "output_text" && type != "text")
      bad_request(
          fmt::format("'{}': part type {} is not supported (this model takes text only)", param, quote_value(type)),
          param);
    const auto t = opt_string(part, "text");
    if (!t) bad_request(fmt::format("'{}': a text part needs a 'text' string", param), param);
    text += *t;
  }
  return text;
}

json chat_messages(const json& body) {
  json msgs = json::array();
  if (const auto instructions = opt_string(body, "instructions"))
    msgs.push_back({{"role", "system"}, {"content", *instructions}});
  const json* input = find_field(body, "input");
  if (!input) bad_request("'input' is required", "input");
  if (input->is_string()) {
    msgs.push_back({{"role", "user"}, {"content", input->get<std::string>()}});
    return msgs;
  }
  if (!input->is_array() || input->empty()) bad_request("'input' must be a string or a non-empty list of items", "input");
  for (size_t i = 0; i < input->size(); ++i) {
    const json& item = (*input)[i];
    const std::string param = fmt::format("input[{}]", i);
    if (!item.is_object()) bad_request(fmt::format("'{}' must be an object", param), param);
    const std::string type = opt_string(item, "type").value_or(find_field(item, "role") ? "message" : "");
    if (type == "message") {
      const std::string role = opt_string(item, "role").value_or("");
      if (role != "user" && role != "system" && role != "developer" && role != "assistant")
        bad_request(fmt::format("'{}.role' must be user, system, developer or assistant", param), param);
      const json* content = find_field(item, "content");
      msgs.push_back({{"role", role}, {"content", content ? text_of(*content, param + ".content") : std::string()}});
    } else if (type == "function_call") {
      const auto call_id = opt_string(item, "call_id");
      const auto name = opt_string(item, "name");
      if (!call_id || !name) bad_request(fmt::format("'{}' needs call_id and name", param), param);
      json call = {{"id", *call_id},
                   {"type", "function"},
                   {"function", {{"name", *name}, {"arguments", opt_string(item, "arguments").value_or("{}")}}}};
      // Calls in a row are one assistant turn.
      if (!msgs.empty() && msgs.back()["role"] == "assistant" && msgs.back().contains("tool_calls"))
        msgs.back()["tool_calls"].push_back(std::move(call));
      else
        msgs.push_back({{"role", "assistant"}, {"content", ""}, {"tool_calls", json::array({std::move(call)})}});
    } else if (type == "function_call_output") {
      const auto call_id = opt_string(item, "call_id");
      const json* output = find_field(item, "output");
      if (!call_id || !output) bad_request(fmt::format("'{}' needs call_id and output", param), param);
      msgs.push_back({{"role", "tool"}, {"tool_call_id", *call_id}, {"content", text_of(*output, param + ".output")}});
    } else if (type == "reasoning") {
      continue;  // earlier reasoning: Qwen3's template leaves it out of earlier turns anyway
    } else {
      bad_request(fmt::format("'{}': input items of type {} are not supported (messages, function_call, "
                              "function_call_output and reasoning are)",
                              param, quote_value(type)),
                  param);
    }
  }
  return msgs;
}

json chat_tools(const json& tools) {
  if (!tools.is_array()) bad_request("'tools' must be a list", "tools");
  json out = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    if (!t.is_object() || opt_string(t, "type").value_or("") != "function")
      bad_request(fmt::format("'tools[{}]': only function tools are supported (no built-in tools)", i), "tools");
    const auto name = opt_string(t, "name");
    if (!name) bad_request(fmt::format("'tools[{}]' needs a name", i), "tools");
    json f = {{"name", *name}};
    if (const auto d = opt_string(t, "description")) f["description"] = *d;
    if (const json* p = opt_object(t, "parameters")) f["parameters"] = *p;
    out.push_back({{"type", "function"}, {"function", std::move(f)}});
  }
  return out;
}

// vLLM's sampling extras, taken as on /v1/chat/completions.
constexpr const char* kPassedThrough[] = {
    "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "seed", "stop",
    "stop_token_ids", "ignore_eos", "min_tokens", "skip_special_tokens", "include_stop_str_in_output",
    "allowed_token_ids", "bad_words", "truncate_prompt_tokens", "priority", "chat_template_kwargs",
    "return_tokens_as_token_ids", "logit_bias", "guided_json", "guided_regex", "guided_choice",
    "guided_grammar", "structured_outputs"};

}  // namespace

ResponsesRequest parse_responses_request(const json& body, const SamplingDefaults& defaults,
                                         const RequestLimits& limits) {
  reject_unsupported_fields(body, RequestApi::Responses);
  ResponsesRequest r;
  json chat = {{"messages", chat_messages(body)}};
  for (const char* key : kPassedThrough)
    if (const json* v = find_field(body, key)) chat[key] = *v;
  if (const auto model = find_field(body, "model")) chat["model"] = *model;
  if (const json* tools = find_field(body, "tools"); tools && !tools->empty()) chat["tools"] = chat_tools(*tools);
  if (const json* tc = find_field(body, "tool_choice")) {
    if (tc->is_object())
      chat["tool_choice"] = {{"type", "function"}, {"function", {{"name", opt_string(*tc, "name").value_or("")}}}};
    else
      chat["tool_choice"] = *tc;
  }
  if (const auto m = opt_int(body, "max_output_tokens")) {
    if (*m < 1 || *m > INT32_MAX)
      bad_request(fmt::format("'max_output_tokens' must be between 1 and {} (got {})", INT32_MAX, *m),
                  "max_output_tokens");
    chat["max_completion_tokens"] = *m;
  }
  for (const char* key : {"temperature", "top_p", "stream", "parallel_tool_calls"})
    if (const json* v = find_field(body, key)) chat[key] = *v;
  if (const json* include = find_field(body, "include")) {
    if (!include->is_array()) bad_request("'include' must be a list", "include");
    for (const json& what : *include) {
      if (!what.is_string()) bad_request("'include' must be a list of strings", "include");
      if (what != "message.output_text.logprobs")
        bad_request(fmt::format("'include': {} is not supported (message.output_text.logprobs is)",
                                quote_value(what.get_ref<const std::string&>())),
                    "include");
      r.include_logprobs = true;
    }
  }
  const int64_t top = opt_int(body, "top_logprobs").value_or(0);
  check_range("top_logprobs", static_cast<double>(top), 0, limits.max_logprobs);
  if (r.include_logprobs) {
    chat["logprobs"] = true;
    chat["top_logprobs"] = top;
  }
  if (const json* text = opt_object(body, "text")) {
    const json* format = opt_object(*text, "format");
    if (format && opt_string(*format, "type").value_or("text") != "text")
      bad_request("'text.format' other than text is not supported (no guided decoding)", "text");
  }
  if (opt_string(body, "truncation").value_or("disabled") != "disabled")
    bad_request("'truncation' auto is not supported: prompts past the context are refused", "truncation");
  r.chat = parse_chat_request(chat, defaults, limits);
  r.chat.gen.n = 1;
  r.chat.gen.request_id = opt_string(body, "request_id").value_or("");
  for (const char* key : {"instructions", "metadata", "user", "service_tier", "text", "prompt_cache_key",
                          "safety_identifier"})
    if (const json* v = find_field(body, key)) r.echo[key] = *v;
  r.echo["tools"] = find_field(body, "tools") ? body["tools"] : json::array();
  r.echo["tool_choice"] = find_field(body, "tool_choice") ? body["tool_choice"] : json("auto");
  r.echo["top_logprobs"] = top;
  return r;
}

}  // namespace rotor::server
