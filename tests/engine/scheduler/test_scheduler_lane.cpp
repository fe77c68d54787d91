// tests/engine/scheduler/test_scheduler_lane.cpp — the scheduler with the prefill lane, driven by hand
// and by the simulated runners: a request in the lane is not decoded and keeps its blocks while
// decode steps go on; aborts in the lane; the chunk's blocks in the prefix cache; long prompts in
// back-to-back chunks; max_num_seqs; a first token that finishes; preempted requests coming back
// through the lane; blocks freed by the decode side held until the step in flight reports (and
// waited for rather than preempting); blocks decode steps fill cached only once written; the
// backlog rule (prompts admitted into decode steps while enough wait; neither lane hitting blocks
// the other's step in flight writes; no admission while a running request waits for blocks).
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "tests/engine/scheduler/lane_driver.h"
#include "tests/engine/scheduler/scheduler_test_util.h"

namespace rotor {
namespace {

using test::answer;
using test::request;

// Blocks of 4 tokens; max_model_len defaults to what the pool holds.
SchedulerConfig lane_config(int num_blocks, int budget = 64, int max_seqs = 8, int max_len = 0) {
  SchedulerConfig c = test::config(num_blocks, 4, budget, max_seqs, max_len > 0 ? max_len : num_blocks * 4);
  c.prefill_lane = true;
  return c;
}

std::vector<uint64_t> ids(const SchedulerOutput& out) {
  std::vector<uint64_t> v;
  for (const ScheduledRequest& s : out.scheduled) v.push_back(s.req_id);
  return v;
}

TEST(SchedulerLane, InLaneRequestIsNotDecodedAndKeepsItsBlocks) {
  Scheduler s(lane_config(64, 16));
  s.add_request(request(1, 6, 10));
  s.add_request(request(2, 40, 4, 500));
  const SchedulerOutput c1 = s.schedule_chunk();
  ASSERT_EQ(ids(c1), std::vector<uint64_t>{1});
  EXPECT_TRUE(c1.scheduled[0].sample);
  ASSERT_EQ(c1.new_requests.size(), 1u);
  EXPECT_TRUE(s.schedule().empty());  // nothing runs yet: prompts go through the lane
  const auto u = s.update_from_chunk(c1, answer(c1, 7));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].new_token_ids, std::vector<int32_t>{7});
  EXPECT_EQ(s.num_running(), 1);

  const SchedulerOutput c2 = s.schedule_chunk();  // request 2's first chunk, in flight from here
  ASSERT_EQ(ids(c2), std::vector<uint64_t>{2});
  EXPECT_EQ(c2.scheduled[0].num_tokens, 16);
  EXPECT_FALSE(c2.scheduled[0].sample);
  EXPECT_EQ(c2.finished_req_ids, std::vector<uint64_t>{1});  // the prefill runner forgets request 1
  EXPECT_TRUE(s.chunk_in_flight());
  EXPECT_FALSE(s.has_chunk_work());
  EXPECT_EQ(s.num_prefilling(), 1);
  EXPECT_THROW(s.schedule_chunk(), Error);
  const std::vector<int32_t> table(s.kv_cache().block_table(2).begin(), s.kv_cache().block_table(2).end());
  EXPECT_EQ(table.size(), 4u);

  // Decode steps go on for request 1 only; the decode runner learns it whole.
  SchedulerOutput o = s.schedule();
  ASSERT_EQ(ids(o), std::vector<uint64_t>{1});
  ASSERT_EQ(o.new_requests.size(), 1u);
  EXPECT_EQ(o.new_requests[0].token_ids.size(), 7u);
  EXPECT_EQ(o.new_requests[0].num_computed_tokens, 6);
  EXPECT_EQ(o.new_requests[0].block_ids.size(), 2u);
  s.update_from_output(o, answer(o, 8));
  o = s.schedule();
  ASSERT_EQ(ids(o), std::vector<uint64_t>{1});
  EXPECT_EQ(o.cached_requests.size(), 1u);
  s.update_from_output(o, answer(o, 8));
  EXPECT_TRUE(std::ranges::equal(s.kv_cache().block_table(2), table));
  EXPECT_EQ(s.request(2)->status, RequestStatus::Prefilling);
  s.check_consistency();

