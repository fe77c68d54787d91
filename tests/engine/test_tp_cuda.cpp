// tests/engine/test_tp_cuda.cpp — tensor and expert parallelism on GPUs. With fewer GPUs than
// ranks the ranks share GPU 0 (ROTOR_SAME_DEVICE_RANKS=1: a stream and a lane each, the peer
// all-reduce over one GPU's memory), so one H200 runs all of it:
//   - the `small` fixture (Qwen3-30B-A3B layer shapes, 2 layers) split 2 and 4 ways, by tensor
//     and by expert parallelism, against one rank, on its prompts and two longer random ones:
//     last-position logits within 1e-2 relative error, prompt argmaxes differing from one
//     rank's at most twice as often as one rank's differ from the CPU's f32 ones (+2), every
//     rank sampling alike;
//   - decode with CUDA graphs on and off gives identical tokens (greedy and seeded sampling);
//   - the Engine over 2 ranks (2 layers of 30B-A3B, dummy weights): a mixed batch gives
//     identical tokens with async scheduling on and off and graphs on and off;
//   - masked sampling (allowed_token_ids, bad_words), penalties, log-probs and prompt log-probs
//     through the Engine over 2 ranks: every request finishes within its masks, the same with
//     async scheduling on and off (the samplers' buffers grow before any rank queues a step);
//   - the Engine with a prefill lane on 1 and 2 ranks: the tokens it gives without the lane (up
//     to near ties);
//   - structured outputs through the Engine over 2 ranks (the tiny fixture, tensor and expert
//     parallel): outputs in their grammar's language, each constraint fed once per step, and
//     identical tokens with async scheduling on and off and graphs on and off.
// Skipped without a GPU or without the fixture a test uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "engine/runner/rank_set.h"
#include "engine/runner_factory.h"
#include "tests/support/offline_generate.h"
#include "engine/runner/rank_runners.h"
#include "kernels/backend.h"
#include "tests/support/fixture_util.h"
#include "tests/support/reference.h"
#include "tests/engine/structured_requests.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

// Ranks that share a GPU need every kernel loaded before the first collective
// (comm/placement.h): set before CUDA starts, at static initialisation.
[[maybe_unused]] const bool kEagerKernels = setenv("CUDA_MODULE_LOADING", "EAGER", 0) == 0;

// Ranks on distinct GPUs where there are enough, else all on GPU 0.
void place_ranks(int world) {
  if (cuda_gpu_count() < world) setenv("ROTOR_SAME_DEVICE_RANKS", "1", 1);
  else unsetenv("ROTOR_SAME_DEVICE_RANKS");
}

// A model split over `world` ranks, its runners built on the ranks' threads.
struct Split {
  std::unique_ptr<RankSet> ranks;
  ModelConfig config;
  std::vector<std::unique_ptr<ModelRunner>> runners;

  Split(const LoadOptions& lo, int world, bool ep, const RunnerOptions& ro) {
    place_ranks(world);
    ranks = std::make_unique<RankSet>(RankSetOptions{"cuda", world, ep, false});
    RankSet::Loaded m = ranks->load(lo);
    config = m.config;
    runners = build_rank_runners(config, ranks->resources(std::move(m.weights)), ro, ranks->threads());
  }
  ~Split() {
    ranks->threads().run([&](int r) { runners[r]->synchronize(); });
    ranks->threads().run([&](int r) { runners[r].reset(); });
  }
  // The requests generated on every rank at once (the ranks' collectives meet); by rank.
  std::vector<std::vector<OfflineResult>> generate(const std::vector<OfflineRequest>& reqs, int chunk) {
    std::vector<std::vector<OfflineResult>> out(runners.size());
    ranks->threads().run(
        [&](int r) { out[r] = generate_offline(*runners[r], reqs, chunk, config.eos_token_ids); });
    return out;
  }
};

RunnerOptions options_for(const std::vector<OfflineRequest>& reqs, bool graphs) {
  RunnerOptions ro = offline_runner_options(reqs);
  ro.cuda_graphs = graphs;
  return ro;
}

class TpCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_gpu_count() == 0) GTEST_SKIP() << "no GPU";
  }
  void TearDown() override { unsetenv("ROTOR_SAME_DEVICE_RANKS"); }
  static fs::path small_fixture() { return test::fixtures_dir() / "small-qwen3-moe"; }
};

