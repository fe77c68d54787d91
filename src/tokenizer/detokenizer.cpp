// tokenizer/detokenizer.cpp — token bytes through the streaming UTF-8 decoder.
#include "tokenizer/detokenizer.h"

namespace rotor {

std::string IncrementalDetokenizer::push(int32_t id) {
  std::string out;
  if (!tokenizer_->contains(id) || (skip_special_tokens_ && tokenizer_->is_special(id))) return out;
  decoder_.push(tokenizer_->token_bytes(id), out);
  return out;
}

std::string IncrementalDetokenizer::push(std::span<const int32_t> ids) {
  std::string out;
  for (int32_t id : ids) out += push(id);
  return out;
}

std::string IncrementalDetokenizer::finish() {
  std::string out;
  decoder_.finish(out);
  return out;
}

}  // namespace rotor