  EXPECT_THROW(s.update_from_chunk(o, answer(o, 8)), Error);  // not the chunk in flight
  EXPECT_TRUE(s.update_from_chunk(c2, answer(c2, 7)).empty());
  const SchedulerOutput c3 = s.schedule_chunk();  // its next chunk, to a runner that holds it
  ASSERT_EQ(ids(c3), std::vector<uint64_t>{2});
  ASSERT_EQ(c3.cached_requests.size(), 1u);
  EXPECT_EQ(c3.cached_requests[0].num_computed_tokens, 16);
  EXPECT_EQ(c3.cached_requests[0].new_block_ids.size(), 4u);
  s.check_consistency();
}

TEST(SchedulerLane, AbortInTheLane) {
  Scheduler s(lane_config(16, 8));
  s.add_request(request(1, 20, 4));
  SchedulerOutput c = s.schedule_chunk();
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 14);
  // In flight: finished at once for the client, its blocks kept until the chunk reports.
  const auto u = s.abort(1);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->finish_reason, FinishReason::Abort);
  EXPECT_FALSE(s.abort(1).has_value());
  EXPECT_EQ(s.request(1), nullptr);
  EXPECT_EQ(s.num_prefilling(), 0);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 14);
  s.check_consistency();
  EXPECT_TRUE(s.update_from_chunk(c, answer(c, 7)).empty());
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 16);
  EXPECT_FALSE(s.has_decode_work());  // the decode runner never held it
  ASSERT_TRUE(s.has_chunk_work());
  c = s.schedule_chunk();
  EXPECT_EQ(c.finished_req_ids, std::vector<uint64_t>{1});
  EXPECT_TRUE(c.scheduled.empty());
  s.update_from_chunk(c, {});

  // Between chunks: freed at once.
  s.add_request(request(2, 20, 4, 500));
  c = s.schedule_chunk();
  s.update_from_chunk(c, answer(c, 7));
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 14);
  ASSERT_TRUE(s.abort(2).has_value());
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 16);
  c = s.schedule_chunk();
  EXPECT_EQ(c.finished_req_ids, std::vector<uint64_t>{2});
  EXPECT_TRUE(c.scheduled.empty());
  s.update_from_chunk(c, {});
  EXPECT_FALSE(s.has_work());
  s.check_consistency();
}

TEST(SchedulerLane, ChunkBlocksEnterThePrefixCache) {
  Scheduler s(lane_config(32));
  s.add_request(request(1, 20, 6));
  SchedulerOutput c = s.schedule_chunk();
  s.update_from_chunk(c, answer(c, 7));
  // Request 1 is still decoding; request 2 shares its 20 prompt tokens = 5 blocks.
  Request b = request(2, 22, 2);
  b.tokens[21] = 7;
  s.add_request(b);
  c = s.schedule_chunk();
  ASSERT_EQ(c.new_requests.size(), 1u);
  EXPECT_EQ(c.new_requests[0].num_computed_tokens, 20);
  EXPECT_EQ(c.scheduled[0].num_tokens, 2);
  EXPECT_TRUE(std::ranges::equal(s.kv_cache().block_table(2).first(5), s.kv_cache().block_table(1).first(5)));
  const auto u = s.update_from_chunk(c, answer(c, 7));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].num_cached_tokens, 20);
  EXPECT_GT(s.kv_cache().prefix_hits(), 0u);
  s.check_consistency();
}

TEST(SchedulerLane, LongPromptGoesInChunksBackToBack) {
  Scheduler s(lane_config(64, 16));
  s.add_request(request(1, 50, 4));
  s.add_request(request(2, 5, 4, 500));
  std::vector<std::pair<uint64_t, int>> chunks;
  while (chunks.size() < 5) {
    const SchedulerOutput c = s.schedule_chunk();
    ASSERT_EQ(c.scheduled.size(), 1u);
    chunks.emplace_back(c.scheduled[0].req_id, c.scheduled[0].num_tokens);
    s.update_from_chunk(c, answer(c, 7));
    const SchedulerOutput o = s.schedule();  // decodes whatever left the lane
    if (!o.empty()) s.update_from_output(o, answer(o, 7));
  }
  const std::vector<std::pair<uint64_t, int>> want{{1, 16}, {1, 16}, {1, 16}, {1, 2}, {2, 5}};
  EXPECT_EQ(chunks, want);
  s.check_consistency();
}

