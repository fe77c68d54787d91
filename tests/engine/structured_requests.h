// tests/engine/structured_requests.h — structured-output requests for the engine tests (CPU and
// GPU, one rank or several) on the tiny fixture: a regex and a JSON schema grammar over the
// Qwen3 vocabulary (bounded languages, so every output ends), a batch of 8 seeded, sampled
// requests (regex, schema and unconstrained in turn), the check that the constrained outputs
// are in their language and end on eos, and CheckedConstraint: a matcher that also checks how
// the engine drives it.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "structured/json_schema.h"
#include "structured/matcher.h"
#include "structured/regex.h"
#include "tokenizer/tokenizer.h"

namespace rotor::test {

inline constexpr int32_t kTinyEos = 151645;  // the tiny fixture's eos_token_id
inline const char* const kStructuredRegex = "(yes|no|maybe), [a-z]{1,8}\\.";
inline const char* const kStructuredSchema = R"({"type": "object", "properties": {
  "a": {"type": "integer", "minimum": 0, "maximum": 999}, "b": {"enum": ["x", "y"]},
  "c": {"type": "string", "maxLength": 5}}, "required": ["a", "b", "c"], "additionalProperties": false})";

// The two grammars, compiled once for the tiny fixture's vocabulary.
inline std::shared_ptr<const structured::CompiledGrammar> tiny_grammar(bool schema) {
  static const auto table = structured::TokenTable::from_tokenizer(*Tokenizer::embedded_qwen3(), 151936, {kTinyEos});
  static const auto regex = structured::CompiledGrammar::compile(structured::regex_grammar(kStructuredRegex), table);
  static const auto json = structured::CompiledGrammar::compile(structured::json_schema_grammar(kStructuredSchema), table);
  return schema ? json : regex;
}

// A GrammarMatcher that also checks the engine's use of it: one call at a time, and exactly one
// accepted token between two bitmasks (none before the first) — the constraint advances once
// per step that samples for it, however many ranks sample.
class CheckedConstraint final : public TokenConstraint {
 public:
  explicit CheckedConstraint(std::shared_ptr<const structured::CompiledGrammar> g) : matcher_(std::move(g)) {}
  bool accept_token(int32_t token) override {
    const Call call(*this);
    ++since_fill_;
    return matcher_.accept_token(token);
  }
  void fill_bitmask(std::span<uint32_t> bitmask) override {
    const Call call(*this);
    if (since_fill_ != (fills_ == 0 ? 0 : 1)) ++misuses_;
    ++fills_;
    since_fill_ = 0;
    matcher_.fill_bitmask(bitmask);
  }
  bool is_terminated() const override { return matcher_.is_terminated(); }
  void rollback(int n) override { matcher_.rollback(n); }
  int num_accepted() const override { return matcher_.num_accepted(); }

  int fills() const { return fills_; }
  // Overlapping calls, and bitmasks after no or several new tokens.
  int misuses() const { return misuses_; }

 private:
  struct Call {
    explicit Call(CheckedConstraint& c) : c(c) {
      if (c.inside_.exchange(true)) ++c.misuses_;
    }
    ~Call() { c.inside_ = false; }
    CheckedConstraint& c;
  };
  structured::GrammarMatcher matcher_;
  std::atomic<bool> inside_{false};
  std::atomic<int> misuses_{0};
  int fills_ = 0, since_fill_ = 0;
};

// 8 seeded, sampled requests: i % 3 == 0 under the regex, 1 under the schema (each with a
// CheckedConstraint, in `checked` by request), 2 unconstrained with fewer tokens.
inline std::vector<EngineRequest> structured_requests(std::vector<std::shared_ptr<CheckedConstraint>>* checked = nullptr) {
  std::vector<EngineRequest> out;
  for (int i = 0; i < 8; ++i) {
    EngineRequest r;
    r.prompt_token_ids = {1000 + i, 2000, 3000 + 7 * i};
    r.params.temperature = 1.0f;
    r.params.seed = 100 + i;
    r.params.max_tokens = i % 3 == 2 ? 40 : 200;
    std::shared_ptr<CheckedConstraint> c;
    if (i % 3 != 2) r.constraint = c = std::make_shared<CheckedConstraint>(tiny_grammar(i % 3 == 1));
    if (checked) checked->push_back(c);
    out.push_back(std::move(r));
  }
  return out;
}

// Submits the requests and waits for every output, in order.
inline std::vector<RequestOutput> run_requests(Engine& engine, std::vector<EngineRequest> requests) {
  std::vector<RequestHandle> handles;
  for (EngineRequest& r : requests) handles.push_back(engine.submit(std::move(r)));
  std::vector<RequestOutput> out;
  for (RequestHandle& h : handles) out.push_back(h.wait());
  return out;
}

// The constrained outputs of structured_requests() end on eos, in their language.
inline void expect_in_language(const std::vector<RequestOutput>& out) {
  const auto tok = Tokenizer::embedded_qwen3();
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NE(out[i].finish_reason, FinishReason::Error) << out[i].error;
    if (i % 3 == 2) continue;
    ASSERT_EQ(out[i].finish_reason, FinishReason::Stop) << "request " << i;
    ASSERT_FALSE(out[i].token_ids.empty());
    EXPECT_EQ(out[i].token_ids.back(), kTinyEos);
    const std::string text = tok->decode(std::vector<int32_t>(out[i].token_ids.begin(), out[i].token_ids.end() - 1));
    if (i % 3 == 0) {
      EXPECT_TRUE(std::regex_match(text, std::regex(kStructuredRegex))) << text;
      continue;
    }
    const nlohmann::json v = nlohmann::json::parse(text);
    EXPECT_TRUE(v["a"].is_number_integer() && v["a"].get<int>() >= 0 && v["a"].get<int>() <= 999) << text;
    EXPECT_TRUE(v["b"] == "x" || v["b"] == "y") << text;
    EXPECT_TRUE(v["c"].is_string()) << text;
    EXPECT_EQ(v.size(), 3u) << text;
  }
}

// Each CheckedConstraint was used as it should be: a bitmask for every token its request drew
// (one more with async scheduling: the step launched before the eos came back).
inline void expect_driven_once_per_step(const std::vector<std::shared_ptr<CheckedConstraint>>& checked,
                                        const std::vector<RequestOutput>& out) {
  for (size_t i = 0; i < checked.size(); ++i) {
    if (!checked[i]) continue;
    EXPECT_EQ(checked[i]->misuses(), 0) << "request " << i;
    const int drawn = static_cast<int>(out[i].token_ids.size());
    EXPECT_GE(checked[i]->fills(), drawn) << "request " << i;
    EXPECT_LE(checked[i]->fills(), drawn + 1) << "request " << i;
  }
}

}  // namespace rotor::test
