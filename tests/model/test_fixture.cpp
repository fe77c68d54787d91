// tests/model/test_fixture.cpp — the CPU engine against Hugging Face transformers on every
// bf16 fixture: last-position logits (relative error < 1e-3), argmax at every prompt
// position, 24 greedy tokens, all through the paged KV cache, with the prompt prefilled
// whole and in chunks of 1, 3 and 7 tokens, each prompt alone and all of them in one batch;
// the greedy tokens again with decode attention split by a plan per step.
#include <gtest/gtest.h>

#include "tests/support/offline_generate.h"
#include "kernels/backend.h"
#include "model/load_model.h"
#include "model/safetensors.h"
#include "tests/support/fixture_util.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {

using test::read_reference;
using test::Reference;
using test::rel_err;

class Fixture : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { ops_ = make_cpu_ops().release(); }
  static Ops* ops_;
};
Ops* Fixture::ops_ = nullptr;

// Every reference prompt, greedy, for as many tokens as the reference generated (at least 1).
std::vector<OfflineRequest> greedy_requests(const Reference& ref, bool prompt_outputs) {
  std::vector<OfflineRequest> reqs(ref.ids.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].prompt = ref.ids[i];
    reqs[i].params.temperature = 0.0f;
    reqs[i].max_tokens = ref.greedy[i].empty() ? 1 : static_cast<int>(ref.greedy[i].size());
    reqs[i].ignore_eos = true;
    reqs[i].prompt_argmax = prompt_outputs;
    reqs[i].prompt_logits = prompt_outputs;
  }
  return reqs;
}

// The requests in one batch, or each alone, prefilled in chunks of `chunk` tokens (0: whole).
std::vector<OfflineResult> generate(ModelRunner& runner, const std::vector<OfflineRequest>& reqs, int chunk,
                                    const std::vector<int>& eos, bool batched) {
  if (batched) return generate_offline(runner, reqs, chunk, eos);
  std::vector<OfflineResult> res;
  for (size_t i = 0; i < reqs.size(); ++i)
    res.push_back(generate_offline(runner, std::span(reqs).subspan(i, 1), chunk, eos)[0]);
  return res;
}

TEST_P(Fixture, MatchesTransformersThroughKvCache) {
  const std::filesystem::path dir = GetParam();
  const Reference ref = read_reference(dir);
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = dir;
  LoadedModel m = load_model(lo, *ops_);
  const int P = static_cast<int>(ref.ids.size());
  const std::vector<OfflineRequest> reqs = greedy_requests(ref, true);
  ModelRunner runner(*ops_, *comm, m.config, std::move(m.weights), offline_runner_options(reqs));

  for (int chunk : {0, 1, 3, 7}) {
    for (bool batched : {false, true}) {
      const std::vector<OfflineResult> res = generate(runner, reqs, chunk, m.config.eos_token_ids, batched);
      for (int i = 0; i < P; ++i) {
        SCOPED_TRACE(::testing::Message() << "prompt " << i << " chunk " << chunk << (batched ? " batched" : " alone"));
        EXPECT_LT(rel_err(ref.last_logits[i], res[i].prompt_logits), 1e-3);
        EXPECT_EQ(res[i].prompt_argmax, ref.argmax[i]);
        if (!ref.greedy[i].empty()) {
          EXPECT_EQ(res[i].output, ref.greedy[i]);
        }
      }
    }
  }
}

// Decode attention by a split plan per step (splits of 16 tokens: every decode of these
// prompts is cut in 2 or 3): the same greedy tokens, each prompt alone and all in one batch,
// with decodes beside prefill chunks (chunk 3) and without.
TEST_P(Fixture, DecodeSplitPlanKeepsTheGreedyTokens) {
  const std::filesystem::path dir = GetParam();
  const Reference ref = read_reference(dir);
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = dir;
  LoadedModel m = load_model(lo, *ops_);
  const int P = static_cast<int>(ref.ids.size());
  const std::vector<OfflineRequest> reqs = greedy_requests(ref, false);
  RunnerOptions ro = offline_runner_options(reqs);
  ro.decode_splits = {DecodeSplitOptions::Mode::Plan, 16};
  ModelRunner runner(*ops_, *comm, m.config, std::move(m.weights), ro);
  ASSERT_GT(ro.max_model_len, 32);
  for (int chunk : {0, 3}) {
    for (bool batched : {false, true}) {
      const std::vector<OfflineResult> res = generate(runner, reqs, chunk, m.config.eos_token_ids, batched);
      for (int i = 0; i < P; ++i) {
        SCOPED_TRACE(::testing::Message() << "prompt " << i << " chunk " << chunk << (batched ? " batched" : " alone"));
        if (!ref.greedy[i].empty()) {
          EXPECT_EQ(res[i].output, ref.greedy[i]);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Fixture, ::testing::ValuesIn(test::bf16_fixtures()),
                         [](const auto& info) { return test::fixture_name(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fixture);

}  // namespace
}  // namespace rotor
