// server/reasoning_parser.cpp — the <think>…</think> state machine.
#include "server/reasoning_parser.h"

#include <utility>

#include "server/stop_matcher.h"

namespace rotor::server {
namespace {
constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";
}  // namespace

ReasoningParser::ReasoningParser(bool prompt_opened_think)
    : state_(prompt_opened_think ? State::kReasoning : State::kStart) {}

bool ReasoningParser::prompt_opens_think(std::string_view prompt) {
  const size_t open = prompt.rfind(kOpen);
  if (open == std::string_view::npos) return false;
  const size_t close = prompt.rfind(kClose);
  return close == std::string_view::npos || close < open;
}

ReasoningDelta ReasoningParser::push(std::string_view text) {
  ReasoningDelta d;
  held_.append(text);
  if (state_ == State::kStart) {
    if (held_.size() < kOpen.size() && kOpen.starts_with(held_)) return d;  // maybe "<think>" still
    if (held_.starts_with(kOpen)) {
      held_.erase(0, kOpen.size());
      state_ = State::kReasoning;
    } else {
      state_ = State::kContent;
    }
  }
  if (state_ == State::kReasoning) {
    const size_t close = held_.find(kClose);
    if (close == std::string::npos) {
      const size_t keep = partial_suffix(held_, kClose);
      d.reasoning = held_.substr(0, held_.size() - keep);
      held_.erase(0, held_.size() - keep);
      return d;
    }
    d.reasoning = held_.substr(0, close);
    held_.erase(0, close + kClose.size());
    state_ = State::kContent;
  }
  d.content = std::exchange(held_, {});
  return d;
}

ReasoningDelta ReasoningParser::flush() {
  ReasoningDelta d;
  if (state_ == State::kReasoning)
    d.reasoning = std::exchange(held_, {});
  else
    d.content = std::exchange(held_, {});
  return d;
}

}  // namespace rotor::server
