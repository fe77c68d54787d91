// tokenizer/regex.h — the regular expressions of tokenizer.json (written for Oniguruma, which
// Hugging Face tokenizers uses) run with PCRE2: UTF and UCP mode, JIT-compiled. Where the two
// engines' character sets differ, the pattern is rewritten to Oniguruma's: \s and \S (PCRE2
// also counts U+180E), \p{L} and \p{N} (Oniguruma there has newer Unicode data).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rotor {

class Regex {
 public:
  // Compiles an Oniguruma-syntax pattern; raises rotor::Error with PCRE2's message if invalid.
  explicit Regex(const std::string& pattern);
  // A pattern that matches the literal text.
  static Regex literal(std::string_view text);
  Regex(Regex&& o) noexcept;
  Regex& operator=(Regex&& o) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();

  // Appends [begin, end) of every successive non-overlapping match in subject (valid UTF-8)
  // to out; after an empty match the search resumes one character further.
  void find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  Regex() = default;
  void compile(const std::string& pcre_pattern, const std::string& shown);
  void* code_ = nullptr;  // pcre2_code_8
  bool jit_ = false;
};

}  // namespace rotor
