// tests/engine/scheduler/test_scheduler_random.cpp — thousands of random submit / abort / finish /
// preempt sequences through the scheduler and the simulated runner (whose KV check catches
// any block handed out too early or mapped wrongly), synchronous and async, with and without
// prefix caching. At the end every block is back in the pool with ref count 0, and every
// request that was not aborted produced exactly what it produces alone.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "tests/engine/scheduler/scheduler_driver.h"

namespace rotor {
namespace {

struct Case {
  bool caching;
  int depth;
};

class SchedulerRandom : public ::testing::TestWithParam<Case> {};

TEST_P(SchedulerRandom, EverythingReturnsToThePool) {
  const Case c = GetParam();
  constexpr int kBlocks = 48, kBs = 4, kMaxLen = 96, kEosEvery = 25;
  SchedulerConfig cfg;
  cfg.num_blocks = kBlocks;
  cfg.block_size = kBs;
  cfg.max_model_len = kMaxLen;
  cfg.max_num_batched_tokens = 40;
  cfg.max_num_seqs = 10;
  cfg.enable_prefix_caching = c.caching;
  cfg.eos_token_ids = {test::kSimEos};
  Scheduler s(cfg);
  test::SimRunner sim(kBlocks, kBs, kEosEvery);
  test::SchedulerDriver d(s, sim, c.depth);

  std::mt19937 rng(1234 + c.depth * 10 + c.caching);
  // A few shared prefixes so that prompts hit the prefix cache.
  std::vector<std::vector<int32_t>> prefixes(4);
  for (auto& p : prefixes) {
    p.resize(std::uniform_int_distribution<int>(4, 24)(rng));
    for (auto& t : p) t = std::uniform_int_distribution<int32_t>(2, 41)(rng);
  }
  std::map<uint64_t, Request> submitted;
  std::set<uint64_t> aborted;
  uint64_t next_id = 1;
  constexpr int kRequests = 1500;
  while (next_id <= kRequests || s.has_work() || d.in_flight() > 0) {
    if (next_id <= kRequests && rng() % 3 == 0) {
      const int burst = 1 + static_cast<int>(rng() % 4);
      for (int b = 0; b < burst && next_id <= kRequests; ++b) {
        Request r;
        r.id = next_id++;
        if (rng() % 2) r.tokens = prefixes[rng() % prefixes.size()];
        const int extra = std::uniform_int_distribution<int>(r.tokens.empty() ? 1 : 0, 30)(rng);
        for (int i = 0; i < extra; ++i) r.tokens.push_back(std::uniform_int_distribution<int32_t>(2, 41)(rng));
        r.max_tokens = std::uniform_int_distribution<int>(1, 40)(rng);
        r.seed = rng();
        r.params.ignore_eos = rng() % 4 == 0;
        r.prompt_argmax = rng() % 10 == 0;
        submitted[r.id] = r;
        s.add_request(r);
      }
    }
    if (rng() % 12 == 0 && next_id > 1) {
      const uint64_t id = 1 + rng() % (next_id - 1);
      if (auto u = s.abort(id)) {
        aborted.insert(id);
        d.record({*u});
      }
    }
    d.step();
    if (rng() % 50 == 0) s.check_consistency();
  }
  d.run_until_idle();

  // Every block free, no ref count off, the cache map consistent.
  s.check_consistency();
  EXPECT_EQ(s.kv_cache().num_free_blocks(), kBlocks);
  for (int b = 0; b < kBlocks; ++b) EXPECT_EQ(s.kv_cache().pool().ref_count(b), 0);
  // The runner was told to forget everything (the last step carries the last finished ids).
  sim.execute(s.schedule());
  EXPECT_EQ(sim.num_requests(), 0u);

  int finished = 0;
  for (const auto& [id, r] : submitted) {
    test::Finished& got = d.results()[id];
    if (aborted.contains(id)) {
      EXPECT_EQ(got.reason, FinishReason::Abort) << "request " << id;
      continue;
    }
    ++finished;
    const auto want = test::expected_alone(r.seed, r.tokens, r.max_tokens, kMaxLen, kEosEvery, r.params.ignore_eos);
    EXPECT_EQ(got.tokens, want.tokens) << "request " << id;
    EXPECT_EQ(got.reason, want.reason) << "request " << id;
    if (r.prompt_argmax) {
      ASSERT_EQ(got.prompt_argmax.size(), r.tokens.size()) << "request " << id;
      for (size_t p = 0; p < got.prompt_argmax.size(); ++p) EXPECT_EQ(got.prompt_argmax[p], 1000 + static_cast<int>(p));
    }
  }
  EXPECT_GT(finished, kRequests / 2);
  EXPECT_GT(aborted.size(), 50u);
  EXPECT_GT(d.preempted(), 20u) << "the pool is meant to be too small";
  if (c.caching) {
    EXPECT_GT(s.kv_cache().prefix_hits(), 0u);
  }
  EXPECT_LE(d.max_step_tokens(), cfg.max_num_batched_tokens);
}

INSTANTIATE_TEST_SUITE_P(Modes, SchedulerRandom,
                         ::testing::Values(Case{true, 1}, Case{false, 1}, Case{true, 2}, Case{false, 2}),
                         [](const auto& info) {
                           return std::string(info.param.caching ? "Caching" : "NoCaching") +
                                  (info.param.depth == 2 ? "Async" : "Sync");
                         });

}  // namespace
}  // namespace rotor