TEST(SchedulerLane, MaxNumSeqsCountsTheLane) {
  Scheduler s(lane_config(64, 4, 2));
  s.add_request(request(1, 3, 2));
  s.add_request(request(2, 8, 4, 500));
  s.add_request(request(3, 3, 4, 900));
  SchedulerOutput c = s.schedule_chunk();
  s.update_from_chunk(c, answer(c, 7));
  c = s.schedule_chunk();  // request 2's first half: 1 running + 1 in the lane
  ASSERT_EQ(ids(c), std::vector<uint64_t>{2});
  EXPECT_EQ(s.num_running() + s.num_prefilling(), 2);
  s.check_consistency();
  s.update_from_chunk(c, answer(c, 7));
  c = s.schedule_chunk();
  ASSERT_EQ(ids(c), std::vector<uint64_t>{2});
  s.update_from_chunk(c, answer(c, 7));
  EXPECT_EQ(s.num_running(), 2);
  c = s.schedule_chunk();  // request 3 waits for a seat
  EXPECT_TRUE(c.scheduled.empty());
  EXPECT_EQ(c.finished_req_ids, std::vector<uint64_t>{2});
  s.update_from_chunk(c, {});
  EXPECT_TRUE(s.has_chunk_work());
  EXPECT_TRUE(s.schedule_chunk().empty());
  const SchedulerOutput o = s.schedule();  // request 1 reaches max_tokens 2
  s.update_from_output(o, answer(o, 7));
  EXPECT_EQ(s.num_running(), 1);
  c = s.schedule_chunk();
  EXPECT_EQ(ids(c), std::vector<uint64_t>{3});
  s.check_consistency();
}

TEST(SchedulerLane, FirstTokenThatFinishesNeverReachesTheDecodeLane) {
  Scheduler s(lane_config(32));
  s.add_request(request(1, 6, 1));
  Request e = request(2, 6, 10, 500);
  e.params.ignore_eos = false;
  s.add_request(e);
  SchedulerOutput c = s.schedule_chunk();
  auto u = s.update_from_chunk(c, answer(c, 7));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].finish_reason, FinishReason::Length);
  c = s.schedule_chunk();
  EXPECT_EQ(c.finished_req_ids, std::vector<uint64_t>{1});
  u = s.update_from_chunk(c, answer(c, kSimEos));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].finish_reason, FinishReason::Stop);
  EXPECT_EQ(s.num_running(), 0);
  EXPECT_FALSE(s.has_decode_work());
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 32);
  c = s.schedule_chunk();
  EXPECT_EQ(c.finished_req_ids, std::vector<uint64_t>{2});
  s.update_from_chunk(c, {});
  EXPECT_FALSE(s.has_work());
}

TEST(SchedulerLane, PreemptedRequestsComeBackThroughTheLane) {
  // 8 blocks of 4 = 32 tokens; two requests of 12 + 12 generated tokens cannot both fit.
  for (bool caching : {true, false}) {
    SCOPED_TRACE(caching ? "prefix caching" : "no prefix caching");
    SchedulerConfig cfg = lane_config(8, 64, 8, 32);
    cfg.enable_prefix_caching = caching;
    Scheduler s(cfg);
    const auto kv = make_sim_kv(8, 4);
    SimRunner decode(kv, 4, 0), prefill(kv, 4, 0);
    test::UpdateLog log;
    s.add_request(request(1, 12, 12));
    s.add_request(request(2, 12, 12, 500));
    bool preempted = false, resumed = false;
    for (int i = 0; i < 200 && s.has_work(); ++i) {
      if (s.has_chunk_work()) {
        const SchedulerOutput c = s.schedule_chunk();
        for (const NewRequestData& d : c.new_requests) resumed |= preempted && d.token_ids.size() > 12u;
        if (!c.empty()) log.record(s.update_from_chunk(c, prefill.execute(c)));
      }
      const SchedulerOutput o = s.schedule();
      EXPECT_TRUE(o.new_requests.empty() || o.new_requests[0].num_computed_tokens >= 12);
      preempted |= !o.preempted_req_ids.empty();
      if (!o.empty()) log.record(s.update_from_output(o, decode.execute(o)));
      s.check_consistency();
    }
    EXPECT_TRUE(preempted);
    EXPECT_TRUE(resumed);
    for (uint64_t id : {1, 2}) {
      const Request r = request(id, 12, 12, id == 1 ? 100 : 500);
      EXPECT_EQ(log.results()[id].tokens, test::expected_alone(r.seed, r.tokens, 12, 32, 0, true).tokens);
    }
    EXPECT_EQ(s.kv_cache().num_free_blocks(), 8);
  }
}

