// server/tool_parser.cpp — the <tool_call> state machine.
#include "server/tool_parser.h"

#include <random>

#include <fmt/format.h>

#include "server/json.h"
#include "server/json_fields.h"
#include "server/stop_matcher.h"

namespace rotor::server {
namespace {
constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

std::string random_call_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("chatcmpl-tool-{:016x}{:016x}", rng(), rng());
}

bool all_space(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}
}  // namespace

void ToolCallParser::finish_block(std::string_view body, bool closed, ToolDelta& d) {
  // Null unless the block is JSON. Output nested deeper than a request may be (a grammar can
  // make the model write that) stays text: copying or printing it recurses once a level.
  json j;
  try {
    j = parse_json_within(body, kMaxJsonDepth).value_or(json());
  } catch (const json::parse_error&) {
    // not JSON: the block stays text
  }
  const auto name = j.is_object() ? j.find("name") : j.end();
  if (j.is_object() && name != j.end() && name->is_string()) {
    const auto args = j.find("arguments");
    const json arguments = args == j.end() || args->is_null() ? json::object() : *args;
    d.calls.push_back({random_call_id(), name->get<std::string>(), dump_json(arguments)});
    ++num_calls_;
    return;
  }
  d.content += kOpen;
  d.content += body;
  if (closed) d.content += kClose;
}

ToolDelta ToolCallParser::push(std::string_view text) {
  ToolDelta d;
  held_.append(text);
  while (!held_.empty()) {
    if (in_call_) {
      const size_t close = held_.find(kClose);
      if (close == std::string::npos) break;
      finish_block(std::string_view(held_).substr(0, close), true, d);
      held_.erase(0, close + kClose.size());
      in_call_ = false;
      continue;
    }
    const size_t open = held_.find(kOpen);
    if (open != std::string::npos) {
      const std::string_view before = std::string_view(held_).substr(0, open);
      if (num_calls_ == 0 || !all_space(before)) d.content += before;
      held_.erase(0, open + kOpen.size());
      in_call_ = true;
      continue;
    }
    const size_t keep = partial_suffix(held_, kOpen);
    const std::string_view ready = std::string_view(held_).substr(0, held_.size() - keep);
    if (num_calls_ > 0 && all_space(ready)) break;  // whitespace after a call: drop it if a call follows
    d.content += ready;
    held_.erase(0, held_.size() - keep);
    break;
  }
  return d;
}

ToolDelta ToolCallParser::flush() {
  ToolDelta d;
  if (in_call_) {
    finish_block(held_, false, d);
  } else if (!(num_calls_ > 0 && all_space(held_))) {
    d.content = held_;
  }
  held_.clear();
  in_call_ = false;
  return d;
}

}  // namespace rotor::server
