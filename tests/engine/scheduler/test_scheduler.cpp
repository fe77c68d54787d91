// tests/engine/scheduler/test_scheduler.cpp — schedule() / update_from_output() driven by hand and by the
// simulated runner: token budget and max_num_seqs, chunked prefill, running before waiting,
// preemption of the newest and resumption (with outputs intact), abort, prefix hits, the
// stop conditions, async scheduling's placeholders (and the requests that wait for them),
// the priority policy, prompt log-probs reported once per position.
#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"
#include "tests/engine/scheduler/scheduler_driver.h"
#include "tests/engine/scheduler/scheduler_test_util.h"

namespace rotor {
namespace {

using test::answer;
using test::config;
using test::request;
using test::SchedulerDriver;

TEST(Scheduler, TokenBudgetChunksPrefillAndRunsRunningFirst) {
  Scheduler s(config(64, 4, 32));
  s.add_request(request(1, 50, 4));
  s.add_request(request(2, 10, 4, 500));
  SchedulerOutput o = s.schedule();
  ASSERT_EQ(o.scheduled.size(), 1u);  // the budget is spent on a chunk of the first prompt
  EXPECT_EQ(o.scheduled[0].num_tokens, 32);
  EXPECT_FALSE(o.scheduled[0].sample);
  EXPECT_EQ(o.new_requests.size(), 1u);
  EXPECT_TRUE(s.update_from_output(o, answer(o, 7)).empty());

  o = s.schedule();
  ASSERT_EQ(o.scheduled.size(), 2u);  // the rest of request 1, then request 2 in what is left
  EXPECT_EQ(o.scheduled[0].req_id, 1u);
  EXPECT_EQ(o.scheduled[0].num_tokens, 18);
  EXPECT_TRUE(o.scheduled[0].sample);
  EXPECT_EQ(o.scheduled[1].num_tokens, 10);
  EXPECT_EQ(o.total_num_tokens, 28);
  ASSERT_EQ(o.cached_requests.size(), 1u);
  EXPECT_EQ(o.cached_requests[0].num_computed_tokens, 32);
  EXPECT_EQ(o.cached_requests[0].new_block_ids.size(), 5u);  // 13 blocks for 50 tokens, 8 sent before
  EXPECT_EQ(s.update_from_output(o, answer(o, 7)).size(), 2u);

  // A new long prompt arrives: the decodes go first, the prompt gets what is left.
  s.add_request(request(3, 100, 4, 900));
  o = s.schedule();
  ASSERT_EQ(o.scheduled.size(), 3u);
  EXPECT_EQ(o.scheduled[0].num_tokens, 1);
  EXPECT_EQ(o.scheduled[1].num_tokens, 1);
  EXPECT_EQ(o.scheduled[2].req_id, 3u);
  EXPECT_EQ(o.scheduled[2].num_tokens, 30);
  ASSERT_EQ(o.cached_requests.size(), 2u);
  EXPECT_EQ(o.cached_requests[0].new_token_ids, std::vector<int32_t>{7});
  s.update_from_output(o, answer(o, 7));
  s.check_consistency();
}

TEST(Scheduler, AtMostMaxNumSeqsRunning) {
  Scheduler s(config(64, 4, 64, 2));
  SimRunner sim(64, 4, 0);
  SchedulerDriver d(s, sim, 1);
  for (uint64_t id = 1; id <= 3; ++id) s.add_request(request(id, 5, 3, static_cast<int32_t>(100 * id)));
  ASSERT_TRUE(d.step());
  EXPECT_EQ(s.num_running(), 2);
  EXPECT_EQ(s.num_waiting(), 1);
  d.run_until_idle();
  for (uint64_t id = 1; id <= 3; ++id) EXPECT_EQ(d.results()[id].tokens.size(), 3u);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 64);
}

TEST(Scheduler, PreemptsNewestAndResumesWithItsOutputs) {
  // 8 blocks of 4 = 32 tokens; two requests of 12 + 12 generated tokens cannot both fit.
  for (bool caching : {true, false}) {
    SCOPED_TRACE(caching ? "prefix caching" : "no prefix caching");
    SchedulerConfig c = config(8, 4, 64, 8, 32);
    c.enable_prefix_caching = caching;
    Scheduler s(c);
    SimRunner sim(8, 4, 0);
    SchedulerDriver d(s, sim, 1);
    s.add_request(request(1, 12, 12));
    s.add_request(request(2, 12, 12, 500));
    bool saw_preemption = false, saw_resume = false;
    for (int i = 0; i < 200 && s.has_work(); ++i) {
      const SchedulerOutput o = s.schedule();
      if (!o.preempted_req_ids.empty()) {
        EXPECT_EQ(o.preempted_req_ids, std::vector<uint64_t>{2});  // the newest goes first
        saw_preemption = true;
      }
      for (const NewRequestData& n : o.new_requests)
        if (n.req_id == 2 && saw_preemption) {
          saw_resume = true;
          EXPECT_GT(n.token_ids.size(), 12u);  // prompt + what it generated before
        }
      d.record(s.update_from_output(o, sim.execute(o)));
      s.check_consistency();
    }
    EXPECT_TRUE(saw_preemption);
    EXPECT_TRUE(saw_resume);
    for (uint64_t id : {1, 2}) {
      const Request r = request(id, 12, 12, id == 1 ? 100 : 500);
      const auto want = test::expected_alone(r.seed, r.tokens, 12, 32, 0, true);
      EXPECT_EQ(d.results()[id].tokens, want.tokens) << "request " << id;
      EXPECT_EQ(d.results()[id].reason, FinishReason::Length);
    }
    EXPECT_EQ(s.kv_cache().num_free_blocks(), 8);
    EXPECT_GE(s.num_preemptions(), 1u);
  }
}

TEST(Scheduler, AbortFreesBlocksAndTellsTheRunner) {
  Scheduler s(config(16, 4, 64, 8, 64));
  s.add_request(request(1, 10, 5));
  s.add_request(request(2, 10, 5, 500));
  SchedulerOutput o = s.schedule();
  s.update_from_output(o, answer(o, 7));
  const auto u = s.abort(1);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->finish_reason, FinishReason::Abort);
  EXPECT_EQ(u->num_output_tokens, 1);
  EXPECT_FALSE(s.abort(1).has_value());
  EXPECT_FALSE(s.abort(99).has_value());
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 16 - 3);
  o = s.schedule();
  EXPECT_EQ(o.finished_req_ids, std::vector<uint64_t>{1});
  ASSERT_EQ(o.scheduled.size(), 1u);
  // Aborted while its step is in flight: the late result is dropped.
  s.abort(2);
  EXPECT_TRUE(s.update_from_output(o, answer(o, 7)).empty());
  // A waiting request can be aborted too.
  s.add_request(request(3, 10, 5));
  EXPECT_TRUE(s.abort(3).has_value());
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 16);
  EXPECT_FALSE(s.schedule().scheduled.size());
  s.check_consistency();
}

