// apps/stats_logger.cpp — the stats line and the thread that logs it.
#include "apps/stats_logger.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "core/log.h"

namespace rotor::app {

std::string stats_line(const EngineStats& a, const EngineStats& b, double seconds) {
  const double s = seconds > 0 ? seconds : 1.0;
  const uint64_t queries = b.prefix_cache_queries - a.prefix_cache_queries;
  const uint64_t hits = b.prefix_cache_hits - a.prefix_cache_hits;
  return fmt::format(
      "Engine 000: Avg prompt throughput: {:.1f} tokens/s, Avg generation throughput: {:.1f} tokens/s, Running: {} "
      "reqs, Waiting: {} reqs, KV cache usage: {:.1f}%, Prefix cache hit rate: {:.1f}%",
      (b.prompt_tokens - a.prompt_tokens) / s, (b.generation_tokens - a.generation_tokens) / s, b.num_running,
      b.num_waiting, 100.0 * b.kv_cache_usage, queries > 0 ? 100.0 * hits / queries : 0.0);
}

bool stats_active(const EngineStats& a, const EngineStats& b) {
  return b.prompt_tokens != a.prompt_tokens || b.generation_tokens != a.generation_tokens || b.num_running > 0 ||
         b.num_waiting > 0;
}

double stats_interval_seconds() {
  const char* v = std::getenv("VLLM_LOG_STATS_INTERVAL");
  if (!v || !*v) return 10.0;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  return end && *end == '\0' && s > 0 ? s : 10.0;
}

StatsLogger::StatsLogger(const Engine& engine, double interval_s)
    : engine_(engine), interval_s_(interval_s), thread_([this] { loop(); }) {}

StatsLogger::~StatsLogger() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StatsLogger::loop() {
  using Clock = std::chrono::steady_clock;
  EngineStats before = engine_.stats();
  Clock::time_point t0 = Clock::now();
  bool was_active = false;
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::duration<double>(interval_s_), [this] { return stop_; })) {
    const EngineStats now = engine_.stats();
    const Clock::time_point t1 = Clock::now();
    // One line after activity ends too, so the last one shows the engine idle again.
    const bool active = stats_active(before, now);
    if (active || was_active)
      ROTOR_LOG_INFO("{}", stats_line(before, now, std::chrono::duration<double>(t1 - t0).count()));
    was_active = active;
    before = now;
    t0 = t1;
  }
}

}  // namespace rotor::app
