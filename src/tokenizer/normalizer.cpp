// tokenizer/normalizer.cpp — Unicode normalization through utf8proc, with an ASCII-and-Latin
// fast path (text below U+0300 is unchanged by NFC).
#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

constexpr int kNFC = UTF8PROC_STABLE | UTF8PROC_COMPOSE;

// Combining marks that utf8proc (Unicode 15) gives a non-zero combining class but the
// normalization tables of Hugging Face tokenizers (the unicode-normalization-alignments
// crate, older Unicode data) do not know, so there they are plain starters: never reordered,
// never composed. Found by comparing tokenizers' NFC with utf8proc's on every code point
// alone and next to other marks; no other code point differs. Text is normalized in
// segments between these, which then stand for themselves.
constexpr std::pair<char32_t, char32_t> kUnknownToTokenizers[] = {
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE}, {0xC3C, 0xC3C}, {0xD3B, 0xD3C},
    {0xEBA, 0xEBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA}, {0xA82C, 0xA82C},
    {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50},
    {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E},
    {0x11839, 0x1183A}, {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0},
    {0x11A34, 0x11A34}, {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42},
    {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1},
    {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
    {0x1E4EC, 0x1E4EF},
};

bool unknown_to_tokenizers(char32_t c) {
  if (c < kUnknownToTokenizers[0].first) return false;
  auto it = std::upper_bound(std::begin(kUnknownToTokenizers), std::end(kUnknownToTokenizers), c,
                             [](char32_t v, const std::pair<char32_t, char32_t>& r) { return v < r.first; });
  return it != std::begin(kUnknownToTokenizers) && c <= std::prev(it)->second;
}

// U+11A7 is the base of the Hangul trailing consonants (TBase), not one of them (they are
// U+11A8..U+11C2), so it never composes; utf8proc 2.6 takes it for a trailing consonant of index
// 0 and composes an LV syllable followed by it into that syllable alone: the character is lost.
constexpr char32_t kHangulTBase = 0x11A7;

// Code points normalized apart from their neighbours: starters that compose with nothing, so
// the text on each side of them normalizes on its own.
bool stands_alone(char32_t c) { return c == kHangulTBase || unknown_to_tokenizers(c); }

std::string map_utf8proc(std::string_view text, int form) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &out,
                                          static_cast<utf8proc_option_t>(form));
  ROTOR_CHECK(n >= 0, "unicode normalization failed: {}", utf8proc_errmsg(n));
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

// One normalization form over valid UTF-8, segment by segment around what stands_alone.
std::string normalize(std::string_view text, int form) {
  std::string out;
  size_t seg = 0, pos = 0;
  while (pos < text.size()) {
    const size_t at = pos;
    if (!stands_alone(utf8::next(text, pos))) continue;
    if (at > seg) out += map_utf8proc(text.substr(seg, at - seg), form);
    out.append(text.substr(at, pos - at));
    seg = pos;
  }
  if (seg < text.size()) out += map_utf8proc(text.substr(seg), form);
  return out;
}

void add_forms(const nlohmann::json& j, std::vector<int>& forms) {
  if (j.is_null()) return;
  ROTOR_CHECK(j.is_object() && j.contains("type"), "tokenizer.json: normalizer without a type");
  const std::string type = j["type"].get<std::string>();
  if (type == "NFC") forms.push_back(kNFC);
  else if (type == "NFD") forms.push_back(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  else if (type == "NFKC") forms.push_back(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  else if (type == "NFKD") forms.push_back(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  else if (type == "Sequence")
    for (const auto& n : j.at("normalizers")) add_forms(n, forms);
  else
    ROTOR_FAIL("tokenizer.json: normalizer '{}' is not supported (NFC, NFD, NFKC, NFKD, Sequence)", type);
}

// True when every code point is below U+0300: such text is already in NFC.
bool below_combining_marks(std::string_view s) {
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if (b >= 0xCC) return false;  // a lead byte of U+0300 or above
  }
  return true;
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  add_forms(j, n.forms_);
  return n;
}

std::string Normalizer::apply(std::string_view text) const {
  std::string cur(text);
  for (int form : forms_) {
    if (form == kNFC && below_combining_marks(cur)) continue;
    cur = normalize(cur, form);
  }
  return cur;
}

}  // namespace rotor
