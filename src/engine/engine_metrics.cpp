// engine/engine_metrics.cpp — EngineMetrics: request phases into histograms, counters, gauges.
#include "engine/engine_metrics.h"

#include <utility>

#include "engine/scheduler/scheduler.h"

namespace rotor {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

EngineMetrics::EngineMetrics(int num_blocks, int block_size, int max_model_len, std::string cache_dtype,
                             bool calculate_kv_scales) {
  stats_.num_blocks = num_blocks;
  stats_.block_size = block_size;
  stats_.cache_dtype = std::move(cache_dtype);
  stats_.calculate_kv_scales = calculate_kv_scales;
  stats_.prompt_tokens_per_request = Histogram::tokens(max_model_len);
  stats_.generation_tokens_per_request = Histogram::tokens(max_model_len);
  stats_.max_tokens_param = Histogram::tokens(max_model_len);
}

void EngineMetrics::first_scheduled(RequestTimes& t, int num_prompt_tokens, Clock::time_point now) {
  t.first_scheduled = now;
  prompt_tokens_ += num_prompt_tokens;
  std::lock_guard lk(mu_);
  stats_.queue.observe(seconds(now - t.arrival));
}

void EngineMetrics::step(int num_tokens) {
  ++steps_;
  step_tokens_ += num_tokens;
  if (num_tokens > 0) {
    std::lock_guard lk(mu_);
    stats_.iteration_tokens.observe(num_tokens);
  }
}

void EngineMetrics::update(const RequestUpdate& u, RequestTimes& t, int max_tokens, Clock::time_point now) {
  std::lock_guard lk(mu_);
  if (!u.new_token_ids.empty()) {
    if (!t.first_token) {
      t.first_token = now;
      stats_.ttft.observe(seconds(now - t.arrival));
    } else {
      stats_.inter_token.observe(seconds(now - *t.last_token));
    }
    t.last_token = now;
    generation_tokens_ += u.new_token_ids.size();
  }
  if (u.finish_reason != FinishReason::None) {
    t.finished = now;
    stats_.e2e.observe(seconds(now - t.arrival));
    if (t.first_scheduled) stats_.inference_time.observe(seconds(t.last_token.value_or(now) - *t.first_scheduled));
    if (t.first_scheduled && t.first_token) stats_.prefill_time.observe(seconds(*t.first_token - *t.first_scheduled));
    if (t.first_token) stats_.decode_time.observe(seconds(*t.last_token - *t.first_token));
    stats_.prompt_tokens_per_request.observe(u.num_prompt_tokens);
    stats_.generation_tokens_per_request.observe(u.num_output_tokens);
    stats_.max_tokens_param.observe(max_tokens);
    ++finished_[static_cast<int>(u.finish_reason)];
  }
}

void EngineMetrics::ended(FinishReason reason) { ++finished_[static_cast<int>(reason)]; }

void EngineMetrics::publish(const Scheduler& sched) {
  std::lock_guard lk(mu_);
  stats_.num_running = sched.num_running() + sched.num_prefilling();
  stats_.num_waiting = sched.num_waiting();
  stats_.kv_cache_usage = sched.kv_cache().usage();
  stats_.prefix_cache_queries = sched.kv_cache().prefix_queries();
  stats_.prefix_cache_hits = sched.kv_cache().prefix_hits();
  stats_.num_preemptions = sched.num_preemptions();
  stats_.prompt_tokens = prompt_tokens_;
  stats_.generation_tokens = generation_tokens_;
  stats_.requests_stop = finished_[static_cast<int>(FinishReason::Stop)];
  stats_.requests_length = finished_[static_cast<int>(FinishReason::Length)];
  stats_.requests_abort = finished_[static_cast<int>(FinishReason::Abort)];
  stats_.requests_error = finished_[static_cast<int>(FinishReason::Error)];
  stats_.num_steps = steps_;
  stats_.scheduled_tokens = step_tokens_;
}

EngineStats EngineMetrics::snapshot() const {
  std::lock_guard lk(mu_);
  return stats_;
}

}  // namespace rotor
