// tokenizer/utf8.h — UTF-8 helpers of the tokenizer: code point decoding and encoding, and
// the one documented policy for invalid input. Invalid UTF-8 is never an error: each maximal
// ill-formed subsequence becomes one U+FFFD (the Unicode "substitution of maximal subparts"
// practice; the same result as Rust's String::from_utf8_lossy, which Hugging Face tokenizers
// uses when decoding, and Python's bytes.decode("utf-8", "replace")).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rotor::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// Appends the UTF-8 encoding of a code point (< 0x110000, not a surrogate) to out.
void append(std::string& out, char32_t cp);

// True when s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid(std::string_view s);

// s with every maximal ill-formed subsequence replaced by U+FFFD; s itself when valid.
std::string repair(std::string_view s);

// Decodes the code point at s[pos] of VALID UTF-8 and advances pos past it.
char32_t next(std::string_view s, size_t& pos);

// Decodes the character at s[pos] (pos < s.size()) and advances pos past it; nullopt, pos
// unchanged, when no well-formed one starts there: a byte that cannot lead, a character cut
// short, a bad continuation byte, an overlong form, a surrogate, a code point past U+10FFFF.
std::optional<char32_t> decode(std::string_view s, size_t& pos);

// Streaming lossy decoder: bytes in, complete characters out. Text is emitted only when a
// character is complete; a pending prefix of a character is held until the next byte shows
// whether it continues. push() then finish() over any byte sequence gives exactly repair().
class StreamDecoder {
 public:
  void push(uint8_t byte, std::string& out);
  void push(std::string_view bytes, std::string& out) {
    for (char c : bytes) push(static_cast<uint8_t>(c), out);
  }
  // Ends the stream: a pending incomplete character becomes one U+FFFD.
  void finish(std::string& out);
  // Bytes held back (a prefix of an incomplete character), 0 to 3.
  int pending() const { return have_; }

 private:
  uint8_t buf_[4] = {};
  int have_ = 0;  // bytes held in buf_
  int need_ = 0;  // continuation bytes the lead byte in buf_[0] announces
};

}  // namespace rotor::utf8
