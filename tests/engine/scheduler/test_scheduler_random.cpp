// tests/engine/scheduler/test_scheduler_random.cpp — thousands of random submit / abort / finish /
// preempt sequences through the scheduler and the simulated runner (whose KV check catches
// any block handed out too early or mapped wrongly), synchronous and async, with and without
// prefix caching. At the end every block is back in the pool with ref count 0, and every
// request that was not aborted produced exactly what it produces alone.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/engine/scheduler/random_traffic.h"
#include "tests/engine/scheduler/scheduler_driver.h"
#include "tests/engine/scheduler/scheduler_test_util.h"

namespace rotor {
namespace {

struct Case {
  bool caching;
  int depth;
};

class SchedulerRandom : public ::testing::TestWithParam<Case> {};

TEST_P(SchedulerRandom, EverythingReturnsToThePool) {
  const Case c = GetParam();
  constexpr int kBlocks = 48, kBs = 4, kMaxLen = 96, kEosEvery = 25, kRequests = 1500;
  SchedulerConfig cfg = test::config(kBlocks, kBs, 40, 10, kMaxLen);
  cfg.enable_prefix_caching = c.caching;
  Scheduler s(cfg);
  SimRunner sim(kBlocks, kBs, kEosEvery);
  test::SchedulerDriver d(s, sim, c.depth);

  std::mt19937 rng(1234 + c.depth * 10 + c.caching);
  test::RandomTraffic t(rng, kRequests, kMaxLen);
  while (t.more() || s.has_work() || d.in_flight() > 0) {
    for (int b = t.burst(); b > 0; --b) t.submit(s, t.next(t.prefix()));
    if (rng() % 12 == 0 && t.num_submitted() > 0) t.abort(s, d, t.any_id());
    d.step();
    if (rng() % 50 == 0) s.check_consistency();
  }
  d.run_until_idle();

  test::expect_pool_empty(s);
  // The runner was told to forget everything (the last step carries the last finished ids).
  sim.execute(s.schedule());
  EXPECT_EQ(sim.num_requests(), 0u);
  t.check(d, kEosEvery);
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
