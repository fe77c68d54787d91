// tests/model/test_fp8_kv.cpp — the model with an FP8 (e4m3) KV cache against the same model
// with a bf16 KV cache (what --kv-cache-dtype fp8 replaces), on every fixture: the
// fixture's prompts plus longer random ones, prefilled in chunks (so later chunks read earlier
// chunks' keys back from the cache) and then decoded greedily, with scales of 1 and with scales
// computed from the first prefill. Measured: the relative error of the last-position logits,
// the argmax agreement over every prompt position and the greedy tokens' agreement; the bf16
// cache against the CPU's f32 cache is measured beside them as the floor the random-weight
// fixtures set (their logits over 151936 tokens are nearly flat, so small errors flip argmaxes).
#include <gtest/gtest.h>


#include "kernels/backend.h"
#include "model/load_model.h"
#include "tests/support/fixture_util.h"
#include "tests/support/offline_generate.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {

using test::read_reference;
using test::rel_err;

constexpr int kChunk = 37;
constexpr int kDecode = 8;

std::vector<OfflineResult> run(Ops& ops, const std::filesystem::path& dir,
                               const std::vector<std::vector<int32_t>>& prompts, KvCacheDtype dtype, bool calculate) {
  auto comm = make_local_comm();
  LoadOptions lo;
  lo.model = dir;
  LoadedModel m = load_model(lo, ops);
  const std::vector<OfflineRequest> reqs = test::greedy_prompt_requests(prompts, kDecode);
  RunnerOptions ro = offline_runner_options(reqs);
  ro.max_num_tokens = static_cast<int>(prompts.size()) * kChunk;
  ro.kv_cache_dtype = dtype;
  ro.calculate_kv_scales = calculate;
  ModelRunner runner(ops, *comm, m.config, std::move(m.weights), ro);
  return generate_offline(runner, reqs, kChunk, m.config.eos_token_ids);
}

struct Agreement {
  double worst_rel = 0;    // last-position logits, the worst prompt
  double prompt = 0;       // argmax after every prompt position
  double greedy = 0;       // greedy tokens up to (not counting) the first that differs, per token generated
};

Agreement compare(const std::vector<OfflineResult>& ref, const std::vector<OfflineResult>& got) {
  Agreement a;
  size_t same = 0, positions = 0, greedy_same = 0, greedy_all = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    a.worst_rel = std::max(a.worst_rel, rel_err(ref[i].prompt_logits, got[i].prompt_logits));
    for (size_t p = 0; p < ref[i].prompt_argmax.size(); ++p) same += ref[i].prompt_argmax[p] == got[i].prompt_argmax[p];
    positions += ref[i].prompt_argmax.size();
    size_t k = 0;
    while (k < ref[i].output.size() && ref[i].output[k] == got[i].output[k]) ++k;
    greedy_same += k;
    greedy_all += ref[i].output.size();
  }
  a.prompt = double(same) / double(positions);
  a.greedy = double(greedy_same) / double(greedy_all);
  return a;
}

class Fp8KvFixture : public ::testing::TestWithParam<std::string> {};

// The bounds: e4m3 keeps 3 mantissa bits, so each cached element is off by up to 2^-4 of
// itself (bf16: 2^-9), and below 2^-6 (times the scale) e4m3 is subnormal and coarser still.
// Measured against the bf16 cache (2026-12-05): the last-position logits' worst relative
// error is 0.044 / 0.090 / 0.215 (tiny / alt / yarn) with scales of 1, and 0.052 / 0.107 /
// 0.056 with computed scales (yarn's hidden-16 model has small values that scales of 1 put in
// e4m3's subnormal range); prompt argmax agreement 0.917 to 0.965, where the bf16 cache itself
// agrees with f32 at 0.995 to 1.0. These random-weight fixtures have nearly flat logits over
// 151936 tokens, so small errors flip argmaxes: the 97% is for a trained model and is
// not measurable here. Bounds: relative error < 0.25 (scales of 1) and < 0.12 (computed),
// agreement >= 0.90. The W8A8 fixture turns small changes of an activation into int8 code
// flips: there the bf16 cache itself agrees with f32 at only 0.93 (rel. err. 0.028) and e4m3 at
// 0.872 / 0.874 (rel. err. 0.052 / 0.055): agreement >= 0.85 there.
TEST_P(Fp8KvFixture, CloseToBf16KvCache) {
  const std::filesystem::path dir = GetParam();
  const int vocab = nlohmann::json::parse(std::ifstream(dir / "config.json"))["vocab_size"];
  const std::vector<std::vector<int32_t>> prompts = test::with_random_prompts(read_reference(dir).ids, vocab, 11);
  auto ops = make_cpu_ops();
  const std::vector<OfflineResult> f32 = run(*ops, dir, prompts, KvCacheDtype::Auto, false);
  const std::vector<OfflineResult> bf16 = run(*ops, dir, prompts, KvCacheDtype::BFloat16, false);
  const Agreement floor = compare(f32, bf16);
  std::printf("%s, bf16 KV against f32 KV: logits rel. err. %.4f, prompt argmax %.4f, greedy %.4f\n",
              dir.filename().c_str(), floor.worst_rel, floor.prompt, floor.greedy);
  for (bool calculate : {false, true}) {
    SCOPED_TRACE(calculate ? "computed scales" : "scales of 1");
    const Agreement a = compare(bf16, run(*ops, dir, prompts, KvCacheDtype::Fp8E4M3, calculate));
    std::printf("%s, fp8 KV (%s) against bf16 KV: logits rel. err. %.4f, prompt argmax %.4f, greedy %.4f\n",
                dir.filename().c_str(), calculate ? "computed scales" : "scales of 1", a.worst_rel, a.prompt,
                a.greedy);
    EXPECT_LT(a.worst_rel, calculate ? 0.12 : 0.25);
    EXPECT_GE(a.prompt, test::is_w8a8_fixture(dir) ? 0.85 : 0.90);
    EXPECT_GT(a.worst_rel, floor.worst_rel);  // the test sees e4m3's rounding at all
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Fp8KvFixture, ::testing::ValuesIn(test::bf16_fixtures()),
                         [](const auto& info) { return test::fixture_name(info.param); });
INSTANTIATE_TEST_SUITE_P(W8A8Fixtures, Fp8KvFixture, ::testing::ValuesIn(test::w8a8_fixture_dirs()),
                         [](const auto& info) { return test::fixture_name(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fp8KvFixture);

}  // namespace
}  // namespace rotor
