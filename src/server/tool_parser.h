// server/tool_parser.h — Qwen3 (Hermes-style) tool calls: `<tool_call>{"name": …,
// "arguments": {…}}</tool_call>` blocks in the generated text become OpenAI tool_calls;
// the text around them stays content. Incremental: a call is emitted whole once its closing
// tag arrives; whitespace between and after calls is dropped; a block that is not a valid
// call stays content, tags included.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace rotor::server {

struct ToolCall {
  std::string id;         // "chatcmpl-tool-<hex>"
  std::string name;
  std::string arguments;  // a JSON object as a string
};

struct ToolDelta {
  std::string content;
  std::vector<ToolCall> calls;
};

class ToolCallParser {
 public:
  ToolDelta push(std::string_view text);
  ToolDelta flush();  // generation ended: an unclosed block is parsed if it is a whole call
  int num_calls() const { return num_calls_; }

 private:
  // Appends the block's call to d, or its raw text as content.
  void finish_block(std::string_view body, bool closed, ToolDelta& d);
  bool in_call_ = false;
  std::string held_;      // text not yet emitted (a partial tag, a call body, or whitespace after a call)
  int num_calls_ = 0;
};

}  // namespace rotor::server