TEST(Scheduler, PrefixHitSkipsCachedPrompt) {
  Scheduler s(config(32));
  SimRunner sim(32, 4, 0);
  SchedulerDriver d(s, sim, 1);
  s.add_request(request(1, 20, 2));
  d.run_until_idle();
  Request b = request(2, 22, 2);  // shares 20 tokens = 5 blocks with request 1
  b.tokens[21] = 7;
  s.add_request(b);
  SchedulerOutput o = s.schedule();
  ASSERT_EQ(o.new_requests.size(), 1u);
  EXPECT_EQ(o.new_requests[0].num_computed_tokens, 20);
  EXPECT_EQ(o.scheduled[0].num_tokens, 2);
  d.record(s.update_from_output(o, sim.execute(o)));
  d.run_until_idle();
  EXPECT_EQ(d.results()[2].num_cached_tokens, 20);
  // A prompt equal to a cached one recomputes its last block's last token only.
  s.add_request(request(3, 20, 1));
  o = s.schedule();
  EXPECT_EQ(o.new_requests[0].num_computed_tokens, 16);
  d.record(s.update_from_output(o, sim.execute(o)));
  // prompt_argmax requests never read the cache, and get every prompt position.
  Request e = request(4, 20, 1);
  e.prompt_argmax = true;
  s.add_request(e);
  o = s.schedule();
  EXPECT_EQ(o.new_requests[0].num_computed_tokens, 0);
  d.record(s.update_from_output(o, sim.execute(o)));
  EXPECT_EQ(d.results()[4].prompt_argmax.size(), 20u);
  EXPECT_GT(s.kv_cache().prefix_hits(), 0u);
  s.check_consistency();
}

