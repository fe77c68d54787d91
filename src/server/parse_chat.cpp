// server/parse_chat.cpp — /v1/chat/completions bodies: messages (content normalised to a
// string, as the chat template expects), tools and tool_choice, template options (documents,
// chat_template_kwargs), include_reasoning, parallel_tool_calls, echo, logprobs.
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/request_common.h"

namespace rotor::server {
namespace {

// String content, or a list of text parts joined with newlines (as vLLM does).
std::string content_text(const json& content, size_t index) {
  const std::string param = fmt::format("messages[{}].content", index);
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad_request(fmt::format("'{}' must be a string or a list of content parts", param), param);
  std::string text;
  bool first = true;
  for (const json& part : content) {
    if (!part.is_object()) bad_request(fmt::format("'{}' parts must be objects", param), param);
    const std::string type = opt_string(part, "type").value_or("");
    if (type != "text")
      bad_request(fmt::format("content part type {} is not supported (this model takes text only)", quote_value(type)),
                  param);
    const auto t = opt_string(part, "text");
    if (!t) bad_request(fmt::format("a text part of '{}' needs a 'text' string", param), param);
    if (!first) text += "\n";
    text += *t;
    first = false;
  }
  return text;
}

// Assistant tool calls as the template wants them: arguments given as a JSON string become
// the object they encode (vLLM does the same), so `tojson` renders them canonically.
json normalise_tool_calls(const json& calls, size_t index) {
  const std::string param = fmt::format("messages[{}].tool_calls", index);
  if (!calls.is_array()) bad_request(fmt::format("'{}' must be a list", param), param);
  json out = json::array();
  for (const json& c : calls) {
    if (!c.is_object()) bad_request(fmt::format("'{}' entries must be objects", param), param);
    const json* f = opt_object(c, "function");
    if (!f || !opt_string(*f, "name"))
      bad_request(fmt::format("'{}' entries need function.name", param), param);
    json call = c;
    if (const json* args = find_field(*f, "arguments"); args && args->is_string()) {
      std::optional<json> parsed;
      try {
        parsed = parse_json_within(args->get_ref<const std::string&>(), kMaxJsonDepth);
      } catch (const json::parse_error&) {
        parsed = json();  // not JSON: the string is kept
      }
      if (!parsed)
        bad_request(fmt::format("'{}[{}].function.arguments' is JSON nested deeper than {} levels", param,
                                out.size(), kMaxJsonDepth),
                    param);
      if (parsed->is_object()) call["function"]["arguments"] = std::move(*parsed);
    }
    out.push_back(std::move(call));
  }
  return out;
}

json parse_messages(const json& body) {
  const json* msgs = find_field(body, "messages");
  if (!msgs) bad_request("'messages' is required", "messages");
  if (!msgs->is_array()) bad_request("'messages' must be a list", "messages");
  if (msgs->empty()) bad_request("'messages' must not be empty", "messages");
  json out = json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    if (!m.is_object()) bad_request(fmt::format("'messages[{}]' must be an object", i), "messages");
    const auto role = opt_string(m, "role");
    if (!role) bad_request(fmt::format("'messages[{}].role' is required", i), "messages");
    static const char* kRoles[] = {"system", "developer", "user", "assistant", "tool"};
    if (std::find(std::begin(kRoles), std::end(kRoles), *role) == std::end(kRoles))
      bad_request(fmt::format("'messages[{}].role' must be system, developer, user, assistant or tool (got {})", i,
                              quote_value(*role)),
                  "messages");
    json msg = {{"role", *role}, {"content", content_text(m.contains("content") ? m["content"] : json(), i)}};
    if (const auto name = opt_string(m, "name")) msg["name"] = *name;
    if (const auto id = opt_string(m, "tool_call_id")) msg["tool_call_id"] = *id;
    if (const auto rc = opt_string(m, "reasoning_content")) msg["reasoning_content"] = *rc;
    if (const json* calls = find_field(m, "tool_calls")) msg["tool_calls"] = normalise_tool_calls(*calls, i);
    out.push_back(std::move(msg));
  }
  return out;
}

json parse_tools(const json& body) {
  const json* tools = find_field(body, "tools");
  if (!tools) return nullptr;
  if (!tools->is_array()) bad_request("'tools' must be a list", "tools");
  for (const json& t : *tools) {
    if (!t.is_object()) bad_request("'tools' entries must be objects", "tools");
    if (opt_string(t, "type").value_or("function") != "function")
      bad_request("only tools of type 'function' are supported", "tools");
    const json* f = opt_object(t, "function");
    if (!f || !opt_string(*f, "name")) bad_request("'tools' entries need function.name", "tools");
    (void)opt_string(*f, "description");
    (void)opt_object(*f, "parameters");
  }
  return tools->empty() ? json(nullptr) : *tools;
}

}  // namespace

