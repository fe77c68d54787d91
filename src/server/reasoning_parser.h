// server/reasoning_parser.h — `--reasoning-parser qwen3`: splits generated text into
// reasoning_content (inside <think>…</think>) and content, incrementally, so streamed deltas
// concatenate to the non-streamed split. Output that does not open with <think> is content,
// unless the prompt already opened the think block (templates that end with "<think>\n").
#pragma once
#include <string>
#include <string_view>

namespace rotor::server {

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
};

class ReasoningParser {
 public:
  explicit ReasoningParser(bool prompt_opened_think);

  ReasoningDelta push(std::string_view text);
  ReasoningDelta flush();  // generation ended: held-back text

  // Whether the rendered prompt leaves a <think> block open.
  static bool prompt_opens_think(std::string_view prompt);

 private:
  enum class State { kStart, kReasoning, kContent };
  State state_;
  std::string held_;
};

}  // namespace rotor::server