TEST(SchedulerLane, BlocksFreedByTheDecodeSideWaitForTheStepInFlight) {
  // Requests 1 and 2 fill the pool; a third needs the blocks one of them frees.
  Scheduler s(lane_config(8));
  s.add_request(request(1, 12, 10));
  Request r2 = request(2, 12, 10, 500);
  r2.params.ignore_eos = false;
  s.add_request(r2);
  for (int i = 0; i < 2; ++i) {
    const SchedulerOutput c = s.schedule_chunk();
    s.update_from_chunk(c, answer(c, 7));
  }
  const SchedulerOutput o1 = s.schedule();  // one more block each: the pool is full
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 0);
  ASSERT_TRUE(s.abort(1).has_value());  // while o1 (which writes its blocks) is in flight
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 0);
  EXPECT_EQ(s.kv_cache().num_held_blocks(), 4);
  s.check_consistency();
  s.add_request(request(3, 8, 4, 900));
  SchedulerOutput c = s.schedule_chunk();
  EXPECT_TRUE(c.scheduled.empty());  // the held blocks are nobody's
  s.update_from_chunk(c, {});
  s.update_from_output(o1, answer(o1, 7));
  EXPECT_EQ(s.kv_cache().num_held_blocks(), 0);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 4);
  c = s.schedule_chunk();
  EXPECT_EQ(ids(c), std::vector<uint64_t>{3});
  s.update_from_chunk(c, answer(c, 7));

  // Async: request 2 samples eos in o2 while o3 (which writes its blocks) is in flight.
  const SchedulerOutput o2 = s.schedule();  // request 3 takes a third block
  const SchedulerOutput o3 = s.schedule();
  ASSERT_EQ(ids(o2), (std::vector<uint64_t>{2, 3}));
  ASSERT_EQ(ids(o3), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 1);
  RunnerOutput stop = answer(o2, 7);
  stop.outputs[0].token = kSimEos;
  const auto u = s.update_from_output(o2, stop);
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].finish_reason, FinishReason::Stop);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 1);  // request 2's 4 blocks are held until o3 reports
  EXPECT_EQ(s.kv_cache().num_held_blocks(), 4);
  s.check_consistency();
  s.update_from_output(o3, answer(o3, 7));
  EXPECT_EQ(s.kv_cache().num_held_blocks(), 0);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 5);
  s.check_consistency();
}

TEST(SchedulerLane, DecodeWaitsForHeldBlocksInsteadOfPreempting) {
  // 5 blocks: request 1 (7 tokens) holds 2, request 2 (11 tokens) 3.
  Scheduler s(lane_config(5));
  s.add_request(request(1, 7, 10));
  s.add_request(request(2, 11, 10, 500));
  for (int i = 0; i < 2; ++i) {
    const SchedulerOutput c = s.schedule_chunk();
    s.update_from_chunk(c, answer(c, 7));
  }
  const SchedulerOutput o1 = s.schedule();  // positions 7 and 11: no new block
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 0);
  s.abort(2);  // its 3 blocks are held while o1 is in flight
  // Request 1 needs a fifth block for position 8: it waits for the held ones rather than
  // preempting (itself, the only one running).
  const SchedulerOutput o2 = s.schedule();
  EXPECT_TRUE(o2.scheduled.empty());
  EXPECT_TRUE(o2.preempted_req_ids.empty());
  EXPECT_EQ(o2.finished_req_ids, std::vector<uint64_t>{2});
  s.update_from_output(o1, answer(o1, 7));
  s.update_from_output(o2, {});
  const SchedulerOutput o3 = s.schedule();
  EXPECT_EQ(ids(o3), std::vector<uint64_t>{1});
  ASSERT_EQ(o3.cached_requests.size(), 1u);
  EXPECT_EQ(o3.cached_requests[0].new_block_ids.size(), 1u);
  EXPECT_EQ(s.num_preemptions(), 0u);
  s.check_consistency();
}

