// tokenizer/byte_level.cpp — the byte ↔ code point tables of GPT-2's bytes_to_unicode().
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace rotor::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};  // every code point of the alphabet is below 512

  Tables() {
    to_byte.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the rest take 256, 257, ... in byte order.
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_char[static_cast<size_t>(b)] = c;
      to_byte[c] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

int char_to_byte(char32_t cp) { return cp < 512 ? tables().to_byte[cp] : -1; }

std::string token_bytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  const std::string valid = utf8::repair(token);
  size_t pos = 0;
  while (pos < valid.size()) {
    const int b = char_to_byte(utf8::next(valid, pos));
    if (b < 0) return std::string(token);
    out.push_back(static_cast<char>(b));
  }
  return out;
}

std::string bytes_to_token(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(out, byte_to_char(static_cast<uint8_t>(c)));
  return out;
}

}  // namespace rotor::byte_level
