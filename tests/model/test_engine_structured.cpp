// tests/model/test_engine_structured.cpp — structured outputs through the Engine on the tiny
// model: requests under a regex or a JSON schema grammar (bounded languages, so every output
// must end) decode to text in the language, end on eos when the grammar completes, sampled
// tokens are the same with async scheduling on and off, and unconstrained requests in the
// same batch are unaffected; and the runner's part alone (tests/model/runner_bitmask_check.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "structured/json_schema.h"
#include "structured/matcher.h"
#include "structured/regex.h"
#include "tests/model/engine_util.h"
#include "tests/model/runner_bitmask_check.h"
#include "tokenizer/tokenizer.h"

namespace rotor {
namespace {

using namespace structured;

constexpr int32_t kEos = 151645;  // the tiny fixture's eos_token_id
const char* kRegex = "(yes|no|maybe), [a-z]{1,8}\\.";
const char* kSchema = R"({"type": "object", "properties": {
  "a": {"type": "integer", "minimum": 0, "maximum": 999}, "b": {"enum": ["x", "y"]},
  "c": {"type": "string", "maxLength": 5}}, "required": ["a", "b", "c"], "additionalProperties": false})";

class EngineStructured : public test::TinyModel {
 protected:
  static std::shared_ptr<const TokenTable> table() {
    static auto t = TokenTable::from_tokenizer(*Tokenizer::embedded_qwen3(), 151936, {kEos});
    return t;
  }
  // Outputs of 8 requests (regex, schema, unconstrained alternately), seeded, sampled.
  static std::vector<RequestOutput> run(bool async) {
    EngineConfig c;
    c.max_model_len = 512;
    c.max_num_seqs = 8;
    c.max_num_batched_tokens = 256;
    c.kv_cache_memory_bytes = 64 * (128 << 10);
    c.async_scheduling = async;
    auto e = engine(c);
    static const auto regex = CompiledGrammar::compile(regex_grammar(kRegex), table());
    static const auto schema = CompiledGrammar::compile(json_schema_grammar(kSchema), table());
    std::vector<RequestHandle> hs;
    for (int i = 0; i < 8; ++i) {
      EngineRequest r;
      r.prompt_token_ids = {1000 + i, 2000, 3000 + 7 * i};
      r.params.temperature = 1.0f;
      r.params.seed = 100 + i;
      r.params.max_tokens = i % 3 == 2 ? 40 : 200;
      if (i % 3 == 0) r.constraint = std::make_shared<GrammarMatcher>(regex);
      if (i % 3 == 1) r.constraint = std::make_shared<GrammarMatcher>(schema);
      hs.push_back(e->submit(std::move(r)));
    }
    std::vector<RequestOutput> out;
    for (RequestHandle& h : hs) out.push_back(h.wait());
    return out;
  }
};

TEST_F(EngineStructured, OutputsAreInTheLanguageSyncAndAsync) {
  const auto tok = Tokenizer::embedded_qwen3();
  const std::vector<RequestOutput> sync = run(false), async = run(true);
  for (size_t i = 0; i < sync.size(); ++i) {
    EXPECT_EQ(sync[i].token_ids, async[i].token_ids) << "request " << i;
    if (i % 3 == 2) continue;
    ASSERT_EQ(sync[i].finish_reason, FinishReason::Stop) << "request " << i;
    ASSERT_FALSE(sync[i].token_ids.empty());
    EXPECT_EQ(sync[i].token_ids.back(), kEos);
    std::vector<int32_t> ids(sync[i].token_ids.begin(), sync[i].token_ids.end() - 1);
    const std::string text = tok->decode(ids);
    if (i % 3 == 0) {
      EXPECT_TRUE(std::regex_match(text, std::regex(kRegex))) << text;
    } else {
      const nlohmann::json v = nlohmann::json::parse(text);
      EXPECT_TRUE(v["a"].is_number_integer() && v["a"].get<int>() >= 0 && v["a"].get<int>() <= 999) << text;
      EXPECT_TRUE(v["b"] == "x" || v["b"] == "y") << text;
      EXPECT_TRUE(v["c"].is_string()) << text;
      EXPECT_EQ(v.size(), 3u) << text;
    }
  }
}

TEST_F(EngineStructured, RunnerMasksBitmaskRowsAndFillsReadThePreviousStep) {
  test::check_runner_bitmasks(*ops_, *comm_, load());
}

}  // namespace
}  // namespace rotor
