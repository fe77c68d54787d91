// tests/model/test_engine_structured_cuda.cpp — structured outputs through the Engine on the
// GPU (the tiny fixture on CUDA ops): under a regex and a JSON schema grammar (bounded
// languages, so every output ends) the text is in the language and ends on eos; sampled
// tokens are identical with async scheduling on and off and CUDA graphs on and off (a
// constrained step runs eagerly: the bitmask is filled on the host while the forward runs);
// and the runner's part alone (tests/model/runner_bitmask_check.h). Skipped without a GPU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "comm/communicator.h"
#include "engine/engine.h"
#include "kernels/cuda/cuda_ops.h"
#include "model/load_model.h"
#include "structured/json_schema.h"
#include "structured/matcher.h"
#include "structured/regex.h"
#include "tests/model/fixture_util.h"
#include "tests/model/runner_bitmask_check.h"
#include "tokenizer/tokenizer.h"

namespace rotor {
namespace {

using namespace structured;

constexpr int32_t kEos = 151645;
const char* kRegex = "(yes|no|maybe), [a-z]{1,8}\\.";
const char* kSchema = R"({"type": "object", "properties": {
  "a": {"type": "integer", "minimum": 0, "maximum": 999}, "b": {"enum": ["x", "y"]},
  "c": {"type": "string", "maxLength": 5}}, "required": ["a", "b", "c"], "additionalProperties": false})";

std::vector<RequestOutput> run(Ops& ops, Communicator& comm, bool async, bool graphs) {
  LoadOptions lo;
  lo.model = test::fixtures_dir() / "tiny-qwen3-moe";
  LoadedModel m = load_model(lo, ops);
  EngineConfig c;
  c.max_model_len = 512;
  c.max_num_seqs = 8;
  c.max_num_batched_tokens = 256;
  c.kv_cache_memory_bytes = 64 * (128 << 10);
  c.async_scheduling = async;
  c.cuda_graphs = graphs;
  auto e = Engine::create(c, ops, comm, m.config, std::move(m.weights));
  static const auto table = TokenTable::from_tokenizer(*Tokenizer::embedded_qwen3(), 151936, {kEos});
  static const auto regex = CompiledGrammar::compile(regex_grammar(kRegex), table);
  static const auto schema = CompiledGrammar::compile(json_schema_grammar(kSchema), table);
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

TEST(GpuEngineStructured, OutputsAreInTheLanguageAcrossAsyncAndGraphs) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  if (!std::filesystem::exists(test::fixtures_dir() / "tiny-qwen3-moe" / "config.json")) GTEST_SKIP() << "no fixture";
  auto ops = make_cuda_ops(0);
  auto comm = make_local_comm();
  const auto tok = Tokenizer::embedded_qwen3();
  const std::vector<RequestOutput> ref = run(*ops, *comm, false, false);
  for (size_t i = 0; i < ref.size(); ++i) {
    if (i % 3 == 2) continue;
    ASSERT_EQ(ref[i].finish_reason, FinishReason::Stop) << "request " << i;
    EXPECT_EQ(ref[i].token_ids.back(), kEos);
    const std::string text = tok->decode(std::vector<int32_t>(ref[i].token_ids.begin(), ref[i].token_ids.end() - 1));
    if (i % 3 == 0) {
      EXPECT_TRUE(std::regex_match(text, std::regex(kRegex))) << text;
    } else {
      const nlohmann::json v = nlohmann::json::parse(text);
      EXPECT_TRUE(v["a"].is_number_integer() && (v["b"] == "x" || v["b"] == "y") && v["c"].is_string()) << text;
    }
  }
  for (const auto& [async, graphs] : {std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
    const std::vector<RequestOutput> o = run(*ops, *comm, async, graphs);
    for (size_t i = 0; i < ref.size(); ++i)
      EXPECT_EQ(o[i].token_ids, ref[i].token_ids) << "request " << i << " async " << async << " graphs " << graphs;
  }
}

TEST(GpuEngineStructured, RunnerMasksBitmaskRowsAndFillsReadThePreviousStep) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  if (!std::filesystem::exists(test::fixtures_dir() / "tiny-qwen3-moe" / "config.json")) GTEST_SKIP() << "no fixture";
  auto ops = make_cuda_ops(0);
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = test::fixtures_dir() / "tiny-qwen3-moe";
  test::check_runner_bitmasks(*ops, *comm, load_model(lo, *ops));
}

}  // namespace
}  // namespace rotor