TEST_F(TpCuda, SmallFixtureSplitMatchesOneRank) {
  const fs::path dir = small_fixture();
  if (!fs::exists(dir / "reference.json")) GTEST_SKIP() << "no " << dir << " (scripts/gpu-check.sh fixtures makes it)";
  // The fixture's prompts (47 positions, where one near-tie is already 2%) and two longer
  // random ones, so that the argmax agreement counts a few hundred positions.
  const int vocab = nlohmann::json::parse(std::ifstream(dir / "config.json"))["vocab_size"];
  const std::vector<std::vector<int32_t>> prompts = test::with_random_prompts(test::read_reference(dir).ids, vocab, 17);
  const std::vector<OfflineRequest> reqs = test::greedy_prompt_requests(prompts, 8);
  LoadOptions lo;
  lo.model = dir;
  const RunnerOptions ro = options_for(reqs, false);
  std::vector<OfflineResult> one;
  {
    Split s(lo, 1, false, ro);
    one = s.generate(reqs, 0)[0];
  }
  // The floor these random-weight logits set: one rank's bf16 argmaxes against the CPU's f32
  // ones over the same positions. The fixture's logits over 151936 tokens are nearly flat, so
  // bf16 rounding alone flips near-ties (the 13:50 H200 run: 96.8-98.4% agreement between a
  // split and one rank over these 374 positions, with logits within 9e-3): a split may
  // disagree with one rank at most twice as often as one rank disagrees with f32, plus two.
  const std::vector<OfflineResult> f32 = test::run_prompts(*make_cpu_ops(), dir, prompts);
  size_t floor_differ = 0, positions = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_EQ(f32[i].prompt_argmax.size(), one[i].prompt_argmax.size());
    for (size_t p = 0; p < one[i].prompt_argmax.size(); ++p, ++positions)
      floor_differ += f32[i].prompt_argmax[p] != one[i].prompt_argmax[p];
  }
  std::printf("small, one rank (bf16, GPU) against the CPU (f32): argmax %zu / %zu\n", positions - floor_differ,
              positions);
  for (const bool ep : {false, true})
    for (int world : {2, 4}) {
      const std::string what = std::to_string(world) + (ep ? " ranks, expert parallel" : " ranks, tensor parallel");
      SCOPED_TRACE(what);
      Split s(lo, world, ep, ro);
      for (int chunk : {0, 5}) {
        const std::vector<std::vector<OfflineResult>> got = s.generate(reqs, chunk);
        int agree = 0, total = 0;
        double worst = 0;
        for (size_t i = 0; i < reqs.size(); ++i) {
          for (int r = 1; r < world; ++r) {
            EXPECT_EQ(got[r][i].output, got[0][i].output) << "rank " << r << " prompt " << i;
            EXPECT_EQ(got[r][i].prompt_argmax, got[0][i].prompt_argmax) << "rank " << r << " prompt " << i;
          }
          const double err = test::rel_err(one[i].prompt_logits, got[0][i].prompt_logits);
          worst = std::max(worst, err);
          EXPECT_LT(err, 1e-2) << "prompt " << i << " chunk " << chunk;
          ASSERT_EQ(got[0][i].prompt_argmax.size(), one[i].prompt_argmax.size());
          for (size_t p = 0; p < one[i].prompt_argmax.size(); ++p, ++total)
            agree += got[0][i].prompt_argmax[p] == one[i].prompt_argmax[p];
        }
        std::printf("small, %s, chunk %d: last-logits rel err <= %.2e vs one rank, argmax %d / %d\n", what.c_str(),
                    chunk, worst, agree, total);
        EXPECT_LE(total - agree, 2 * static_cast<int>(floor_differ) + 2) << "chunk " << chunk;
      }
    }
}

// Two layers of Qwen3-30B-A3B with dummy weights from `seed`: the layer shapes the TP engine
// tests run on.
LoadOptions dummy_30b_layers(uint64_t seed) {
  LoadOptions lo;
  lo.model = std::string(ROTOR_SHARED_DIR) + "/configs/qwen3-30b-a3b/config.json";
  lo.load_format = "dummy";
  lo.num_layers = 2;
  lo.seed = seed;
  return lo;
}