TEST(Scheduler, StopConditions) {
  SchedulerConfig c = config(32, 4, 64, 8, 16);
  c.eos_token_ids = {1, 2};
  Scheduler s(c);
  auto run = [&](Request r, const std::vector<int32_t>& tokens) {
    const uint64_t id = r.id;
    s.add_request(std::move(r));
    test::Finished f;
    for (int32_t t : tokens) {
      const SchedulerOutput o = s.schedule();
      for (const RequestUpdate& u : s.update_from_output(o, answer(o, t))) {
        if (u.req_id != id) continue;
        f.tokens.insert(f.tokens.end(), u.new_token_ids.begin(), u.new_token_ids.end());
        f.reason = u.finish_reason;
        f.stop_token = u.stop_token_id;
      }
      if (f.reason != FinishReason::None) break;
    }
    return f;
  };
  Request r = request(1, 4, 10);
  r.params.ignore_eos = false;
  auto f = run(r, {5, 6, 2, 9});
  EXPECT_EQ(f.tokens, (std::vector<int32_t>{5, 6, 2}));
  EXPECT_EQ(f.reason, FinishReason::Stop);
  EXPECT_FALSE(f.stop_token.has_value());

  r = request(2, 4, 10);  // ignore_eos: eos ids pass, stop ids still stop
  r.params.stop_token_ids = {9};
  f = run(r, {1, 2, 9, 5});
  EXPECT_EQ(f.tokens, (std::vector<int32_t>{1, 2, 9}));
  EXPECT_EQ(f.stop_token, 9);

  r = request(3, 4, 10);  // min_tokens: no stop before 3 tokens
  r.params.ignore_eos = false;
  r.params.min_tokens = 3;
  f = run(r, {1, 1, 1, 5});
  EXPECT_EQ(f.tokens, (std::vector<int32_t>{1, 1, 1}));
  EXPECT_EQ(f.reason, FinishReason::Stop);

  f = run(request(4, 4, 2), {5, 5, 5});  // max_tokens
  EXPECT_EQ(f.tokens.size(), 2u);
  EXPECT_EQ(f.reason, FinishReason::Length);

  f = run(request(5, 13, 10), {5, 5, 5, 5});  // max_model_len 16
  EXPECT_EQ(f.tokens.size(), 3u);
  EXPECT_EQ(f.reason, FinishReason::Length);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 32);
}

TEST(Scheduler, RejectsWhatCanNeverRun) {
  EXPECT_THROW(Scheduler(config(3, 4, 64, 8, 16)), Error);  // 12 tokens of KV < max_model_len 16
  Scheduler s(config(8, 4, 64, 8, 16));
  EXPECT_THROW(s.add_request(request(1, 16, 1)), Error);
  EXPECT_THROW(s.add_request(request(1, 0, 1)), Error);
  s.add_request(request(1, 15, 1));
  EXPECT_THROW(s.add_request(request(1, 3, 1)), Error);
}

TEST(Scheduler, AsyncStepsUsePlaceholders) {
  Scheduler s(config(32));
  Request r = request(1, 6, 10);
  r.params.ignore_eos = false;
  s.add_request(r);
  const SchedulerOutput o1 = s.schedule();  // prefill, samples token 7
  const SchedulerOutput o2 = s.schedule();  // before o1 reported: decodes the placeholder
  ASSERT_EQ(o2.scheduled.size(), 1u);
  EXPECT_EQ(o2.scheduled[0].num_tokens, 1);
  EXPECT_TRUE(o2.scheduled[0].sample);
  EXPECT_TRUE(o2.cached_requests[0].new_token_ids.empty());  // nothing known yet
  EXPECT_EQ(s.request(1)->num_placeholders, 2);
  auto u = s.update_from_output(o1, answer(o1, 7));
  ASSERT_EQ(u.size(), 1u);
  const SchedulerOutput o3 = s.schedule();  // now token 7 is known and sent
  EXPECT_EQ(o3.cached_requests[0].new_token_ids, std::vector<int32_t>{7});
  // o2 samples eos: the request finishes and o3's result is dropped.
  u = s.update_from_output(o2, answer(o2, kSimEos));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].finish_reason, FinishReason::Stop);
  EXPECT_TRUE(s.update_from_output(o3, answer(o3, 5)).empty());
  EXPECT_EQ(s.schedule().finished_req_ids, std::vector<uint64_t>{1});
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 32);

  // With max_tokens certain to be reached by the steps in flight, nothing more is scheduled.
  s.add_request(request(2, 6, 1));
  const SchedulerOutput p1 = s.schedule();
  EXPECT_EQ(p1.scheduled.size(), 1u);
  EXPECT_TRUE(s.schedule().scheduled.empty());
  u = s.update_from_output(p1, answer(p1, 5));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].finish_reason, FinishReason::Length);
  s.check_consistency();
}

TEST(Scheduler, BadWordsOfSeveralTokensWaitForTheTokenInFlight) {
  Scheduler s(config(32));
  Request r = request(1, 6, 10);
  r.params.bad_words = {{5, 6}};  // whether 6 may follow depends on the token in flight
  s.add_request(r);
  Request plain = request(2, 6, 10, 500);
  plain.params.bad_words = {{9}};  // one token: banned whatever came before
  s.add_request(plain);
  const SchedulerOutput o1 = s.schedule();
  ASSERT_EQ(o1.scheduled.size(), 2u);
  const SchedulerOutput o2 = s.schedule();  // before o1 reported
  ASSERT_EQ(o2.scheduled.size(), 1u);
  EXPECT_EQ(o2.scheduled[0].req_id, 2u);
  s.update_from_output(o1, answer(o1, 5));
  const SchedulerOutput o3 = s.schedule();
  ASSERT_EQ(o3.scheduled.size(), 2u);  // request 1 again, its last token now known
  EXPECT_EQ(o3.scheduled[0].req_id, 1u);
  EXPECT_EQ(o3.cached_requests[0].new_token_ids, std::vector<int32_t>{5});
  EXPECT_EQ(s.request(1)->num_placeholders, 1);
  s.check_consistency();
}

