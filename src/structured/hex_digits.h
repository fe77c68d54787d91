// structured/hex_digits.h — the hex digits of an escape (\xHH, \uHHHH, ...) read from grammar
// or regex text, shared by the EBNF and regex parsers; each reports a bad digit in its own
// words and position.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rotor::structured {

// Reads `n` hex digits of `s` from `i`, moving `i` past each digit read. nullopt at the first
// character that is not one (or at the end of `s`), with `i` left on it.
inline std::optional<uint32_t> read_hex_digits(std::string_view s, size_t& i, int n) {
  uint32_t v = 0;
  for (int k = 0; k < n; ++k, ++i) {
    const char c = i < s.size() ? s[i] : '\0';
    uint32_t d = 0;
    if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
    else return std::nullopt;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace rotor::structured
