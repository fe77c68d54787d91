// tests/structured/structured_test_util.h — the real Qwen3 vocabulary (the tokenizer embedded
// in the binary) as a grammar token table, a brute-force reference of the next-token mask
// (every token tried with accept_token, then rolled back) and walks comparing it with the
// matcher's, random walks that sample allowed tokens until the grammar ends, and a long
// literal's text.
#pragma once
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "structured/compiled_grammar.h"
#include "structured/matcher.h"
#include "structured/token_table.h"
#include "tokenizer/tokenizer.h"

namespace rotor::structured::testing {

constexpr int kQwen3Vocab = 151936;  // the model's vocabulary (the tokenizer has 151,669 ids)
constexpr int32_t kEndOfText = 151643, kImEnd = 151645;

inline std::shared_ptr<const TokenTable> qwen3_tokens() {
  static const std::shared_ptr<const TokenTable> t =
      TokenTable::from_tokenizer(*Tokenizer::embedded_qwen3(), kQwen3Vocab, {kEndOfText, kImEnd});
  return t;
}

inline std::vector<uint32_t> mask_of(GrammarMatcher& m) {
  std::vector<uint32_t> bits(static_cast<size_t>(m.grammar().tokens().words()));
  m.fill_bitmask(bits);
  return bits;
}

// The mask by definition: a token is allowed iff the matcher accepts it.
inline std::vector<uint32_t> brute_force_mask(GrammarMatcher& m) {
  const TokenTable& t = m.grammar().tokens();
  std::vector<uint32_t> bits(static_cast<size_t>(t.words()), 0);
  for (int32_t id = 0; id < t.vocab_size(); ++id)
    if (m.accept_token(id)) {
      set_bit(bits, id);
      m.rollback(1);
    }
  return bits;
}

// Ids where two masks differ (at most `limit` of them).
inline std::vector<int32_t> mask_diff(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, int vocab,
                                      size_t limit = 10) {
  std::vector<int32_t> d;
  for (int32_t id = 0; id < vocab && d.size() < limit; ++id)
    if (test_bit(a, id) != test_bit(b, id)) d.push_back(id);
  return d;
}

inline std::vector<int32_t> allowed_ids(const std::vector<uint32_t>& bits, int vocab) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < vocab; ++id)
    if (test_bit(bits, id)) ids.push_back(id);
  return ids;
}

// Walks randomly and at each of the first `checks` steps compares the mask with brute force.
inline void check_masks(const std::shared_ptr<const CompiledGrammar>& g, int seed, int checks) {
  std::mt19937 rng(seed);
  GrammarMatcher m(g);
  const TokenTable& t = g->tokens();
  std::string text;
  for (int k = 0; k < checks; ++k) {
    const std::vector<uint32_t> fast = mask_of(m), slow = brute_force_mask(m);
    ASSERT_EQ(fast, slow) << "after '" << text << "', tokens " << ::testing::PrintToString(mask_diff(fast, slow, t.vocab_size()));
    std::vector<int32_t> ids = allowed_ids(fast, t.vocab_size());
    std::erase_if(ids, [&](int32_t id) { return t.is_stop(id); });
    if (ids.empty()) return;
    const int32_t pick = ids[std::uniform_int_distribution<size_t>(0, ids.size() - 1)(rng)];
    ASSERT_TRUE(m.accept_token(pick));
    text += t.bytes_of(pick);
  }
}

// An allowed token of `bits`: a one-byte one with probability 1/2 (so strings close and lists
// end), else any; -1 if none is allowed.
inline int32_t pick_allowed(const std::vector<uint32_t>& bits, const TokenTable& t, std::mt19937& rng) {
  const std::vector<int32_t> ids = allowed_ids(bits, t.vocab_size());
  if (ids.empty()) return -1;
  std::vector<int32_t> short_ids;
  for (int32_t id : ids)
    if (t.bytes_of(id).size() == 1) short_ids.push_back(id);
  std::uniform_real_distribution<double> u(0, 1);
  const std::vector<int32_t>& from = !short_ids.empty() && u(rng) < 0.5 ? short_ids : ids;
  return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
}

// Samples allowed tokens until a stop token is accepted or max_tokens: a stop token with
// probability p_stop when allowed, else pick_allowed's. The text, or nullopt if it ran out.
inline std::optional<std::string> random_walk(GrammarMatcher& m, std::mt19937& rng, int max_tokens,
                                              double p_stop = 0.3) {
  const TokenTable& t = m.grammar().tokens();
  std::string text;
  for (int k = 0; k < max_tokens; ++k) {
    const std::vector<uint32_t> bits = mask_of(m);
    int32_t pick = pick_allowed(bits, t, rng);
    EXPECT_GE(pick, 0) << "no token allowed after '" << text << "'";
    if (pick < 0) return std::nullopt;
    std::uniform_real_distribution<double> u(0, 1);
    if (test_bit(bits, t.stop_ids()[0]) && u(rng) < p_stop) pick = t.stop_ids()[0];
    EXPECT_TRUE(m.accept_token(pick)) << "allowed token " << pick << " refused after '" << text << "'";
    if (t.is_stop(pick)) return text;
    text += t.bytes_of(pick);
  }
  return std::nullopt;
}

// The texts of those of `walks` random walks (up to max_tokens each) that ended.
inline std::vector<std::string> ended_walks(const std::shared_ptr<const CompiledGrammar>& g, std::mt19937& rng,
                                            int walks, int max_tokens) {
  std::vector<std::string> texts;
  for (int k = 0; k < walks; ++k) {
    GrammarMatcher m(g);
    if (std::optional<std::string> text = random_walk(m, rng, max_tokens)) texts.push_back(std::move(*text));
  }
  return texts;
}

// n bytes of words ("alpha beta gamma ..."): a long literal that is not one repeated unit.
inline std::string repeated_text(size_t n) {
  std::string s;
  const char* words[] = {"alpha ", "beta ", "gamma ", "alpha beta ", "delta"};
  for (size_t i = 0; s.size() < n; ++i) s += words[(i * 7 + i / 3) % 5];
  s.resize(n);
  return s;
}

}  // namespace rotor::structured::testing