ChatRequest parse_chat_request(const json& body, const SamplingDefaults& defaults, const RequestLimits& limits) {
  reject_unsupported_fields(body, RequestApi::Chat);
  ChatRequest r;
  r.model = opt_string(body, "model");
  r.messages = parse_messages(body);
  r.tools = parse_tools(body);
  std::string tool_choice = "auto", named;
  if (const json* tc = find_field(body, "tool_choice")) {
    if (tc->is_string()) {
      tool_choice = tc->get<std::string>();
      if (tool_choice != "none" && tool_choice != "auto" && tool_choice != "required")
        bad_request("'tool_choice' must be none, auto, required or a named function", "tool_choice");
    } else if (tc->is_object()) {
      tool_choice = "named";
      const json* f = opt_object(*tc, "function");
      const auto name = f ? opt_string(*f, "name") : std::nullopt;
      if (!name) bad_request("a named 'tool_choice' needs function.name", "tool_choice");
      named = *name;
    } else {
      bad_request("'tool_choice' must be a string or an object", "tool_choice");
    }
  }
  r.parse_tool_calls = !r.tools.is_null() && tool_choice != "none";
  r.add_generation_prompt = opt_bool(body, "add_generation_prompt").value_or(true);
  r.continue_final_message = opt_bool(body, "continue_final_message").value_or(false);
  if (r.add_generation_prompt && r.continue_final_message)
    bad_request("'add_generation_prompt' and 'continue_final_message' cannot both be true", "continue_final_message");
  if (r.continue_final_message && r.messages.back()["role"] != "assistant")
    bad_request("'continue_final_message' needs the last message to be the assistant's", "continue_final_message");
  if (const json* docs = find_field(body, "documents")) {
    if (!docs->is_array()) bad_request("'documents' must be a list of objects", "documents");
    for (const json& d : *docs)
      if (!d.is_object()) bad_request("'documents' must be a list of objects", "documents");
    r.chat_template_kwargs["documents"] = *docs;  // the template's `documents` (RAG templates use it)
  }
  if (const json* kw = opt_object(body, "chat_template_kwargs"))
    for (const auto& [k, v] : kw->items()) r.chat_template_kwargs[k] = v;
  r.include_reasoning = opt_bool(body, "include_reasoning").value_or(true);
  r.parallel_tool_calls = opt_bool(body, "parallel_tool_calls").value_or(true);
  r.echo = opt_bool(body, "echo").value_or(false);
  if (find_field(body, "chat_template"))
    bad_request("a per-request 'chat_template' is not supported (start the server with --chat-template)",
                "chat_template");
  r.gen = parse_generation_options(body, defaults, limits);
  if (tool_choice == "required" || tool_choice == "named") {
    // Forced tool calls: Qwen3 <tool_call> blocks of the given functions, by grammar.
    if (r.tools.is_null()) bad_request(fmt::format("'tool_choice' {} needs 'tools'", tool_choice), "tool_choice");
    if (r.gen.structured.kind != StructuredSpec::Kind::None)
      bad_request(fmt::format("'tool_choice' {} cannot be combined with '{}'", tool_choice, r.gen.structured.field),
                  "tool_choice");
    StructuredSpec s;
    s.kind = StructuredSpec::Kind::ToolCalls;
    s.field = "tool_choice";
    s.several = tool_choice == "required";
    for (const json& t : r.tools) {
      const json& f = t["function"];
      const std::string name = f["name"].get<std::string>();
      if (!named.empty() && name != named) continue;
      const json* params = find_field(f, "parameters");
      s.tools.emplace_back(name, params ? params->dump() : std::string());
    }
    if (s.tools.empty())
      bad_request(fmt::format("'tool_choice' names the function {}, which is not in 'tools'", quote_value(named)),
                  "tool_choice");
    r.gen.structured = std::move(s);
    check_structured(r.gen);
  }
  const bool logprobs = opt_bool(body, "logprobs").value_or(false);
  const auto top = opt_int(body, "top_logprobs");
  if (top) {
    check_range("top_logprobs", static_cast<double>(*top), 0, limits.max_logprobs);
    if (!logprobs) bad_request("'top_logprobs' needs 'logprobs' to be true", "top_logprobs");
  }
  if (logprobs) r.gen.logprobs = static_cast<int>(top.value_or(0));
  return r;
}

}  // namespace rotor::server
