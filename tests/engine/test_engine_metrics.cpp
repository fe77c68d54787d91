// tests/engine/test_engine_metrics.cpp — EngineMetrics' arithmetic on hand-made timestamps:
// which histogram each request phase lands in and with what value, counters held back until
// publish(), finish reasons counted, and the scheduler's gauges read from a real Scheduler.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/engine_metrics.h"
#include "engine/scheduler/scheduler.h"

namespace rotor {
namespace {

Clock::time_point at(double s) {
  return Clock::time_point{} + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

RequestUpdate tokens(uint64_t id, int n, FinishReason finish = FinishReason::None) {
  RequestUpdate u;
  u.req_id = id;
  u.new_token_ids.assign(n, 7);
  u.finish_reason = finish;
  return u;
}

Scheduler empty_scheduler() {
  SchedulerConfig c;
  c.max_model_len = 64;
  c.block_size = 16;
  c.num_blocks = 8;
  return Scheduler(c);
}

TEST(EngineMetrics, SizesAndTokenBuckets) {
  EngineMetrics m(8, 16, 100);
  const EngineStats s = m.snapshot();
  EXPECT_EQ(s.num_blocks, 8);
  EXPECT_EQ(s.block_size, 16);
  // 1, 2, 5, 10, 20, 50, 100: the token-count buckets stop at max_model_len.
  EXPECT_EQ(s.prompt_tokens_per_request.bounds, (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_EQ(s.generation_tokens_per_request.bounds, s.prompt_tokens_per_request.bounds);
  EXPECT_EQ(s.max_tokens_param.bounds, s.prompt_tokens_per_request.bounds);
}

TEST(EngineMetrics, RequestPhases) {
  EngineMetrics m(8, 16, 100);
  RequestTimes t;
  t.arrival = at(10.0);
  m.first_scheduled(t, 7, at(11.0));
  ASSERT_TRUE(t.first_scheduled);
  m.update(tokens(1, 1), t, 30, at(13.0));          // first token: TTFT 3 s
  m.update(tokens(1, 2), t, 30, at(13.5));          // inter-token 0.5 s
  RequestUpdate last = tokens(1, 1, FinishReason::Length);
  last.num_prompt_tokens = 7;
  last.num_output_tokens = 4;
  m.update(last, t, 30, at(14.25));                  // inter-token 0.75 s, then the end

  const EngineStats s = m.snapshot();
  EXPECT_EQ(s.queue.count, 1u);
  EXPECT_DOUBLE_EQ(s.queue.sum, 1.0);
  EXPECT_EQ(s.ttft.count, 1u);
  EXPECT_DOUBLE_EQ(s.ttft.sum, 3.0);
  EXPECT_EQ(s.inter_token.count, 2u);
  EXPECT_DOUBLE_EQ(s.inter_token.sum, 1.25);
  EXPECT_EQ(s.e2e.count, 1u);
  EXPECT_DOUBLE_EQ(s.e2e.sum, 4.25);
  EXPECT_DOUBLE_EQ(s.prefill_time.sum, 2.0);     // first token - first scheduled
  EXPECT_DOUBLE_EQ(s.decode_time.sum, 1.25);     // last token - first token
  EXPECT_DOUBLE_EQ(s.inference_time.sum, 3.25);  // last token - first scheduled
  EXPECT_DOUBLE_EQ(s.prompt_tokens_per_request.sum, 7.0);
  EXPECT_DOUBLE_EQ(s.generation_tokens_per_request.sum, 4.0);
  EXPECT_DOUBLE_EQ(s.max_tokens_param.sum, 30.0);
  EXPECT_EQ(s.max_tokens_param.counts[5], 1u);   // 30 is in (20, 50]
  ASSERT_TRUE(t.finished);
  EXPECT_EQ(*t.finished, at(14.25));
  EXPECT_EQ(*t.first_token, at(13.0));
  EXPECT_EQ(*t.last_token, at(14.25));
  // Counters wait for publish().
  EXPECT_EQ(s.prompt_tokens, 0u);
  EXPECT_EQ(s.generation_tokens, 0u);
  EXPECT_EQ(s.requests_length, 0u);
}

TEST(EngineMetrics, UnsetPhasesAreNotObserved) {
  EngineMetrics m(8, 16, 100);
  RequestTimes t;
  t.arrival = at(1.0);
  m.update(tokens(2, 0, FinishReason::Abort), t, 5, at(3.0));  // aborted while waiting
  const EngineStats s = m.snapshot();
  EXPECT_EQ(s.e2e.count, 1u);
  EXPECT_DOUBLE_EQ(s.e2e.sum, 2.0);
  EXPECT_EQ(s.ttft.count, 0u);
  EXPECT_EQ(s.prefill_time.count, 0u);
  EXPECT_EQ(s.decode_time.count, 0u);
  EXPECT_EQ(s.inference_time.count, 0u);
  EXPECT_EQ(s.generation_tokens_per_request.count, 1u);

  // Scheduled but no token yet: inference time runs to the end.
  RequestTimes u;
  u.arrival = at(1.0);
  m.first_scheduled(u, 3, at(2.0));
  m.update(tokens(3, 0, FinishReason::Abort), u, 5, at(6.0));
  const EngineStats s2 = m.snapshot();
  EXPECT_EQ(s2.inference_time.count, 1u);
  EXPECT_DOUBLE_EQ(s2.inference_time.sum, 4.0);
  EXPECT_EQ(s2.prefill_time.count, 0u);
}

TEST(EngineMetrics, CountersAtPublish) {
  EngineMetrics m(8, 16, 100);
  RequestTimes a, b;
  a.arrival = b.arrival = at(0.0);
  m.first_scheduled(a, 7, at(1.0));
  m.first_scheduled(b, 5, at(1.0));
  m.step(12);
  m.step(0);  // counted, not observed
  m.update(tokens(1, 3, FinishReason::Stop), a, 10, at(2.0));
  m.update(tokens(2, 2, FinishReason::Length), b, 2, at(2.0));
  m.ended(FinishReason::Abort);
  m.ended(FinishReason::Error);
  m.ended(FinishReason::Abort);

  Scheduler sched = empty_scheduler();
  m.publish(sched);
  const EngineStats s = m.snapshot();
  EXPECT_EQ(s.prompt_tokens, 12u);
  EXPECT_EQ(s.generation_tokens, 5u);
  EXPECT_EQ(s.num_steps, 2u);
  EXPECT_EQ(s.scheduled_tokens, 12u);
  EXPECT_EQ(s.iteration_tokens.count, 1u);
  EXPECT_DOUBLE_EQ(s.iteration_tokens.sum, 12.0);
  EXPECT_EQ(s.requests_stop, 1u);
  EXPECT_EQ(s.requests_length, 1u);
  EXPECT_EQ(s.requests_abort, 2u);
  EXPECT_EQ(s.requests_error, 1u);
}

TEST(EngineMetrics, SchedulerGauges) {
  EngineMetrics m(8, 16, 64);
  Scheduler sched = empty_scheduler();
  Request r;
  r.id = 1;
  r.tokens.resize(20);
  std::iota(r.tokens.begin(), r.tokens.end(), 100);
  r.max_tokens = 4;
  sched.add_request(std::move(r));
  m.publish(sched);
  EXPECT_EQ(m.snapshot().num_waiting, 1);
  EXPECT_EQ(m.snapshot().num_running, 0);
  EXPECT_DOUBLE_EQ(m.snapshot().kv_cache_usage, 0.0);

  ASSERT_FALSE(sched.schedule().empty());
  m.publish(sched);
  const EngineStats s = m.snapshot();
  EXPECT_EQ(s.num_waiting, 0);
  EXPECT_EQ(s.num_running, 1);
  EXPECT_DOUBLE_EQ(s.kv_cache_usage, 2.0 / 8.0);  // 20 tokens in blocks of 16
  EXPECT_EQ(s.prefix_cache_queries, sched.kv_cache().prefix_queries());
  EXPECT_EQ(s.num_preemptions, 0u);
}

}  // namespace
}  // namespace rotor