TEST(SchedulerLane, BlocksDecodeStepsFillAreCachedOnlyOnceWritten) {
  // A prompt that continues request 1 arrives while the step writing request 1's second block
  // is in flight: its chunk must not read that block (it may run before the write).
  Scheduler s(lane_config(32));
  const auto kv = make_sim_kv(32, 4);
  SimRunner decode(kv, 4, 0), prefill(kv, 4, 0);
  test::UpdateLog log;
  const Request a = request(1, 6, 20);
  s.add_request(a);
  SchedulerOutput c = s.schedule_chunk();
  log.record(s.update_from_chunk(c, prefill.execute(c)));  // token at position 6
  const SchedulerOutput o1 = s.schedule();                  // computes position 6, samples 7
  log.record(s.update_from_output(o1, decode.execute(o1)));
  const SchedulerOutput o2 = s.schedule();  // computes position 7: the block of 4..7 is full
  EXPECT_FALSE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(1)[1]));
  Request b = request(2, 0, 2);
  b.tokens = a.tokens;
  b.tokens.insert(b.tokens.end(), log.results()[1].tokens.begin(), log.results()[1].tokens.end());
  b.tokens.push_back(9);
  ASSERT_EQ(b.tokens.size(), 9u);
  s.add_request(b);
  c = s.schedule_chunk();
  ASSERT_EQ(c.new_requests.size(), 1u);
  EXPECT_EQ(c.new_requests[0].num_computed_tokens, 4);  // not 8
  log.record(s.update_from_chunk(c, prefill.execute(c)));  // the chunk runs before o2
  log.record(s.update_from_output(o2, decode.execute(o2)));
  // The block of positions 8..11 joins the cache at the step after the one computing 11 reported.
  for (int pos = 8; pos <= 11; ++pos) {
    const SchedulerOutput o = s.schedule();
    EXPECT_FALSE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(1)[2])) << "position " << pos;
    log.record(s.update_from_output(o, decode.execute(o)));
  }
  const SchedulerOutput o = s.schedule();
  EXPECT_TRUE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(1)[2]));
  log.record(s.update_from_output(o, decode.execute(o)));
  s.check_consistency();
}

TEST(SchedulerLane, BacklogAdmitsPromptsIntoDecodeStepsWhileTheLaneTakesTheFront) {
  for (int backlog : {0, 3}) {
    SCOPED_TRACE("backlog " + std::to_string(backlog));
    SchedulerConfig cfg = lane_config(64);
    cfg.prefill_lane_backlog = backlog;
    Scheduler s(cfg);
    for (uint64_t id = 1; id <= 5; ++id) s.add_request(request(id, 6, 4, static_cast<int32_t>(100 * id)));
    EXPECT_EQ(s.has_decode_work(), backlog > 0);  // 5 waiting
    const SchedulerOutput c = s.schedule_chunk();  // the lane takes the front
    ASSERT_EQ(ids(c), std::vector<uint64_t>{1});
    SchedulerOutput o = s.schedule();
    if (backlog == 0) {  // today's lane: prompts only through it
      EXPECT_TRUE(o.empty());
      EXPECT_EQ(s.num_waiting(), 4);
      continue;
    }
    // 4 wait: request 2 is admitted; 3 wait: request 3; then 2 < 3 wait and admission stops.
    ASSERT_EQ(ids(o), (std::vector<uint64_t>{2, 3}));
    for (const ScheduledRequest& sr : o.scheduled) {
      EXPECT_EQ(sr.num_tokens, 6);
      EXPECT_TRUE(sr.sample);
    }
    ASSERT_EQ(o.new_requests.size(), 2u);
    EXPECT_EQ(o.new_requests[0].num_computed_tokens, 0);
    EXPECT_EQ(s.num_waiting(), 2);
    EXPECT_EQ(s.num_running(), 2);
    EXPECT_EQ(s.num_prefilling(), 1);
    s.check_consistency();
    s.update_from_output(o, answer(o, 7));
    s.update_from_chunk(c, answer(c, 7));
    o = s.schedule();  // decodes only: 2 wait
    EXPECT_EQ(ids(o), (std::vector<uint64_t>{2, 3, 1}));
    EXPECT_EQ(o.total_num_tokens, 3);
    s.update_from_output(o, answer(o, 7));
    s.add_request(request(6, 6, 4, 600));  // 3 wait again: the front (request 4) is admitted
    o = s.schedule();
    EXPECT_EQ(ids(o), (std::vector<uint64_t>{2, 3, 1, 4}));
    EXPECT_EQ(o.total_num_tokens, 9);
    EXPECT_EQ(s.num_waiting(), 2);
    s.check_consistency();
  }
}