// Decode with graphs on and off, split 2 and 4 ways (tensor and expert parallel), on the
// 30B-A3B layer shapes: the same tokens, greedy and seeded, in batches that shrink as
// sequences finish (graph padding).
TEST_F(TpCuda, GraphsOnAndOffGiveIdenticalTokens) {
  const LoadOptions lo = dummy_30b_layers(5);
  std::vector<OfflineRequest> reqs(5);
  for (int i = 0; i < 5; ++i) {
    for (int t = 0; t < 7 + 5 * i; ++t) reqs[i].prompt.push_back(101 + 37 * i + 11 * t);
    reqs[i].params.temperature = i % 2 ? 0.8f : 0.0f;
    reqs[i].params.top_p = i % 2 ? 0.9f : 1.0f;
    reqs[i].seed = 1000 + i;
    reqs[i].max_tokens = 20 + 3 * i;
    reqs[i].ignore_eos = true;
  }
  for (const bool ep : {false, true})
    for (int world : {2, 4}) {
      SCOPED_TRACE(::testing::Message() << world << " ranks" << (ep ? ", expert parallel" : ""));
      std::vector<std::vector<OfflineResult>> eager, graphs;
      {
        Split s(lo, world, ep, options_for(reqs, false));
        eager = s.generate(reqs, 0);
      }
      {
        Split s(lo, world, ep, options_for(reqs, true));
        graphs = s.generate(reqs, 0);
      }
      for (int r = 0; r < world; ++r)
        for (size_t i = 0; i < reqs.size(); ++i) {
          EXPECT_EQ(eager[r][i].output, graphs[r][i].output) << "rank " << r << " seq " << i;
          EXPECT_EQ(graphs[r][i].output, graphs[0][i].output) << "rank " << r << " seq " << i;
        }
    }
}

// An Engine over 2 ranks (on distinct GPUs where there are two, else sharing GPU 0) of the
// model `lo` loads: max_model_len 512, 8 sequences, 128 MiB of KV cache.
struct TwoRankEngine {
  RankSet ranks;
  std::unique_ptr<RankSet> lane;  // the prefill lane's ranks: the lanes after the ranks' on their GPU
  std::unique_ptr<RunnerFactory> factory;
  std::unique_ptr<Engine> engine;

  TwoRankEngine(const LoadOptions& lo, bool async, bool graphs, int max_batched_tokens, int world = 2,
                bool prefill_lane = false)
      : ranks((place_ranks(world), RankSetOptions{"cuda", world, false, false})) {
    if (prefill_lane) lane = std::make_unique<RankSet>(ranks.beside());
    RankSet::Loaded m = ranks.load(lo);
    factory = std::make_unique<RunnerFactory>(m.config, ranks, std::move(m.weights), lane.get());
    EngineConfig c;
    c.max_model_len = 512;
    c.max_num_seqs = 8;
    c.max_num_batched_tokens = max_batched_tokens;
    c.async_scheduling = async;
    c.cuda_graphs = graphs;
    c.kv_cache_memory_bytes = int64_t{128} << 20;
    c.prefill_lane_sms = prefill_lane ? 1 : 0;  // the lanes share the GPU's SMs (no green contexts here)
    engine = Engine::create(c, *factory);
  }
};

