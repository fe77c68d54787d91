// tests/tokenizer/test_utf8.cpp — the invalid-UTF-8 policy (U+FFFD per maximal ill-formed
// subsequence, as Python's errors="replace"), the streaming decoder, one-character decode, and a
// bounded random-bytes fuzz of encode/decode.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "tests/tokenizer/tokenizer_test_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

// Expected results from Python: bytes.decode("utf-8", "replace").
TEST(Utf8, RepairReplacesMaximalSubparts) {
  const std::string r = "\xEF\xBF\xBD";
  const std::pair<std::string, std::string> cases[] = {
      {"plain", "plain"},
      {"\xE2\x82\xAC", "\xE2\x82\xAC"},
      {"a\xFF" "b", "a" + r + "b"},
      {"\xE2\x82", r},
      {"\xE2\x82" "a", r + "a"},
      {"\xF0\x80\x80", r + r + r},
      {"\xED\xA0\x80", r + r + r},
      {"\xC0\xAF", r + r},
      {"\xF4\x90\x80\x80", r + r + r + r},
      {"\xF0\x9F\x99", r},
      {"\xF0\x9F\x99\x82\x82", "\xF0\x9F\x99\x82" + r},
      {"\x80\xBF", r + r},
      {std::string("\0a", 2), std::string("\0a", 2)},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(utf8::repair(in), want) << "case " << &in - &cases[0].first;
    EXPECT_EQ(utf8::is_valid(in), in == want);
  }
}

// decode: one well-formed character, or none (pos unchanged) for each kind of ill-formed start.
TEST(Utf8, DecodeOneCharacter) {
  const std::pair<std::string, char32_t> good[] = {
      {"A", U'A'}, {std::string("\0", 1), 0}, {"\xC3\xA9", 0xE9}, {"\xE2\x82\xAC", 0x20AC},
      {"\xEF\xBF\xBF", 0xFFFF}, {"\xF0\x9F\x98\x80", 0x1F600}, {"\xF4\x8F\xBF\xBF", 0x10FFFF}};
  for (const auto& [s, cp] : good) {
    size_t pos = 0;
    EXPECT_EQ(utf8::decode(s + "z", pos), std::optional<char32_t>(cp)) << testing::PrintToString(s);
    EXPECT_EQ(pos, s.size());
  }
  for (const char* s : {"\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xC3", "\xC3" "A", "\xE2\x82", "\xE0\x9F\xBF",
                        "\xED\xA0\x80", "\xE2\x82" "A", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF0\x9F\x98",
                        "\xF5\x80\x80\x80", "\xFF"}) {
    size_t pos = 0;
    EXPECT_EQ(utf8::decode(s, pos), std::nullopt) << testing::PrintToString(std::string(s));
    EXPECT_EQ(pos, 0u);
  }
}

TEST(Utf8, StreamingEqualsRepairOnRandomBytes) {
  std::mt19937 rng(1);
  const uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 2 ? interesting[rng() % sizeof interesting] : rng() % 256);
    std::string streamed;
    utf8::StreamDecoder d;
    for (char c : s) d.push(static_cast<uint8_t>(c), streamed);
    d.finish(streamed);
    ASSERT_EQ(streamed, utf8::repair(s));
    ASSERT_TRUE(utf8::is_valid(streamed));
    // decode walks s to its end exactly when the stream decoder changed nothing.
    size_t pos = 0;
    while (pos < s.size() && utf8::decode(s, pos)) {
    }
    ASSERT_EQ(pos == s.size(), streamed == s);
  }
}

// Random bytes through encode and decode: never an exception or crash, and the round trip
// gives back the repaired, NFC-normalized text (byte-level BPE loses nothing else).
TEST(Utf8, FuzzEncodeDecodeRandomBytes) {
  const Tokenizer& t = test::qwen3();
  const Normalizer nfc = Normalizer::from_json(nlohmann::json{{"type", "NFC"}});
  std::mt19937 rng(2);
  const char* pieces[] = {"<|im_start|>", "<|im_end|>", "<think>", " ", "\n", "\xCC\x81", "\xE4\xB8", "\xF0\x9F"};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const size_t n = rng() % 64;
    while (s.size() < n) {
      if (rng() % 8 == 0) s += pieces[rng() % 8];
      else s.push_back(static_cast<char>(rng() % 256));
    }
    std::vector<int32_t> ids;
    ASSERT_NO_THROW(ids = t.encode(s));
    for (int32_t id : ids) ASSERT_TRUE(t.contains(id));
    const std::string back = t.decode(ids);
    ASSERT_TRUE(utf8::is_valid(back));
    ASSERT_EQ(back, nfc.apply(utf8::repair(s)));
    ASSERT_EQ(ids, t.encode(utf8::repair(s)));
  }
}

}  // namespace
}  // namespace rotor
