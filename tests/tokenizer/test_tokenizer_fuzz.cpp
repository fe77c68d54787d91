// tests/tokenizer/test_tokenizer_fuzz.cpp — a seeded fuzz of the Qwen3 tokenizer and the
// incremental detokenizer. Texts mix ASCII, every UTF-8 length, combining marks (NFC at work),
// whitespace and digit runs, contractions, added and special tokens whole and cut, invalid
// UTF-8 (stray continuation bytes, cut characters, surrogates, overlongs, bytes past F4), NULs
// and long runs of one character.
// The properties: encode returns ids of the vocabulary and raises nothing; decode(encode(s)) is
// s with each maximal invalid UTF-8 subsequence as U+FFFD and the text between added tokens
// NFC, byte for byte (what Hugging Face tokenizers gives for the Qwen3 tokenizer, whose
// pre-tokenizer and byte-level BPE lose nothing); those ids, with ids past the vocabulary and
// negative ones mixed in, detokenized one at a time or in chunks give exactly decode's text,
// with and without special tokens, in valid UTF-8 pieces. The oracle normalizes with rotor's
// own Normalizer, so a wrong NFC shows only against tokenizers itself (HangulTBaseIsKept).
// ROTOR_TEST_SEED=<n> sets the seed (printed), ROTOR_FUZZ_INPUTS=<n> the number of inputs
// (3000, ~1 s); ROTOR_FUZZ_TRACE=1 prints every input before it runs (for a crash).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/support/fuzz_inputs.h"
#include "tests/tokenizer/tokenizer_test_util.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

using test::env_number;
using test::excerpt;

class TextGen {
 public:
  TextGen(uint64_t seed, const Tokenizer& t) : rng_(seed) {
    for (const AddedToken& a : t.added_tokens()) added_.push_back(a.content);
  }

  std::string text() {
    std::string s;
    for (int i = 0, n = 1 + static_cast<int>(pick(12)); i < n; ++i) s += piece();
    return s;
  }

 private:
  uint64_t pick(uint64_t n) { return rng_() % n; }

