// tests/engine/test_engine_lane.cpp — the prefill lane (docs/prefill-lane.md) through the Engine
// on CPU ranks: a second set of ranks beside the first computes every prompt, one chunk at a
// time, on the decode ranks' KV cache and weights; with a backlog threshold, prompts also go
// into decode steps while that many wait. Greedy tokens and prompt argmax equal each
// fixture's reference.json (transformers) over 1 and 2 ranks, async scheduling on and off,
// prompts in several chunks, the lane alone and with a backlog of 2; seeded sampling with
// preemption gives the tokens the engine gives without the lane; aborts of requests in the
// lane lose nothing and leave no block held; --calculate-kv-scales is refused with the lane;
// the lane's runners grow no sampling buffer once running.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <utility>

#include "engine/engine.h"
#include "engine/model_step_runner.h"
#include "engine/runner/rank_set.h"
#include "engine/runner_factory.h"
#include "tests/support/fixture_util.h"
#include "tests/engine/reference_requests.h"
#include "tests/support/reference.h"

namespace rotor {
namespace {
namespace fs = std::filesystem;

struct Served {
  std::unique_ptr<RankSet> ranks, lane;  // outlive the engine
  std::unique_ptr<Engine> engine;
};

// The engine over `world` CPU ranks, with a prefill lane when cfg.prefill_lane_sms > 0.
Served serve(const fs::path& dir, int world, const EngineConfig& cfg) {
  Served s;
  s.ranks = std::make_unique<RankSet>(RankSetOptions{"cpu", world, false, false, cfg.prefill_lane_sms});
  if (cfg.prefill_lane_sms > 0) s.lane = std::make_unique<RankSet>(s.ranks->beside());
  LoadOptions lo;
  lo.model = dir;
  RankSet::Loaded m = s.ranks->load(lo);
  RunnerFactory factory(m.config, *s.ranks, std::move(m.weights), s.lane.get());
  s.engine = Engine::create(cfg, factory);
  return s;
}

fs::path tiny_moe() { return test::fixtures_dir() / "tiny-qwen3-moe"; }

// Waits until the engine's published KV usage is 0 (updates are published after each step).
bool kv_cache_empties(Engine& e) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (e.stats().kv_cache_usage == 0.0 && e.stats().num_running == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

class PrefillLane : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefillLane, GreedyTokensEqualTheReference) {
  const fs::path dir = GetParam();
  const ModelConfig c = ModelConfig::load(dir / "config.json");
  const test::Reference ref = test::read_reference(dir);
  ASSERT_FALSE(ref.greedy[0].empty());
  for (const int world : {1, 2}) {
    if (c.num_heads % world || c.moe_intermediate_size % world ||
        (c.num_kv_heads % world && world % c.num_kv_heads))
      continue;
    for (const bool async : {false, true})
      for (const int backlog : {0, 2}) {
        SCOPED_TRACE(::testing::Message() << dir.filename().string() << " world " << world << (async ? " async" : "")
                                          << " backlog " << backlog);
        EngineConfig cfg;
        cfg.max_model_len = 64;
        cfg.max_num_seqs = 4;
        cfg.max_num_batched_tokens = 5;  // prompts in several chunks
        cfg.async_scheduling = async;
        cfg.kv_cache_memory_bytes = 8 << 20;
        cfg.prefill_lane_sms = 1;
        cfg.prefill_lane_backlog = backlog;
        Served s = serve(dir, world, cfg);
        test::expect_reference_outputs(*s.engine, ref);
        EXPECT_TRUE(kv_cache_empties(*s.engine));
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrefillLane, ::testing::ValuesIn(test::bf16_fixtures()), [](const auto& info) {
  std::string n = fs::path(info.param).filename().string();
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PrefillLane);

// Twelve requests (greedy, seeded sampling, penalties, shared prefixes) on a KV cache so small
// that requests are preempted and come back through the lane: every one gets the tokens it
// gets without the lane.
TEST(PrefillLaneEngine, SampledTokensEqualTheEngineWithoutTheLane) {
  if (!fs::exists(tiny_moe() / "config.json")) GTEST_SKIP() << "no " << tiny_moe();
  std::vector<EngineRequest> reqs(12);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EngineRequest& r = reqs[i];
    for (int k = 0; k < 9 + static_cast<int>(i % 3) * 7; ++k)
      r.prompt_token_ids.push_back(i % 2 ? 100 + k : static_cast<int32_t>(300 + 37 * i + 11 * k) % 5000);
    SamplingParams& p = r.params;
    p.max_tokens = 24 + static_cast<int>(i);
    p.ignore_eos = true;
    if (i % 3 == 1) {
      p.temperature = 0.9f;
      p.top_p = 0.95f;
      p.seed = 40 + static_cast<int64_t>(i);
    } else if (i % 3 == 2) {
      p.temperature = 0.7f;
      p.seed = 7;
      p.frequency_penalty = 0.5f;
      p.logprobs = 2;
    } else {
      p.temperature = 0.0f;
    }
  }
  std::vector<std::vector<RequestOutput>> runs;
  // (lane, backlog): without the lane, the lane alone, the lane with a backlog of 2.
  for (const auto& [lane_sms, backlog] : {std::pair{0, 0}, {1, 0}, {1, 2}}) {
    for (const bool async : {false, true}) {
      EngineConfig cfg;
      cfg.max_model_len = 64;
      cfg.max_num_seqs = 6;
      cfg.max_num_batched_tokens = 16;
      cfg.block_size = 8;
      cfg.async_scheduling = async;
      cfg.prefill_lane_sms = lane_sms;
      cfg.prefill_lane_backlog = backlog;
      // 12 blocks: far fewer than 6 running requests of up to 50 tokens need.
      {
        EngineConfig probe = cfg;
        probe.kv_cache_memory_bytes = 1 << 20;
        Served s0 = serve(tiny_moe(), 1, probe);
        cfg.kv_cache_memory_bytes = 12 * ((1 << 20) / s0.engine->limits().num_blocks);
      }
      Served s = serve(tiny_moe(), 1, cfg);
      std::vector<RequestHandle> h;
      for (const EngineRequest& r : reqs) h.push_back(s.engine->submit(r));
      std::vector<RequestOutput> outs;
      for (auto& x : h) outs.push_back(x.wait());
      std::printf("lane %d backlog %d async %d: %llu preemptions, %llu steps\n", lane_sms, backlog, async,
                  static_cast<unsigned long long>(s.engine->stats().num_preemptions),
                  static_cast<unsigned long long>(s.engine->stats().num_steps));
      EXPECT_GT(s.engine->stats().num_preemptions, 0u) << "lane " << lane_sms;
      EXPECT_TRUE(kv_cache_empties(*s.engine));
      runs.push_back(std::move(outs));
    }
  }
  for (size_t run = 1; run < runs.size(); ++run)
    for (size_t i = 0; i < reqs.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "run " << run << " request " << i);
      const RequestOutput &a = runs[0][i], &b = runs[run][i];
      ASSERT_NE(b.finish_reason, FinishReason::Error) << b.error;
      EXPECT_EQ(a.token_ids, b.token_ids);
      ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
      for (size_t k = 0; k < a.logprobs.size(); ++k) EXPECT_EQ(a.logprobs[k].top_ids, b.logprobs[k].top_ids);
    }
}

// Requests aborted while their prompt is in the lane (long prompts in many small chunks) end
// at once with abort; the others finish with their greedy tokens, and no block stays held.
TEST(PrefillLaneEngine, AbortsInTheLaneLoseNothing) {
  if (!fs::exists(tiny_moe() / "config.json")) GTEST_SKIP() << "no " << tiny_moe();
  EngineConfig cfg;
  cfg.max_model_len = 256;
  cfg.max_num_seqs = 4;
  cfg.max_num_batched_tokens = 8;
  cfg.async_scheduling = true;
  cfg.kv_cache_memory_bytes = 8 << 20;
  cfg.prefill_lane_sms = 1;
  cfg.prefill_lane_backlog = 0;  // every prompt through the lane
  const auto request = [](int i, int len) {
    EngineRequest r;
    for (int k = 0; k < len; ++k) r.prompt_token_ids.push_back(static_cast<int32_t>(200 + 13 * i + 7 * k) % 4000);
    r.params.temperature = 0.0f;
    r.params.max_tokens = 12;
    r.params.ignore_eos = true;
    return r;
  };
  // The greedy tokens of the kept requests, alone.
  std::vector<std::vector<int32_t>> alone;
  {
    Served s = serve(tiny_moe(), 1, cfg);
    for (int i = 0; i < 3; ++i) alone.push_back(s.engine->submit(request(i, 20 + 9 * i)).wait().token_ids);
  }
  Served s = serve(tiny_moe(), 1, cfg);
  std::vector<RequestHandle> kept, aborted;
  for (int i = 0; i < 3; ++i) {
    aborted.push_back(s.engine->submit(request(10 + i, 200)));
    kept.push_back(s.engine->submit(request(i, 20 + 9 * i)));
  }
  for (size_t i = 0; i < aborted.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * static_cast<int>(i)));
    s.engine->abort(aborted[i].id());
  }
  for (RequestHandle& h : aborted) {
    const RequestOutput o = h.wait();
    EXPECT_EQ(o.finish_reason, FinishReason::Abort);
    EXPECT_LT(o.token_ids.size(), 12u);
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    const RequestOutput o = kept[i].wait();
    ASSERT_EQ(o.finish_reason, FinishReason::Length) << o.error;
    EXPECT_EQ(o.token_ids, alone[i]) << "request " << i;
  }
  EXPECT_TRUE(kv_cache_empties(*s.engine));
  EXPECT_EQ(s.engine->failure(), "");
}

TEST(PrefillLaneEngine, CalculatedKvScalesAreRefused) {
  if (!fs::exists(tiny_moe() / "config.json")) GTEST_SKIP() << "no " << tiny_moe();
  EngineConfig cfg;
  cfg.max_model_len = 64;
  cfg.kv_cache_memory_bytes = 8 << 20;
  cfg.kv_cache_dtype = "fp8";
  cfg.calculate_kv_scales = true;
  cfg.prefill_lane_sms = 1;
  try {
    serve(tiny_moe(), 1, cfg);
    ADD_FAILURE() << "the engine started";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--calculate-kv-scales"), std::string::npos) << e.what();
  }
}

// The lane's runners set their sampling buffers aside at start-up (RunnerOptions::
// reserve_sampling): a request that asks for the most of everything — log-probs and prompt
// log-probs at max_logprobs, penalties over a prompt near max_model_len, stop ids masked
// before min_tokens, allowed_token_ids (the rest of the vocabulary masked) and bad words
// repeating the stop ids (masked once each) — grows none of them, over 1 and 2 ranks, in two
// chunks. The decode runners, which set nothing aside, grow for the same steps.
TEST(PrefillLaneRunner, GrowsNoSamplingBufferOnceRunning) {
  if (!fs::exists(tiny_moe() / "config.json")) GTEST_SKIP() << "no " << tiny_moe();
  for (const int world : {1, 2}) {
    SCOPED_TRACE(::testing::Message() << "world " << world);
    RankSet ranks(RankSetOptions{"cpu", world, false, false, 1});
    RankSet lane(ranks.beside());
    LoadOptions lo;
    lo.model = tiny_moe();
    RankSet::Loaded m = ranks.load(lo);
    RunnerFactory factory(m.config, ranks, std::move(m.weights), &lane);
    RunnerOptions ro;
    ro.max_num_tokens = 32;
    ro.max_num_seqs = 4;
    ro.max_model_len = 64;
    ro.num_blocks = 8;
    ro.max_logprobs = 5;
    int blocks = 0;
    std::unique_ptr<StepRunner> prefill;
    std::unique_ptr<StepRunner> decode = factory.build(ro, &blocks, &prefill, false);
    ASSERT_TRUE(prefill);

    NewRequestData d;
    d.req_id = 1;
    for (int i = 0; i < 60; ++i) d.token_ids.push_back(100 + 37 * i);
    d.num_prompt_tokens = 60;
    d.block_ids = {0, 1, 2, 3};
    SamplingParams& p = d.params;
    p.seed = 7;
    p.repetition_penalty = 1.3f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    p.min_tokens = 2;
    p.logprobs = 5;
    p.prompt_logprobs = 5;
    for (int32_t t = 0; t < 30; ++t) p.allowed_token_ids.push_back(t);
    for (int32_t t = 0; t < 20; ++t) {
      p.stop_token_ids.push_back(t);
      p.bad_words.push_back({t});
    }
    p.bad_words.push_back({5});
    // The prompt in two chunks, the second sampling the first output token.
    const auto run = [&](StepRunner& runner) {
      SchedulerOutput first;
      first.new_requests = {d};
      first.scheduled = {{1, 32, false}};
      first.total_num_tokens = 32;
      SchedulerOutput second;
      second.step = 1;
      second.cached_requests = {{1, {}, {}, 32}};
      second.scheduled = {{1, 28, true}};
      second.total_num_tokens = 28;
      SampledToken last;
      for (const SchedulerOutput* out : {&first, &second}) {
        std::unique_ptr<PreparedStep> step = runner.prepare(*out);
        runner.launch(*step);
        last = runner.execute(*step).outputs.at(0);
      }
      return last;
    };
    const SampledToken lane_token = run(*prefill);
    EXPECT_GE(lane_token.token, 20);  // allowed, and neither a stop id nor a bad word
    EXPECT_LT(lane_token.token, 30);
    ASSERT_TRUE(lane_token.logprobs.has_value());
    const auto& lane_runner = dynamic_cast<const ModelStepRunner&>(*prefill);
    for (int r = 0; r < world; ++r) {
      EXPECT_TRUE(lane_runner.rank(r).options().reserve_sampling);
      EXPECT_EQ(lane_runner.rank(r).buffer_growths(), 0) << "lane rank " << r;
    }
    const SampledToken decode_token = run(*decode);
    EXPECT_EQ(decode_token.token, lane_token.token);
    const auto& decode_runner = dynamic_cast<const ModelStepRunner&>(*decode);
    for (int r = 0; r < world; ++r) EXPECT_GT(decode_runner.rank(r).buffer_growths(), 0) << "decode rank " << r;
  }
}

}  // namespace
}  // namespace rotor
