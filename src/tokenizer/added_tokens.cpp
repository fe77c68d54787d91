// tokenizer/added_tokens.cpp — a byte trie over added-token contents, leftmost-longest
// matching, and the single_word / lstrip / rstrip rules of tokenizers' find_matches (word
// characters and whitespace as Rust regex's Unicode \w and \s).
#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

// Unicode White_Space (Rust regex \s).
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Rust regex \w: Alphabetic, marks, decimal numbers, connector punctuation, join controls.
bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  // Circled and squared Latin letters are Alphabetic although their category is So.
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189))
    return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// The last code point of valid UTF-8 text.
char32_t last_char(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
  return utf8::next(s, start);
}

}  // namespace

AddedToken AddedToken::from_json(const nlohmann::json& j) {
  AddedToken t;
  ROTOR_CHECK(j.contains("id") && j.contains("content"), "tokenizer.json: added token without id or content");
  t.id = j["id"].get<int32_t>();
  t.content = j["content"].get<std::string>();
  t.single_word = j.value("single_word", false);
  t.lstrip = j.value("lstrip", false);
  t.rstrip = j.value("rstrip", false);
  t.normalized = j.value("normalized", true);
  t.special = j.value("special", false);
  return t;
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns)
    : tokens_(std::move(tokens)) {
  trie_.emplace_back();
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& p = patterns[t];
    if (p.empty()) continue;
    first_byte_[static_cast<uint8_t>(p[0])] = true;
    int32_t node = 0;
    for (char ch : p) {
      const auto b = static_cast<uint8_t>(ch);
      int32_t nx = child(node, b);
      if (nx < 0) {
        nx = static_cast<int32_t>(trie_.size());
        trie_.emplace_back();
        auto& edges = trie_[static_cast<size_t>(node)].next;
        edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1})), {b, nx});
      }
      node = nx;
    }
    // The same pattern twice: the first token keeps it (aho-corasick reports the first).
    if (trie_[static_cast<size_t>(node)].token < 0) trie_[static_cast<size_t>(node)].token = static_cast<int32_t>(t);
  }
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t b) const {
  for (const auto& [c, n] : trie_[static_cast<size_t>(node)].next)
    if (c == b) return n;
  return -1;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Span>& out) const {
  if (text.empty()) {
    out.push_back({0, 0, -1});
    return;
  }
  size_t start_offset = 0;  // end of the last emitted span
  size_t i = 0;
  while (i < text.size()) {
    if (!first_byte_[static_cast<uint8_t>(text[i])]) {
      ++i;
      continue;
    }
    // Longest pattern starting at i.
    int32_t node = 0, best = -1;
    size_t best_len = 0;
    for (size_t k = i; k < text.size(); ++k) {
      node = child(node, static_cast<uint8_t>(text[k]));
      if (node < 0) break;
      if (trie_[static_cast<size_t>(node)].token >= 0) {
        best = trie_[static_cast<size_t>(node)].token;
        best_len = k + 1 - i;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[static_cast<size_t>(best)];
    size_t start = i, stop = i + best_len;
    i = stop;  // matches never overlap, even when this one is discarded below
    if (tok.single_word) {
      const bool start_space = start == 0 || !is_word_char(last_char(text.substr(0, start)));
      size_t p = stop;
      const bool stop_space = stop == text.size() || !is_word_char(utf8::next(text, p));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t prev = s - 1;
        while (prev > 0 && (static_cast<uint8_t>(text[prev]) & 0xC0) == 0x80) --prev;
        size_t q = prev;
        if (!is_white_space(utf8::next(text, q))) break;
        s = prev;
      }
      start = std::max(s, start_offset);
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t q = stop;
        if (!is_white_space(utf8::next(text, q))) break;
        stop = q;
      }
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset != text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace rotor
