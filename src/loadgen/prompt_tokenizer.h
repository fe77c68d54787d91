// loadgen/prompt_tokenizer.h — what the random-prompt builder needs from a tokenizer: the
// vocabulary, encoding of plain text, and the token count of a chat prompt. The bench links no
// model code; the implementation over the tokenizer module lives in tokenizer_adapter.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rotor::loadgen {

class PromptTokenizer {
 public:
  virtual ~PromptTokenizer() = default;
  virtual int32_t vocab_size() const = 0;          // ids 0 .. vocab_size-1 (added tokens included)
  virtual bool is_special(int32_t id) const = 0;   // added or special tokens: never used in prompts
  virtual std::string decode(int32_t id) const = 0;  // the text of one token
  // Token ids of plain text as a completions server counts them (no chat template).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Token count of the chat prompt for one user message with this content (chat template with
  // the generation prompt), as a chat server counts it.
  virtual int64_t chat_prompt_tokens(std::string_view content) const = 0;
};

}  // namespace rotor::loadgen
