// tests/tokenizer/test_tokenizer.cpp — encode and decode against Hugging Face tokenizers: the
// shared fixture cases, edge cases and small tokenizers made by gen_tokenizer_cases.py, token
// lookups, and load errors.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/tokenizer/tokenizer_test_util.h"

namespace rotor {
namespace {

using test::data_dir;
using test::qwen3;
using test::read_json;
using test::shared_dir;

// Checks every {"text", "ids", "decoded"[, "decoded_skip"]} case; reports the first failures.
void check_cases(const Tokenizer& tok, const nlohmann::ordered_json& cases, const std::string& what) {
  int failures = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = tok.encode(text);
    if (ids != expected && failures++ < 5) ADD_FAILURE() << what << ": encode " << c["text"].dump();
    if (tok.decode(expected) != c["decoded"].get<std::string>() && failures++ < 5)
      ADD_FAILURE() << what << ": decode " << c["text"].dump();
    if (c.contains("decoded_skip") && tok.decode(expected, true) != c["decoded_skip"].get<std::string>() &&
        failures++ < 5)
      ADD_FAILURE() << what << ": decode(skip_special_tokens) " << c["text"].dump();
  }
  EXPECT_EQ(failures, 0) << what << ": " << cases.size() << " cases";
}

TEST(Tokenizer, SharedFixtureCases) {
  const auto path = shared_dir() / "fixtures" / "text" / "tokenizer_cases.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  const auto tok = Tokenizer::from_file(shared_dir() / "tokenizers" / "qwen3" / "tokenizer.json");
  const auto cases = read_json(path);
  ASSERT_GE(cases.size(), 200u);
  check_cases(*tok, cases, "shared tokenizer.json");
  check_cases(qwen3(), cases, "embedded");
}

TEST(Tokenizer, ChatTemplateFixtureIds) {
  const auto path = shared_dir() / "fixtures" / "text" / "chat_template_cases.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  for (const auto& c : read_json(path))
    EXPECT_EQ(qwen3().encode(c["rendered"].get<std::string>()), c["ids"].get<std::vector<int32_t>>());
}

TEST(Tokenizer, Qwen3EdgeCases) { check_cases(qwen3(), read_json(data_dir() / "qwen3_extra_cases.json"), "qwen3 extra"); }

TEST(Tokenizer, SmallTokenizers) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(data_dir())) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("tiny_") || name.ends_with("_cases.json")) continue;
    const auto tok = Tokenizer::from_file(e.path());
    const std::string stem = e.path().stem().string();
    check_cases(*tok, read_json(data_dir() / (stem + "_cases.json")), stem);
    ++n;
  }
  EXPECT_GE(n, 9);
}

TEST(Tokenizer, Lookups) {
  const Tokenizer& t = qwen3();
  EXPECT_EQ(t.vocab_size(), 151669);
  EXPECT_EQ(t.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(t.token_to_id("Hello"), 9707);
  EXPECT_EQ(t.token_to_id("ĠHello"), 21927);
  EXPECT_FALSE(t.token_to_id("no such token").has_value());
  EXPECT_EQ(t.id_to_token(151644), "<|im_start|>");
  EXPECT_EQ(t.id_to_token(220), "Ġ");
  EXPECT_EQ(t.token_bytes(220), " ");
  EXPECT_TRUE(t.is_special(151643));
  EXPECT_FALSE(t.is_special(151657));  // <tool_call> is an added token but not special
  EXPECT_FALSE(t.contains(151669));
  EXPECT_FALSE(t.contains(-1));
}

// U+11A7 after a Hangul syllable (or L + V jamo) was dropped by NFC (utf8proc composed it as a
// trailing consonant). Ids from Hugging Face tokenizers 0.23.3.
TEST(Tokenizer, HangulTBaseIsKept) {
  const Tokenizer& t = qwen3();
  const std::pair<std::string, std::vector<int32_t>> cases[] = {
      {"\uc1fc\u11a7", {144100, 124137, 100}},
      {"\u1100\u1161\u11a7", {19969, 124137, 100}},
      {"\uac00\u11a7\u11a8", {19969, 124137, 100, 147979}},
      {"\u1100\u1161\u11a8", {126317}},
  };
  for (const auto& [text, ids] : cases) {
    const std::string utf8 = nlohmann::json::parse("\"" + text + "\"").get<std::string>();
    EXPECT_EQ(t.encode(utf8), ids) << text;
  }
}

TEST(Tokenizer, DecodeSkipsIdsOutsideTheVocabulary) {
  const std::vector<int32_t> ids{9707, 151700, -5, 1879, 151935};
  EXPECT_EQ(qwen3().decode(ids), "Hello world");
}

TEST(Tokenizer, DecodeSkipSpecialTokens) {
  const std::vector<int32_t> ids{151644, 872, 198, 6023, 151645, 151657};
  EXPECT_EQ(qwen3().decode(ids, false), "<|im_start|>user\nhi<|im_end|><tool_call>");
  EXPECT_EQ(qwen3().decode(ids, true), "user\nhi<tool_call>");
}

TEST(Tokenizer, LoadErrorsNameTheProblem) {
  auto expect_error = [](const std::string& json, const std::string& needle) {
    try {
      Tokenizer::from_json(json);
      ADD_FAILURE() << "no error for " << json;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string bpe = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
  const std::string dec = R"("decoder": {"type": "ByteLevel"})";
  expect_error("{", "not valid JSON");
  expect_error("{}", "no model");
  expect_error(R"({"model": {"type": "WordPiece", "vocab": {}}, )" + dec + "}", "WordPiece");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}, )" + dec + "}", "merge 0");
  expect_error("{" + bpe + R"(, "decoder": {"type": "WordPiece"}})", "decoder");
  expect_error("{" + bpe + ", " + dec + R"(, "normalizer": {"type": "Lowercase"}})", "Lowercase");
  expect_error("{" + bpe + ", " + dec + R"(, "pre_tokenizer": {"type": "Whitespace"}})", "Whitespace");
  expect_error("{" + bpe + ", " + dec + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}}})",
               "does not compile");
  expect_error(R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {}, "merges": []}, )" + dec + "}",
               "byte_fallback");
}

TEST(Tokenizer, LongPiecesMergeLikeShortOnes) {
  // Pieces longer than the short-path limit take the priority-queue path; both must agree
  // with the rank order, whichever way a run is split into pieces.
  const Tokenizer& t = qwen3();
  for (int n : {1, 2, 47, 48, 49, 50, 97, 300, 1001}) {
    const std::string word(static_cast<size_t>(n), 'a');
    const std::vector<int32_t> ids = t.encode(word);
    EXPECT_EQ(t.decode(ids), word);
    std::vector<int32_t> again;
    for (int32_t id : ids) {
      const auto b = t.token_bytes(id);
      again.push_back(t.encode(std::string(b))[0]);
    }
    EXPECT_EQ(again, ids) << n;
  }
}

}  // namespace
}  // namespace rotor
