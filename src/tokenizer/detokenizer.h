// tokenizer/detokenizer.h — streaming detokenization: token ids arrive one at a time and text
// leaves only in complete UTF-8 characters. A token can end in the middle of a character
// (byte-level BPE splits emoji and CJK across tokens); its bytes are held until the
// character completes. The concatenation of everything push() returned plus finish() is
// exactly Tokenizer::decode(all ids, skip_special_tokens), for any id sequence, including
// ill-formed byte sequences (which become U+FFFD the moment they are known to be ill-formed).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rotor {

class IncrementalDetokenizer {
 public:
  // The tokenizer must outlive the detokenizer.
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = false)
      : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

  // The text completed by this token ("" while a character is still incomplete).
  std::string push(int32_t id);
  std::string push(std::span<const int32_t> ids);
  // Ends the stream: held bytes of an incomplete character come out as one U+FFFD.
  std::string finish();
  // Bytes of an incomplete character held back, 0 to 3.
  int pending_bytes() const { return decoder_.pending(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  utf8::StreamDecoder decoder_;
};

}  // namespace rotor
