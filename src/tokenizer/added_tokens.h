// tokenizer/added_tokens.h — the "added_tokens" of tokenizer.json (special and not) and how
// they are found in text before BPE, as tokenizers' AddedVocabulary does: leftmost-longest,
// non-overlapping matches of the token contents; a single_word token only where it is not
// inside a word; lstrip / rstrip tokens absorb the whitespace beside them.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rotor {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;  // matched in normalized text (else in the raw text)
  bool special = false;    // skipped by decode(skip_special_tokens)

  static AddedToken from_json(const nlohmann::json& j);
};

// Finds a set of added tokens in text.
class AddedTokenMatcher {
 public:
  // A piece of the text: an added token (id >= 0) or plain text to tokenize (id == -1).
  struct Span {
    size_t begin, end;
    int32_t id;
  };

  AddedTokenMatcher() = default;
  // patterns[i] is what tokens[i] looks like in the text it is matched in (its content, or
  // its normalized content for normalized tokens).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  bool empty() const { return tokens_.empty(); }
  // Splits text into spans that cover it; an empty text gives one empty text span.
  void split(std::string_view text, std::vector<Span>& out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t token = -1;                             // index into tokens_ when a pattern ends here
  };
  int32_t child(int32_t node, uint8_t b) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;
  bool first_byte_[256] = {};
};

}  // namespace rotor