TEST(SchedulerLane, BacklogPromptContinuesInLaterDecodeSteps) {
  SchedulerConfig cfg = lane_config(32, 8);
  cfg.prefill_lane_backlog = 1;
  Scheduler s(cfg);
  SimRunner decode(32, 4, 0);
  test::UpdateLog log;
  const Request a = request(1, 20, 3);
  s.add_request(a);
  std::vector<int> chunks;
  for (SchedulerOutput o = s.schedule(); !o.scheduled.empty(); o = s.schedule()) {
    EXPECT_FALSE(s.has_chunk_work());  // the decode steps took it: nothing waits
    ASSERT_EQ(ids(o), std::vector<uint64_t>{1});
    chunks.push_back(o.scheduled[0].num_tokens);
    EXPECT_EQ(o.new_requests.size(), chunks.size() == 1 ? 1u : 0u);  // then what changed only
    s.check_consistency();
    log.record(s.update_from_output(o, decode.execute(o)));
  }
  EXPECT_FALSE(s.has_work());
  EXPECT_EQ(chunks, (std::vector<int>{8, 8, 4, 1, 1}));
  EXPECT_EQ(log.results()[1].tokens, test::expected_alone(a.seed, a.tokens, 3, cfg.max_model_len, 0, true).tokens);
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 32);
}

TEST(SchedulerLane, LaneChunkBlocksAreNotHitBeforeTheChunkReports) {
  // A prompt with the same 20 tokens is admitted into a decode step while the lane's chunk that
  // writes them is in flight: the step may run first, so it must compute them itself.
  SchedulerConfig cfg = lane_config(32);
  cfg.prefill_lane_backlog = 1;
  Scheduler s(cfg);
  const auto kv = make_sim_kv(32, 4);
  SimRunner decode(kv, 4, 0), prefill(kv, 4, 0);
  s.add_request(request(1, 20, 4));
  const SchedulerOutput c = s.schedule_chunk();
  ASSERT_EQ(ids(c), std::vector<uint64_t>{1});
  const std::vector<int32_t> lane_blocks(s.kv_cache().block_table(1).begin(), s.kv_cache().block_table(1).end());
  for (int32_t b : lane_blocks) EXPECT_FALSE(s.kv_cache().pool().is_cached(b));
  Request b = request(2, 22, 4);
  b.tokens[20] = b.tokens[21] = 9;
  s.add_request(b);
  const SchedulerOutput o = s.schedule();
  ASSERT_EQ(ids(o), std::vector<uint64_t>{2});
  ASSERT_EQ(o.new_requests.size(), 1u);
  EXPECT_EQ(o.new_requests[0].num_computed_tokens, 0);
  EXPECT_EQ(o.scheduled[0].num_tokens, 22);
  s.update_from_output(o, decode.execute(o));  // the decode step runs before the chunk
  s.update_from_chunk(c, prefill.execute(c));
  // Now written: a third prompt hits them (or request 2's, cached when its step reported).
  Request d = request(3, 23, 4);
  d.tokens[20] = 5;
  s.add_request(d);
  const SchedulerOutput o2 = s.schedule();  // request 1 joins the decode batch; request 3 is admitted
  ASSERT_EQ(o2.new_requests.size(), 2u);
  EXPECT_EQ(o2.new_requests[1].req_id, 3u);
  EXPECT_EQ(o2.new_requests[1].num_computed_tokens, 20);
  s.update_from_output(o2, decode.execute(o2));
  s.check_consistency();
}

