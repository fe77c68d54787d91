// tests/tokenizer/test_detokenizer.cpp — the incremental detokenizer: streamed pieces are
// complete characters and concatenate to the full decode, for random id sequences (which
// split characters across tokens and contain ill-formed byte sequences).
#include <gtest/gtest.h>

#include <random>

#include "tests/tokenizer/tokenizer_test_util.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

TEST(IncrementalDetokenizer, HoldsASplitCharacterUntilComplete) {
  const Tokenizer& t = test::qwen3();
  const std::vector<int32_t> ids = t.encode("ok 👨‍👩‍👧 量子");
  IncrementalDetokenizer d(t);
  std::string all;
  bool held = false;
  for (int32_t id : ids) {
    const std::string piece = d.push(id);
    EXPECT_TRUE(utf8::is_valid(piece));
    held = held || d.pending_bytes() > 0;
    all += piece;
  }
  EXPECT_TRUE(held) << "the emoji should span tokens";
  EXPECT_EQ(d.pending_bytes(), 0);
  all += d.finish();
  EXPECT_EQ(all, "ok 👨‍👩‍👧 量子");
}

TEST(IncrementalDetokenizer, IncompleteTailBecomesOneReplacementCharacter) {
  const Tokenizer& t = test::qwen3();
  const std::vector<int32_t> ids = t.encode("\U0001F9CC");  // troll: two tokens
  ASSERT_GE(ids.size(), 2u);
  IncrementalDetokenizer d(t);
  EXPECT_EQ(d.push(ids[0]), "");
  EXPECT_GT(d.pending_bytes(), 0);
  EXPECT_EQ(d.finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(t.decode(std::span(ids).first(1)), "\xEF\xBF\xBD");
}

// Random ids, biased toward the 256 single-byte tokens and multi-byte fragments.
TEST(IncrementalDetokenizer, StreamEqualsFullDecodeOnRandomIds) {
  const Tokenizer& t = test::qwen3();
  std::vector<int32_t> fragments;  // tokens whose bytes are not complete UTF-8 on their own
  for (int32_t id = 0; id < t.vocab_size(); ++id)
    if (t.contains(id) && !utf8::is_valid(t.token_bytes(id))) fragments.push_back(id);
  ASSERT_GT(fragments.size(), 1000u);
  std::mt19937 rng(3);
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<int32_t> ids(rng() % 40);
    for (int32_t& id : ids) {
      switch (rng() % 4) {
        case 0: id = static_cast<int32_t>(rng() % 256); break;
        case 1: id = fragments[rng() % fragments.size()]; break;
        case 2: id = static_cast<int32_t>(151640 + rng() % 300); break;  // specials and ids past the vocab
        default: id = static_cast<int32_t>(rng() % t.vocab_size()); break;
      }
    }
    for (bool skip : {false, true}) {
      IncrementalDetokenizer d(t, skip);
      std::string all;
      for (int32_t id : ids) {
        const std::string piece = d.push(id);
        ASSERT_TRUE(utf8::is_valid(piece));
        all += piece;
      }
      all += d.finish();
      ASSERT_EQ(all, t.decode(ids, skip));
    }
  }
}

}  // namespace
}  // namespace rotor
