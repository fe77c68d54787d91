// tokenizer/utf8.cpp — UTF-8 encoding, decoding, validation and lossy repair (see utf8.h for the policy).
#include "tokenizer/utf8.h"

#include <cstring>

namespace rotor::utf8 {
namespace {

// Continuation bytes a lead byte announces; -1 for bytes that cannot start a character.
int continuation_count(uint8_t b) {
  if (b < 0x80) return 0;
  if (b >= 0xC2 && b <= 0xDF) return 1;
  if (b >= 0xE0 && b <= 0xEF) return 2;
  if (b >= 0xF0 && b <= 0xF4) return 3;
  return -1;
}

// The allowed range of the second byte after a lead byte (Unicode Table 3-7).
void second_byte_range(uint8_t lead, uint8_t& lo, uint8_t& hi) {
  lo = 0x80;
  hi = 0xBF;
  switch (lead) {
    case 0xE0: lo = 0xA0; break;
    case 0xED: hi = 0x9F; break;
    case 0xF0: lo = 0x90; break;
    case 0xF4: hi = 0x8F; break;
    default: break;
  }
}

}  // namespace

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {  // ASCII fast path, 8 bytes at a time
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (!decode(s, i)) return false;
  }
  return true;
}

std::string repair(std::string_view s) {
  if (is_valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  StreamDecoder d;
  d.push(s, out);
  d.finish(out);
  return out;
}

char32_t next(std::string_view s, size_t& pos) {
  const auto b = static_cast<uint8_t>(s[pos]);
  if (b < 0x80) {
    ++pos;
    return b;
  }
  const int k = continuation_count(b);
  char32_t cp = b & (0x3F >> k);
  for (int j = 1; j <= k; ++j) cp = (cp << 6) | (static_cast<uint8_t>(s[pos + j]) & 0x3F);
  pos += static_cast<size_t>(k) + 1;
  return cp;
}

std::optional<char32_t> decode(std::string_view s, size_t& pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  const int k = continuation_count(p[0]);
  if (k < 0 || pos + static_cast<size_t>(k) >= s.size()) return std::nullopt;
  if (k == 0) {
    ++pos;
    return p[0];
  }
  uint8_t lo, hi;
  second_byte_range(p[0], lo, hi);
  if (p[1] < lo || p[1] > hi) return std::nullopt;
  char32_t cp = p[0] & (0x3F >> k);
  for (int j = 1; j <= k; ++j) {
    if ((p[j] & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (p[j] & 0x3F);
  }
  pos += static_cast<size_t>(k) + 1;
  return cp;
}

void StreamDecoder::push(uint8_t b, std::string& out) {
  for (;;) {
    if (have_ == 0) {
      const int k = continuation_count(b);
      if (k == 0) {
        out.push_back(static_cast<char>(b));
      } else if (k < 0) {
        append(out, kReplacement);
      } else {
        buf_[0] = b;
        have_ = 1;
        need_ = k;
      }
      return;
    }
    uint8_t lo = 0x80, hi = 0xBF;
    if (have_ == 1) second_byte_range(buf_[0], lo, hi);
    if (b >= lo && b <= hi) {
      buf_[have_++] = b;
      if (have_ == need_ + 1) {
        out.append(reinterpret_cast<const char*>(buf_), static_cast<size_t>(have_));
        have_ = 0;
      }
      return;
    }
    // The held bytes are a maximal ill-formed subpart: one U+FFFD, then b starts afresh.
    append(out, kReplacement);
    have_ = 0;
  }
}

void StreamDecoder::finish(std::string& out) {
  if (have_ > 0) append(out, kReplacement);
  have_ = 0;
}

}  // namespace rotor::utf8