TEST(SchedulerLane, InlinePromptBlocksAreNotHitBeforeTheirStepReports) {
  // Async decode steps: request 1's first chunk (positions 0..7) is in flight when its second is
  // handed out, and a prompt with the same start goes to the lane: it must not hit blocks 0..1.
  SchedulerConfig cfg = lane_config(32, 8);
  cfg.prefill_lane_backlog = 1;
  Scheduler s(cfg);
  const auto kv = make_sim_kv(32, 4);
  SimRunner decode(kv, 4, 0), prefill(kv, 4, 0);
  s.add_request(request(1, 20, 4));
  const SchedulerOutput o1 = s.schedule();
  const SchedulerOutput o2 = s.schedule();
  ASSERT_EQ(ids(o2), std::vector<uint64_t>{1});
  EXPECT_EQ(o2.cached_requests.at(0).num_computed_tokens, 8);
  const std::span<const int32_t> table = s.kv_cache().block_table(1);
  for (int32_t blk : table) EXPECT_FALSE(s.kv_cache().pool().is_cached(blk));
  s.add_request(request(2, 19, 4));  // tokens 100..118: request 1's first 19
  SchedulerOutput c = s.schedule_chunk();
  ASSERT_EQ(ids(c), std::vector<uint64_t>{2});
  EXPECT_EQ(c.new_requests.at(0).num_computed_tokens, 0);
  s.update_from_chunk(c, prefill.execute(c));  // the chunk runs before o1 and o2
  EXPECT_TRUE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(2)[1]));  // the chunk reported
  // Positions 8..15 are request 1's alone: cached once o2, which writes them, reported.
  s.update_from_output(o1, decode.execute(o1));
  EXPECT_FALSE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(1)[2]));
  s.update_from_output(o2, decode.execute(o2));
  EXPECT_TRUE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(1)[2]));
  EXPECT_TRUE(s.kv_cache().pool().is_cached(s.kv_cache().block_table(1)[3]));
  c = s.schedule_chunk();
  ASSERT_EQ(ids(c), std::vector<uint64_t>{2});
  s.update_from_chunk(c, prefill.execute(c));
  s.check_consistency();
}

TEST(SchedulerLane, BacklogAdmitsNothingWhileARunningRequestWaitsForHeldBlocks) {
  // 5 blocks. Request 1 prefills in decode steps; request 2's chunk in the lane is aborted in
  // flight, its 2 blocks held. Request 1's next chunk needs 2 blocks, 1 is free: it waits for the
  // held ones, and request 3 (1 block) is not admitted in front of it.
  SchedulerConfig cfg = lane_config(5, 8);
  cfg.prefill_lane_backlog = 1;
  Scheduler s(cfg);
  s.add_request(request(1, 16, 4));
  SchedulerOutput o = s.schedule();
  ASSERT_EQ(ids(o), std::vector<uint64_t>{1});
  s.update_from_output(o, answer(o, 7));
  s.add_request(request(2, 16, 4, 500));
  const SchedulerOutput c = s.schedule_chunk();
  ASSERT_EQ(ids(c), std::vector<uint64_t>{2});
  ASSERT_TRUE(s.abort(2).has_value());
  EXPECT_EQ(s.kv_cache().num_free_blocks(), 1);
  s.add_request(request(3, 3, 4, 900));
  o = s.schedule();
  EXPECT_TRUE(o.scheduled.empty());
  EXPECT_TRUE(o.preempted_req_ids.empty());
  EXPECT_EQ(s.num_waiting(), 1);
  s.update_from_chunk(c, answer(c, 7));  // the held blocks come back
  o = s.schedule();
  EXPECT_EQ(ids(o), std::vector<uint64_t>{1});
  EXPECT_EQ(o.total_num_tokens, 8);
  s.update_from_output(o, answer(o, 7));
  s.check_consistency();
}

TEST(SchedulerLane, OffByDefault) {
  SchedulerConfig cfg = lane_config(16);
  cfg.prefill_lane = false;
  Scheduler s(cfg);
  s.add_request(request(1, 6, 2));
  EXPECT_TRUE(s.has_decode_work());  // waiting requests are schedule()'s without the lane
  EXPECT_FALSE(s.has_chunk_work());
  EXPECT_THROW(s.schedule_chunk(), Error);
  const SchedulerOutput o = s.schedule();
  EXPECT_EQ(ids(o), std::vector<uint64_t>{1});
  EXPECT_THROW(s.update_from_chunk(o, answer(o, 7)), Error);
}

}  // namespace
}  // namespace rotor