  std::string code_point() {
    static const char32_t ranges[][2] = {{0x20, 0x7E},       {0x00, 0x1F},       {0xA0, 0x17F},   {0x300, 0x36F},
                                         {0x370, 0x52F},     {0x600, 0x6FF},     {0x900, 0x97F},  {0x1100, 0x11FF},
                                         {0x2000, 0x206F},   {0x3040, 0x30FF},   {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
                                         {0xE000, 0xE0FF},   {0xFE00, 0xFFFF},   {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}};
    const auto& r = ranges[pick(std::size(ranges))];
    char32_t cp = r[0] + static_cast<char32_t>(pick(r[1] - r[0] + 1));
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    std::string out;
    utf8::append(out, cp);
    return out;
  }

  std::string piece() {
    switch (pick(14)) {
      case 0: return added_[pick(added_.size())];
      case 1: {
        const std::string& a = added_[pick(added_.size())];
        return a.substr(0, pick(a.size()));
      }
      case 2: {
        static const std::vector<std::string> bad = {"\x80", "\xbf\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80",
                                                     "\xc0\xaf", "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xf5", "\xff", "\xfe\xfe"};
        return bad[pick(bad.size())];
      }
      case 3: return std::string(1 + pick(3000), " a\n0\t.!"[pick(7)]);
      case 4: {
        static const std::vector<std::string> words = {"'s", "'LL", "'ve", " don't", "  hello", "\r\n", "\n\n\n", " \t ",
                                                       "123456789012", "e\xcc\x81", "A\xcc\x8a", "\xe1\x84\x80\xe1\x85\xa1",
                                                       "\xef\xbc\xa1", "ﬁ", "\xc3\xa9\xcc\x81", std::string(1, '\0')};
        return words[pick(words.size())];
      }
      case 5: {
        std::string s;
        for (int i = 0, n = 1 + static_cast<int>(pick(40)); i < n; ++i) s += static_cast<char>(pick(256));
        return s;
      }
      default: {
        std::string s;
        for (int i = 0, n = 1 + static_cast<int>(pick(30)); i < n; ++i) s += code_point();
        return s;
      }
    }
  }

  std::mt19937_64 rng_;
  std::vector<std::string> added_;
};

// What decode(encode(text)) must be for valid text: the added tokens found first (leftmost,
// longest), the text between them NFC-normalized piece by piece ('>' of "<|video_pad|>" and a
// U+0338 after it stay apart, where NFC of the whole would compose them).
std::string expected_decode(const Tokenizer& t, const Normalizer& nfc, const std::string& text) {
  std::string out;
  size_t piece = 0;
  for (size_t at = 0; at < text.size();) {
    size_t longest = 0;
    for (const AddedToken& a : t.added_tokens())
      if (a.content.size() > longest && std::string_view(text).substr(at).starts_with(a.content)) longest = a.content.size();
    if (longest == 0) {
      ++at;
      continue;
    }
    out += nfc.apply(text.substr(piece, at - piece)) + text.substr(at, longest);
    at += longest;
    piece = at;
  }
  return out + nfc.apply(text.substr(piece));
}

TEST(TokenizerFuzz, RoundTripsAndStreamsLikeWholeDecode) {
  const uint64_t seed = env_number("ROTOR_TEST_SEED", 20251208);
  const uint64_t inputs = env_number("ROTOR_FUZZ_INPUTS", 3000);
  const bool trace = std::getenv("ROTOR_FUZZ_TRACE") != nullptr;
  test::print_seed("tokenizer fuzz", seed, inputs);
  const Tokenizer& t = test::qwen3();
  const Normalizer nfc = Normalizer::from_json(nlohmann::json{{"type", "NFC"}});
  TextGen gen(seed, t);
  std::mt19937_64 rng(seed + 1);
  int failures = 0;
  for (uint64_t i = 0; i < inputs && failures < 10; ++i) {
    const std::string text = gen.text();
    if (trace) std::fprintf(stderr, "input %llu: %s\n", static_cast<unsigned long long>(i), excerpt(text, 400).c_str());
    std::string bad;
    std::vector<int32_t> ids;
    try {
      ids = t.encode(text);
    } catch (const std::exception& e) {
      bad = std::string("encode raised ") + e.what();
    }
    for (int32_t id : ids)
      if (bad.empty() && !t.contains(id)) bad = fmt::format("encode gave id {}, not in the vocabulary", id);
    const std::string expected = expected_decode(t, nfc, utf8::repair(text));
    if (bad.empty() && t.decode(ids) != expected)
      bad = "decode(encode(text)) is " + excerpt(t.decode(ids), 400) + ", not " + excerpt(expected, 400);
    // Ids past the vocabulary and negative ones, which decode skips.
    for (int k = 0, n = static_cast<int>(rng() % 4); k < n; ++k)
      ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(rng() % (ids.size() + 1)),
                 std::vector<int32_t>{-1, t.vocab_size(), INT32_MAX, INT32_MIN}[rng() % 4]);
    for (bool skip : {false, true}) {
      IncrementalDetokenizer d(t, skip);
      std::string streamed;
      for (size_t at = 0; at < ids.size() && bad.empty();) {
        const size_t n = rng() % 3 == 0 ? 1 + rng() % 5 : 1;
        const auto chunk = std::span<const int32_t>(ids).subspan(at, std::min(n, ids.size() - at));
        const std::string out = chunk.size() == 1 ? d.push(chunk[0]) : d.push(chunk);
        if (!utf8::is_valid(out)) bad = "push gave invalid UTF-8: " + excerpt(out, 400);
        if (d.pending_bytes() < 0 || d.pending_bytes() > 3) bad = fmt::format("{} bytes pending", d.pending_bytes());
        streamed += out;
        at += chunk.size();
      }
      streamed += d.finish();
      if (bad.empty() && streamed != t.decode(ids, skip))
        bad = fmt::format("streamed (skip_special_tokens={}) {}, decode {}", skip, excerpt(streamed, 400),
                          excerpt(t.decode(ids, skip), 400));
    }
    if (bad.empty()) continue;
    ++failures;
    ADD_FAILURE() << "input " << i << ": " << bad << "\n  text: " << excerpt(text, 400);
  }
}

}  // namespace
}  // namespace rotor
