// apps/stats_logger.h — the periodic stats line of `rotor serve` (vLLM's LoggingStatLogger):
// every $VLLM_LOG_STATS_INTERVAL seconds (default 10) prompt and generation throughput over the
// interval, running and waiting requests, KV cache usage and the prefix-cache hit rate, from
// Engine::stats(); quiet while the engine is idle. --disable-log-stats turns it off.
#pragma once
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "engine/engine.h"

namespace rotor::app {

// The line for the interval between two snapshots `seconds` apart.
std::string stats_line(const EngineStats& before, const EngineStats& now, double seconds);
// Whether the interval had anything to report (throughput, or requests in the engine).
bool stats_active(const EngineStats& before, const EngineStats& now);
// $VLLM_LOG_STATS_INTERVAL, else 10 s.
double stats_interval_seconds();

class StatsLogger {
 public:
  StatsLogger(const Engine& engine, double interval_s);
  ~StatsLogger();  // stops the thread
  StatsLogger(const StatsLogger&) = delete;
  StatsLogger& operator=(const StatsLogger&) = delete;

 private:
  void loop();

  const Engine& engine_;
  double interval_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rotor::app
