// structured/utf8_ranges.h — a set of code points as the UTF-8 byte sequences that encode
// them: each code-point range becomes a few sequences of byte ranges ([E1-EC][80-BF][80-BF]),
// so a class of characters is matched one byte at a time. Surrogates are never encoded.
#pragma once
#include <cstdint>
#include <vector>

#include "structured/grammar.h"

namespace rotor::structured {

// A sequence of 1 to 4 byte ranges; the bytes it matches are the UTF-8 encodings of a
// contiguous block of code points.
struct ByteRangeSeq {
  int length = 0;
  Range bytes[4];
};

std::vector<ByteRangeSeq> utf8_sequences(const std::vector<Range>& code_points);

// The UTF-8 encoding of one code point (no checks: cp must be a scalar value).
void append_utf8(std::string& out, uint32_t cp);

}  // namespace rotor::structured