TEST(Scheduler, PriorityPolicyOrdersWaitingAndPreemptsTheLeastUrgent) {
  SchedulerConfig c = config(64, 4, 64, 1);
  EXPECT_THROW(
      {
        Scheduler fcfs(c);
        Request r = request(9, 4, 1);
        r.priority = 1;
        fcfs.add_request(r);
      },
      Error);
  c.priority_policy = true;
  Scheduler s(c);
  for (const auto& [id, priority] : {std::pair{1, 5}, {2, -1}, {3, 5}, {4, 0}}) {
    Request r = request(id, 4, 1, 100 * id);
    r.priority = priority;
    s.add_request(r);
  }
  std::vector<uint64_t> order;
  while (s.has_work()) {
    const SchedulerOutput o = s.schedule();
    for (const ScheduledRequest& sr : o.scheduled) order.push_back(sr.req_id);
    s.update_from_output(o, answer(o, 7));
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{2, 4, 1, 3}));  // by priority, then arrival

  // Out of blocks: the least urgent running request is preempted, even one admitted first
  // and already picked in this step; it goes back in its place in the queue.
  SchedulerConfig small = config(8, 4, 64, 8, 32);
  small.priority_policy = true;
  Scheduler p(small);
  SimRunner sim(8, 4, 0);
  Request lazy = request(1, 12, 12);
  lazy.priority = 10;
  Request urgent = request(2, 12, 12, 500);
  urgent.priority = 0;
  p.add_request(lazy);
  p.add_request(urgent);
  test::SchedulerDriver d(p, sim, 1);
  bool preempted = false;
  for (int i = 0; i < 200 && p.has_work(); ++i) {
    const SchedulerOutput o = p.schedule();
    if (!o.preempted_req_ids.empty()) {
      EXPECT_EQ(o.preempted_req_ids, std::vector<uint64_t>{1});
      for (const ScheduledRequest& sr : o.scheduled) EXPECT_NE(sr.req_id, 1u);
      preempted = true;
    }
    d.record(p.update_from_output(o, sim.execute(o)));
    p.check_consistency();
  }
  EXPECT_TRUE(preempted);
  EXPECT_EQ(d.results()[1].reason, FinishReason::Length);
  EXPECT_EQ(d.results()[2].reason, FinishReason::Length);
  EXPECT_EQ(p.kv_cache().num_free_blocks(), 8);
}

TEST(Scheduler, PromptLogprobsSkipThePrefixCacheAndAreReportedOnce) {
  Scheduler s(config(64, 4, 6));
  s.add_request(request(1, 12, 1));
  while (s.has_work()) {
    const SchedulerOutput o = s.schedule();
    s.update_from_output(o, answer(o, 7));
  }
  Request r = request(2, 12, 2);
  r.params.prompt_logprobs = 0;
  s.add_request(r);
  std::vector<int32_t> seen;  // prompt tokens whose log-prob came back, in order
  auto report = [&](const SchedulerOutput& o, int from) {
    RunnerOutput res = answer(o, 7);
    const ScheduledRequest& sr = o.scheduled[0];
    res.outputs[0].prompt_position = from;
    for (int p = from; p < std::min(from + sr.num_tokens, 11); ++p) {
      TokenLogprobs t;
      t.token = 101 + p;  // the prompt token after position p
      res.outputs[0].prompt_logprobs.push_back(t);
    }
    for (const RequestUpdate& u : s.update_from_output(o, res))
      for (const TokenLogprobs& t : u.prompt_logprobs) seen.push_back(t.token);
  };
  SchedulerOutput o = s.schedule();
  ASSERT_EQ(o.new_requests.size(), 1u);
  EXPECT_EQ(o.new_requests[0].num_computed_tokens, 0);  // the cached prefix is not used
  report(o, 0);
  o = s.schedule();
  report(o, 6);
  std::vector<int32_t> want(11);
  std::iota(want.begin(), want.end(), 101);
  EXPECT_EQ(seen, want);
  // Positions reported again (a preempted request computes its prompt again) are dropped.
  o = s.schedule();
  RunnerOutput again = answer(o, 7);
  again.outputs[0].prompt_position = 3;
  again.outputs[0].prompt_logprobs.resize(4);
  for (const RequestUpdate& u : s.update_from_output(o, again)) EXPECT_TRUE(u.prompt_logprobs.empty());
}

}  // namespace
}  // namespace rotor
