// tests/engine/test_engine_batch.cpp — the Engine on the tiny fixture model: 64 concurrent
// requests of mixed lengths (shared prefixes, chunked prefill, more requests than
// max_num_seqs) give exactly the greedy tokens each request gives alone (the scheduler-less
// offline loop), with prefix caching on and off, async scheduling on and off, and a KV cache
// so small that requests are preempted and recomputed.
#include <gtest/gtest.h>

#include <random>

#include "tests/engine/engine_util.h"

namespace rotor {
namespace {

class EngineBatch : public test::TinyModel {
 protected:
  static constexpr int kMaxLen = 64;
  struct Case {
    std::vector<int32_t> prompt;
    int max_tokens;
    bool ignore_eos;
  };
  static std::vector<Case> cases() {
    std::mt19937 rng(7);
    std::vector<int32_t> shared(20);
    for (auto& t : shared) t = static_cast<int32_t>(rng() % 151936);
    std::vector<Case> out;
    for (int i = 0; i < 64; ++i) {
      Case c;
      if (i % 4 == 0) c.prompt.assign(shared.begin(), shared.begin() + 16 + i % 5);  // prefix hits
      const int extra = 1 + static_cast<int>(rng() % 40);
      for (int k = 0; k < extra && c.prompt.size() < 44; ++k) c.prompt.push_back(static_cast<int32_t>(rng() % 151936));
      if (i % 16 == 5) c.prompt = out[i - 4].prompt;  // identical prompts
      c.max_tokens = 1 + static_cast<int>(rng() % 5);
      c.ignore_eos = i % 2 == 0;
      out.push_back(c);
    }
    return out;
  }
  // Each request alone, without a scheduler.
  static std::vector<std::vector<int32_t>> alone(const std::vector<Case>& cases) {
    auto runner = single_runner(kMaxLen);
    const auto eos = load().config.eos_token_ids;
    std::vector<std::vector<int32_t>> out;
    for (const Case& c : cases) {
      OfflineRequest r;
      r.prompt = c.prompt;
      r.params.temperature = 0.0f;
      r.max_tokens = c.max_tokens;
      r.ignore_eos = c.ignore_eos;
      out.push_back(generate_offline(*runner, std::span(&r, 1), 0, eos)[0].output);
    }
    return out;
  }
};

TEST_F(EngineBatch, GreedyOutputsEqualEachRequestAlone) {
  const auto cs = cases();
  const auto want = alone(cs);
  struct Mode {
    bool caching;
    bool async;
    int block_size;
    int kv_blocks;  // 16 blocks of 4 = max_model_len: a few requests at a time, preempted as they grow
    const char* name;
  };
  for (const Mode m : {Mode{true, false, 16, 256, "caching, sync"}, Mode{false, true, 16, 256, "no caching, async"},
                       Mode{true, true, 4, 16, "caching, async, tiny KV cache"},
                       Mode{false, false, 4, 16, "no caching, sync, tiny KV cache"}}) {
    SCOPED_TRACE(m.name);
    EngineConfig cfg;
    cfg.max_model_len = kMaxLen;
    cfg.max_num_seqs = 48;
    cfg.max_num_batched_tokens = 128;
    cfg.enable_prefix_caching = m.caching;
    cfg.async_scheduling = m.async;
    cfg.block_size = m.block_size;
    cfg.kv_cache_memory_bytes = static_cast<int64_t>(m.kv_blocks) * m.block_size * (8 << 10);  // 8 KiB per token
    auto engine = this->engine(cfg);
    ASSERT_EQ(engine->limits().num_blocks, m.kv_blocks);
    std::vector<RequestHandle> handles;
    for (const Case& c : cs) {
      EngineRequest r;
      r.prompt_token_ids = c.prompt;
      r.params.temperature = 0.0f;
      r.params.max_tokens = c.max_tokens;
      r.params.ignore_eos = c.ignore_eos;
      handles.push_back(engine->submit(std::move(r)));
    }
    for (size_t i = 0; i < cs.size(); ++i) {
      const RequestOutput o = handles[i].wait();
      EXPECT_EQ(o.token_ids, want[i]) << "request " << i;
      EXPECT_TRUE(o.finish_reason == FinishReason::Length || o.finish_reason == FinishReason::Stop);
      EXPECT_EQ(o.num_output_tokens, static_cast<int>(want[i].size()));
    }
    const EngineStats st = engine->stats();
    EXPECT_EQ(st.num_running + st.num_waiting, 0);
    EXPECT_EQ(st.kv_cache_usage, 0.0);
    if (m.kv_blocks < 64) {
      EXPECT_GT(st.num_preemptions, 0u);
    }
    if (m.caching) {
      EXPECT_GT(st.prefix_cache_hits, 0u);
    } else {
      EXPECT_EQ(st.prefix_cache_hits, 0u);
    }
    std::printf("%s: %llu steps, %llu preemptions, %llu of %llu prompt tokens from the prefix cache\n", m.name,
                static_cast<unsigned long long>(st.num_steps), static_cast<unsigned long long>(st.num_preemptions),
                static_cast<unsigned long long>(st.prefix_cache_hits),
                static_cast<unsigned long long>(st.prefix_cache_queries));
  }
}

}  // namespace
}  // namespace rotor
