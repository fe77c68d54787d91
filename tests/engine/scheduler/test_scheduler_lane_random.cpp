// tests/engine/scheduler/test_scheduler_lane_random.cpp — thousands of random submit / abort / finish /
// preempt sequences through the scheduler with the prefill lane: a decode lane (synchronous and
// async) and a chunk lane whose chunk reports after a random number of decode reports, executed
// by two simulated runners over one KV cache (whose check catches a block one lane gets while the
// other may still write it), with and without prefix caching. Aborts hit any request, decoding
// ones, and the one whose chunk is in flight. Some prompts continue a decoding request (its tokens
// so far, and more), so they hit blocks decode steps wrote; with the priority policy they go
// first, and may reach the lane while such a step is in flight. With a backlog threshold (2 or 4)
// decode steps also take prompts while enough wait, so either lane may hit blocks the other's
// step in flight writes unless they join the cache only once written. At the end every block is
// back in the pool with ref count 0, both runners hold nothing, and every request that was not
// aborted produced exactly what it produces alone.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "tests/engine/scheduler/lane_driver.h"

namespace rotor {
namespace {

struct Case {
  bool caching;
  int depth;
  bool priority;  // continuations first
  int backlog;    // prefill_lane_backlog
};

class SchedulerLaneRandom : public ::testing::TestWithParam<Case> {};

TEST_P(SchedulerLaneRandom, EverythingReturnsToThePool) {
  const Case c = GetParam();
  constexpr int kBlocks = 48, kBs = 4, kMaxLen = 96, kEosEvery = 25, kMaxChunkWait = 3;
  SchedulerConfig cfg;
  cfg.num_blocks = kBlocks;
  cfg.block_size = kBs;
  cfg.max_model_len = kMaxLen;
  cfg.max_num_batched_tokens = 24;  // prompts of up to 54 tokens: up to 3 chunks
  cfg.max_num_seqs = 10;
  cfg.enable_prefix_caching = c.caching;
  cfg.prefill_lane = true;
  cfg.priority_policy = c.priority;
  cfg.prefill_lane_backlog = c.backlog;
  cfg.eos_token_ids = {test::kSimEos};
  Scheduler s(cfg);
  const std::shared_ptr<test::SimKV> kv = test::make_sim_kv(kBlocks, kBs);
  test::SimRunner decode(kv, kBs, kEosEvery), prefill(kv, kBs, kEosEvery);
  const uint32_t seed = 4321 + c.depth * 10 + c.caching + c.priority * 100 + c.backlog * 1000;
  test::LaneDriver d(s, decode, prefill, c.depth, kMaxChunkWait, seed);

  std::mt19937 rng(seed);
  // A few shared prefixes so that prompts hit the prefix cache.
  std::vector<std::vector<int32_t>> prefixes(4);
  for (auto& p : prefixes) {
    p.resize(std::uniform_int_distribution<int>(4, 24)(rng));
    for (auto& t : p) t = std::uniform_int_distribution<int32_t>(2, 41)(rng);
  }
  std::map<uint64_t, Request> submitted;
  std::set<uint64_t> aborted;
  // Requests with outputs and no finish yet.
  const auto decoding = [&] {
    std::vector<uint64_t> ids;
    for (const auto& [id, f] : d.results())
      if (!f.tokens.empty() && f.reason == FinishReason::None) ids.push_back(id);
    return ids;
  };
  uint64_t next_id = 1;
  constexpr int kRequests = 1500;
  while (next_id <= kRequests || s.has_work() || d.in_flight() > 0) {
    if (next_id <= kRequests && rng() % 3 == 0) {
      const int burst = 1 + static_cast<int>(rng() % 4);
      for (int b = 0; b < burst && next_id <= kRequests; ++b) {
        Request r;
        r.id = next_id++;
        const std::vector<uint64_t> live = decoding();
        if (rng() % 4 == 0 && !live.empty()) {  // continues a decoding request
          const uint64_t of = live[rng() % live.size()];
          r.tokens = submitted[of].tokens;
          r.tokens.insert(r.tokens.end(), d.results()[of].tokens.begin(), d.results()[of].tokens.end());
          if (r.tokens.size() + 6 >= kMaxLen) r.tokens.clear();
        } else {
          if (rng() % 2) r.tokens = prefixes[rng() % prefixes.size()];
          r.priority = c.priority ? 1 : 0;
        }
        const int most = std::min(30, kMaxLen - 2 - static_cast<int>(r.tokens.size()));
        const int extra = std::uniform_int_distribution<int>(r.tokens.empty() ? 1 : 0, most)(rng);
        for (int i = 0; i < extra; ++i) r.tokens.push_back(std::uniform_int_distribution<int32_t>(2, 41)(rng));
        r.max_tokens = std::uniform_int_distribution<int>(1, 40)(rng);
        r.seed = rng();
        r.params.ignore_eos = rng() % 4 == 0;
        r.prompt_argmax = rng() % 10 == 0;
        submitted[r.id] = r;
        s.add_request(r);
      }
    }
    if (rng() % 12 == 0 && next_id > 1) {  // any request, one that is decoding, or the one in the lane
      const std::vector<uint64_t> live = decoding();
      const uint32_t kind = rng() % 3;
      uint64_t id = 1 + rng() % (next_id - 1);
      if (kind == 1 && !live.empty()) id = live[rng() % live.size()];
      if (kind == 2 && d.chunk_request()) id = *d.chunk_request();
      if (auto u = s.abort(id)) {
        aborted.insert(id);
        d.record({*u});
      }
    }
    d.step();
    if (rng() % 50 == 0) s.check_consistency();
  }
  d.run_until_idle();

  // Every block free, no ref count off, nothing held; both runners were told to forget everything.
  s.check_consistency();
  EXPECT_EQ(s.kv_cache().num_free_blocks(), kBlocks);
  EXPECT_EQ(s.kv_cache().num_held_blocks(), 0);
  for (int b = 0; b < kBlocks; ++b) EXPECT_EQ(s.kv_cache().pool().ref_count(b), 0);
  EXPECT_EQ(decode.num_requests(), 0u);
  EXPECT_EQ(prefill.num_requests(), 0u);

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
  if (c.backlog == 0) {
    EXPECT_GT(d.chunks(), kRequests);
  } else {  // the lane and the decode steps each take a good share of the prompts, in chunks
    EXPECT_GT(d.chunks(), kRequests / 2);
    EXPECT_GT(d.inline_admissions(), kRequests / 2);
    EXPECT_GT(d.inline_chunks(), d.inline_admissions());
  }
  if (c.caching) {
    EXPECT_GT(s.kv_cache().prefix_hits(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, SchedulerLaneRandom,
                         ::testing::Values(Case{true, 1, false, 0}, Case{false, 1, false, 0}, Case{true, 2, false, 0},
                                           Case{false, 2, false, 0}, Case{true, 1, true, 0}, Case{true, 2, true, 0},
                                           Case{true, 1, false, 2}, Case{true, 2, false, 2}, Case{false, 2, false, 2},
                                           Case{true, 2, true, 2}, Case{true, 2, false, 4}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return std::string(c.caching ? "Caching" : "NoCaching") + (c.depth == 2 ? "Async" : "Sync") +
                                  (c.priority ? "Priority" : "") +
                                  (c.backlog > 0 ? "Backlog" + std::to_string(c.backlog) : "");
                         });

}  // namespace
}  // namespace rotor
