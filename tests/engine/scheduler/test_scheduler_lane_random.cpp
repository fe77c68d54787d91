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
#include <string>

#include "tests/engine/scheduler/lane_driver.h"
#include "tests/engine/scheduler/random_traffic.h"
#include "tests/engine/scheduler/scheduler_test_util.h"

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
  constexpr int kBlocks = 48, kBs = 4, kMaxLen = 96, kEosEvery = 25, kMaxChunkWait = 3, kRequests = 1500;
  SchedulerConfig cfg = test::config(kBlocks, kBs, 24, 10, kMaxLen);  // prompts of up to 54 tokens: up to 3 chunks
  cfg.enable_prefix_caching = c.caching;
  cfg.prefill_lane = true;
  cfg.priority_policy = c.priority;
  cfg.prefill_lane_backlog = c.backlog;
  Scheduler s(cfg);
  const std::shared_ptr<SimKV> kv = make_sim_kv(kBlocks, kBs);
  SimRunner decode(kv, kBs, kEosEvery), prefill(kv, kBs, kEosEvery);
  const uint32_t seed = 4321 + c.depth * 10 + c.caching + c.priority * 100 + c.backlog * 1000;
  test::LaneDriver d(s, decode, prefill, c.depth, kMaxChunkWait, seed);

  std::mt19937 rng(seed);
  test::RandomTraffic t(rng, kRequests, kMaxLen);
  // Requests with outputs and no finish yet.
  const auto decoding = [&] {
    std::vector<uint64_t> ids;
    for (const auto& [id, f] : d.results())
      if (!f.tokens.empty() && f.reason == FinishReason::None) ids.push_back(id);
    return ids;
  };
  while (t.more() || s.has_work() || d.in_flight() > 0) {
    for (int b = t.burst(); b > 0; --b) {
      const std::vector<uint64_t> live = decoding();
      if (rng() % 4 == 0 && !live.empty()) {  // continues a decoding request
        const uint64_t of = live[rng() % live.size()];
        std::vector<int32_t> start = t.submitted(of).tokens;
        start.insert(start.end(), d.results()[of].tokens.begin(), d.results()[of].tokens.end());
        if (start.size() + 6 >= kMaxLen) start.clear();
        t.submit(s, t.next(std::move(start)));
      } else {
        Request r = t.next(t.prefix());
        r.priority = c.priority ? 1 : 0;
        t.submit(s, r);
      }
    }
    if (rng() % 12 == 0 && t.num_submitted() > 0) {  // any request, one that is decoding, or the one in the lane
      const std::vector<uint64_t> live = decoding();
      const uint32_t kind = rng() % 3;
      uint64_t id = t.any_id();
      if (kind == 1 && !live.empty()) id = live[rng() % live.size()];
      if (kind == 2 && d.chunk_request()) id = *d.chunk_request();
      t.abort(s, d, id);
    }
    d.step();
    if (rng() % 50 == 0) s.check_consistency();
  }
  d.run_until_idle();

  // Nothing left in the pool; both runners were told to forget everything.
  test::expect_pool_empty(s);
  EXPECT_EQ(decode.num_requests(), 0u);
  EXPECT_EQ(prefill.num_requests(), 0u);
  t.check(d, kEosEvery);
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