// The Engine with a prefill lane (docs/prefill-lane.md) on 1 and 2 ranks (2 layers of 30B-A3B,
// dummy weights; the lanes share the SMs; prompts also in decode steps while 2 wait, the default
// backlog): greedy requests get the tokens they get without the lane. Prompts in the lane are
// computed alone rather than beside other rows, and the GPU's GEMMs and attention split by a
// step's row count (bits within bf16 rounding), so a request may part ways at a near tie: there the token without the lane must be within 0.05 of
// the one with it in log-probability (and the rest of that request is not compared). Batch
// changes moved log-probs by at most 4.6e-3 (the masked-sampling test below), so 0.05 is ten
// times that, while a lane computing wrong values parts at a wide gap. At least 3 requests
// must match all the way (near ties are common on dummy weights' flat logits).
TEST_F(TpCuda, EngineWithAPrefillLaneGivesTheTokensWithout) {
  const LoadOptions lo = dummy_30b_layers(13);
  for (const int world : {1, 2}) {
    std::vector<std::vector<TokenLogprobs>> runs[2];
    for (const bool prefill_lane : {false, true}) {
      TwoRankEngine e(lo, true, true, 96, world, prefill_lane);
      std::vector<RequestHandle> handles;
      for (int i = 0; i < 10; ++i) {
        EngineRequest r;
        for (int t = 0; t < 30 + 37 * (i % 5); ++t) r.prompt_token_ids.push_back(11 + 173 * i + 29 * t);
        r.params.temperature = 0.0f;
        r.params.logprobs = 2;
        r.params.max_tokens = 20 + 3 * i;
        r.params.ignore_eos = true;
        handles.push_back(e.engine->submit(std::move(r)));
      }
      for (RequestHandle& h : handles) {
        const RequestOutput o = h.wait();
        ASSERT_NE(o.finish_reason, FinishReason::Error) << o.error;
        runs[prefill_lane].push_back(o.logprobs);
      }
    }
    int whole = 0;
    for (size_t i = 0; i < runs[0].size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "world " << world << " request " << i);
      const auto &off = runs[0][i], &on = runs[1][i];
      ASSERT_EQ(off.size(), on.size());
      size_t k = 0;
      while (k < off.size() && off[k].token == on[k].token) ++k;
      whole += k == off.size();
      if (k == off.size()) continue;
      ASSERT_EQ(on[k].top_ids.size(), 2u);
      EXPECT_EQ(on[k].top_ids[1], off[k].token) << "step " << k << ": not a near tie";
      EXPECT_LT(on[k].top_logprobs[0] - on[k].top_logprobs[1], 0.05f) << "step " << k;
    }
    std::printf("world %d: %d of %zu requests give the same tokens all the way\n", world, whole, runs[0].size());
    EXPECT_GE(whole, 3);
  }
}

// The Engine over 2 ranks: a mixed batch (greedy, seeded sampling with penalties, prompts
// chunked) gives the same tokens with async scheduling on and off and graphs on and off.
TEST_F(TpCuda, EngineAsyncAndGraphsGiveIdenticalTokens) {
  const LoadOptions lo = dummy_30b_layers(9);
  std::vector<std::vector<int32_t>> want;
  for (const bool async : {false, true})
    for (const bool graphs : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "async " << async << " graphs " << graphs);
      TwoRankEngine two(lo, async, graphs, 96);
      Engine* engine = two.engine.get();
      std::vector<RequestHandle> handles;
      for (int i = 0; i < 8; ++i) {
        EngineRequest r;
        for (int t = 0; t < 20 + 40 * (i % 4); ++t) r.prompt_token_ids.push_back(7 + 131 * i + 17 * t);
        r.params.temperature = i % 2 ? 0.7f : 0.0f;
        r.params.seed = 40 + i;
        r.params.repetition_penalty = i % 4 == 1 ? 1.2f : 1.0f;
        r.params.max_tokens = 24 + 4 * i;
        r.params.ignore_eos = true;
        handles.push_back(engine->submit(std::move(r)));
      }
      std::vector<std::vector<int32_t>> got;
      for (RequestHandle& h : handles) {
        const RequestOutput o = h.wait();
        ASSERT_NE(o.finish_reason, FinishReason::Error) << o.error;
        got.push_back(o.token_ids);
      }
      if (want.empty()) want = got;
      else EXPECT_EQ(got, want);
    }
}

