// structured/utf8_ranges.cpp — splitting code-point ranges at UTF-8 length and continuation-
// byte boundaries until every byte position ranges independently.
#include "structured/utf8_ranges.h"

#include <string>

namespace rotor::structured {
namespace {

int utf8_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

void encode(uint32_t cp, int n, uint8_t* b) {
  if (n == 1) {
    b[0] = static_cast<uint8_t>(cp);
    return;
  }
  for (int i = n - 1; i > 0; --i) {
    b[i] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  b[0] = static_cast<uint8_t>((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
}

void split(uint32_t lo, uint32_t hi, std::vector<ByteRangeSeq>& out) {
  for (uint32_t edge : {0x7Fu, 0x7FFu, 0xFFFFu})
    if (lo <= edge && hi > edge) {
      split(lo, edge, out);
      split(edge + 1, hi, out);
      return;
    }
  const int n = utf8_length(lo);
  // Where the low bits of lo and hi do not span a whole continuation block, split off the
  // partial blocks so that each byte position ranges independently of the others.
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split(lo, lo | m, out);
        split((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        split(lo, (hi & ~m) - 1, out);
        split(hi & ~m, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  encode(lo, n, a);
  encode(hi, n, b);
  ByteRangeSeq s;
  s.length = n;
  for (int i = 0; i < n; ++i) s.bytes[i] = {a[i], b[i]};
  out.push_back(s);
}

}  // namespace

std::vector<ByteRangeSeq> utf8_sequences(const std::vector<Range>& code_points) {
  std::vector<ByteRangeSeq> out;
  for (Range r : code_points) {
    if (r.hi > 0x10FFFF) r.hi = 0x10FFFF;
    if (r.lo > r.hi) continue;
    // Surrogates are not scalar values.
    if (r.lo < 0xD800 && r.hi >= 0xD800) {
      split(r.lo, 0xD7FF, out);
      if (r.hi > 0xDFFF) split(0xE000, r.hi, out);
    } else if (r.lo >= 0xD800 && r.lo <= 0xDFFF) {
      if (r.hi > 0xDFFF) split(0xE000, r.hi, out);
    } else {
      split(r.lo, r.hi, out);
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  uint8_t b[4];
  const int n = utf8_length(cp);
  encode(cp, n, b);
  out.append(reinterpret_cast<const char*>(b), static_cast<size_t>(n));
}

}  // namespace rotor::structured
