// tokenizer/byte_level.h — GPT-2's byte-level alphabet: every byte is written as one printable
// code point in token strings (space → 'Ġ' U+0120, newline → 'Ċ' U+010A), which is how the
// vocabulary and merges of a byte-level BPE tokenizer.json spell raw bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace rotor::byte_level {

// The code point that stands for byte b.
char32_t byte_to_char(uint8_t b);

// The byte a code point of the alphabet stands for, or -1 for code points outside it.
int char_to_byte(char32_t cp);

// The raw bytes of one token string, as Hugging Face's ByteLevel decoder turns a token into
// bytes: the bytes its characters stand for when every character is in the alphabet, else
// the token's own UTF-8 (an added token such as "<tool call>" with a plain space).
std::string token_bytes(std::string_view token);

// Raw bytes written in the alphabet (what the ByteLevel pre-tokenizer does to a piece).
std::string bytes_to_token(std::string_view bytes);

}  // namespace rotor::byte_level