// Masked sampling and log-probs over 2 ranks (2 layers of 30B-A3B, dummy weights): requests with
// allowed_token_ids (a mask list of the whole vocabulary but a few ids), bad_words, penalties,
// log-probs and prompt log-probs grow the samplers' buffers; every rank grows them before any
// rank queues the step (ModelRunner::reserve), since with ranks sharing a GPU an allocation
// orders the whole device and would wait on a peer's collective. The requests must finish,
// within their masks, with identical tokens with async scheduling on and off, and log-probs
// within kLogprobTol: with async on, a request with a bad word of several tokens waits out every
// step its previous token is in flight (Scheduler::schedule), so the rows share steps with other
// batches than with async off, and the GPU's GEMMs and attention split by the step's row count
// (bits within bf16 rounding; 2026-12-06 on an H100: at most 4.6e-3 apart).
TEST_F(TpCuda, EngineMaskedSamplingAndLogprobsOverTwoRanks) {
  const LoadOptions lo = dummy_30b_layers(5);
  const std::vector<int32_t> allowed{11, 220, 4021, 9000, 30000, 151000};
  std::vector<std::vector<int32_t>> want_tokens;
  std::vector<std::vector<float>> want_logprobs;
  for (const bool async : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "async " << async);
    TwoRankEngine two(lo, async, true, 128);
    Engine* engine = two.engine.get();
    std::vector<RequestHandle> handles;
    for (int i = 0; i < 6; ++i) {
      EngineRequest r;
      for (int t = 0; t < 30 + 25 * i; ++t) r.prompt_token_ids.push_back(5 + 97 * i + 13 * t);
      r.params.temperature = i % 2 ? 0.9f : 0.0f;
      r.params.seed = 70 + i;
      r.params.max_tokens = 12;
      r.params.ignore_eos = true;
      r.params.logprobs = 3;
      if (i % 3 == 0) r.params.allowed_token_ids = allowed;
      if (i % 3 == 1) r.params.bad_words = {{220}, {4021, 9000}};
      if (i % 3 == 2) r.params.repetition_penalty = 1.3f;
      if (i == 4) r.params.prompt_logprobs = 2;
      handles.push_back(engine->submit(std::move(r)));
    }
    std::vector<std::vector<int32_t>> tokens;
    std::vector<std::vector<float>> logprobs;
    for (int i = 0; i < 6; ++i) {
      const RequestOutput o = handles[i].wait();
      ASSERT_NE(o.finish_reason, FinishReason::Error) << o.error;
      ASSERT_EQ(o.token_ids.size(), 12u);
      if (i % 3 == 0) {
        for (int32_t t : o.token_ids) EXPECT_NE(std::find(allowed.begin(), allowed.end(), t), allowed.end()) << t;
      }
      if (i % 3 == 1) {
        EXPECT_EQ(std::find(o.token_ids.begin(), o.token_ids.end(), 220), o.token_ids.end());
      }
      if (i == 4) {
        EXPECT_EQ(o.prompt_logprobs.size(), size_t{30 + 25 * 4 - 1});
      }
      tokens.push_back(o.token_ids);
      std::vector<float> lp;
      for (const TokenLogprobs& t : o.logprobs) lp.push_back(t.logprob);
      logprobs.push_back(lp);
    }
    if (want_tokens.empty()) {
      want_tokens = tokens;
      want_logprobs = logprobs;
    } else {
      EXPECT_EQ(tokens, want_tokens);
      constexpr float kLogprobTol = 2e-2f;
      for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(logprobs[i].size(), want_logprobs[i].size()) << "request " << i;
        for (size_t t = 0; t < logprobs[i].size(); ++t)
          EXPECT_NEAR(logprobs[i][t], want_logprobs[i][t], kLogprobTol) << "request " << i << " token " << t;
      }
    }
  }
}

// Structured outputs over 2 ranks: the masks are written once per step on the launching thread
// and every rank samples under the same bits (the step runner checks the ranks drew alike).
TEST_F(TpCuda, EngineStructuredOutputsOverTwoRanks) {
  const fs::path dir = test::fixtures_dir() / "tiny-qwen3-moe";
  if (!fs::exists(dir / "config.json")) GTEST_SKIP() << "no " << dir;
  LoadOptions lo;
  lo.model = dir;
  for (const bool ep : {false, true}) {
    std::vector<std::vector<int32_t>> want;
    for (const auto& [async, graphs] : {std::pair{false, false}, std::pair{true, false}, std::pair{true, true}}) {
      SCOPED_TRACE(::testing::Message() << (ep ? "expert" : "tensor") << " parallel, async " << async << " graphs "
                                        << graphs);
      place_ranks(2);
      RankSet ranks(RankSetOptions{"cuda", 2, ep, false});
      RankSet::Loaded m = ranks.load(lo);
      RunnerFactory factory(m.config, ranks, std::move(m.weights));
      EngineConfig c;
      c.max_model_len = 512;
      c.max_num_seqs = 8;
      c.max_num_batched_tokens = 256;
      c.async_scheduling = async;
      c.cuda_graphs = graphs;
      c.kv_cache_memory_bytes = int64_t{32} << 20;  // every request at once: no preemption
      std::unique_ptr<Engine> engine = Engine::create(c, factory);
      std::vector<std::shared_ptr<test::CheckedConstraint>> checked;
      const std::vector<RequestOutput> out = test::run_requests(*engine, test::structured_requests(&checked));
      test::expect_in_language(out);
      test::expect_driven_once_per_step(checked, out);
      std::vector<std::vector<int32_t>> got;
      for (const RequestOutput& o : out) got.push_back(o.token_ids);
      if (want.empty()) want = got;
      else EXPECT_EQ(got, want);
    }
  }
}

}  // namespace
}  // namespace rotor
