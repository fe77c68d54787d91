// tokenizer/one_line.cpp — messages as one bounded line of valid UTF-8 (see one_line.h).
#include "tokenizer/one_line.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace rotor {
namespace {

// Writes `\<kind>` and `digits` hex digits of value into buf; returns its length.
size_t hex_escape(char (&buf)[8], char kind, unsigned value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  buf[0] = '\\';
  buf[1] = kind;
  for (int i = 0; i < digits; ++i) buf[2 + i] = kHex[(value >> (4 * (digits - 1 - i))) & 15];
  return 2 + static_cast<size_t>(digits);
}

// The unit at s[pos] as one_line writes it, into buf (a character, or its escape; a byte of
// invalid UTF-8 escaped alone); advances pos past it and returns the unit's length.
size_t escaped_unit(std::string_view s, size_t& pos, char (&buf)[8]) {
  const size_t start = pos;
  const std::optional<char32_t> c = utf8::decode(s, pos);
  if (!c) {
    ++pos;
    return hex_escape(buf, 'x', static_cast<unsigned char>(s[start]), 2);
  }
  switch (*c) {
    case '\n': return hex_escape(buf, 'n', 0, 0);
    case '\r': return hex_escape(buf, 'r', 0, 0);
    case '\t': return hex_escape(buf, 't', 0, 0);
    case 0x7F: case 0x85: return hex_escape(buf, 'x', *c, 2);
    case 0x2028: case 0x2029: return hex_escape(buf, 'u', *c, 4);
    default:
      if (*c < 0x20) return hex_escape(buf, 'x', *c, 2);
      std::copy(s.data() + start, s.data() + pos, buf);
      return pos - start;
  }
}

}  // namespace

std::string one_line(std::string_view message, size_t max_bytes) {
  char buf[8];
  size_t total = 0;
  for (size_t pos = 0; pos < message.size();) total += escaped_unit(message, pos, buf);
  const bool cut = total > max_bytes;
  const size_t head = cut && max_bytes > 5 ? (max_bytes - 5) / 2 : 0, tail = cut && max_bytes > 5 ? max_bytes - 5 - head : 0;
  // Units kept: those ending within the first `head` bytes and those starting within the last `tail`.
  std::string out;
  out.reserve(cut ? max_bytes : total);
  size_t written = 0;  // bytes of the whole escaped message before the current unit
  bool skipped = false;
  for (size_t pos = 0; pos < message.size();) {
    const size_t n = escaped_unit(message, pos, buf);
    if (!cut || written + n <= head || written >= total - tail) {
      out.append(buf, n);
    } else if (!skipped) {
      out += " ... ";
      skipped = true;
    }
    written += n;
  }
  return out;
}

}  // namespace rotor
