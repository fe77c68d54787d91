// engine/engine_metrics.h — EngineMetrics: the arithmetic of the engine's statistics, kept for
// the step loop. The loop reports what happened (a request first scheduled, a step, an update
// to a request, a request ended at shutdown) and publishes the scheduler's gauges; any thread
// reads a snapshot. Histograms are observed at once; counters (tokens, steps, finished
// requests) reach the snapshot at the next publish(), so a reader that sees an output also
// sees it counted.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "engine/engine_stats.h"
#include "engine/request_output.h"
#include "engine/scheduler/scheduler_output.h"

namespace rotor {

class Scheduler;

class EngineMetrics {
 public:
  // The KV cache's size, and max_model_len for the token-count histograms' buckets; the cache's
  // --kv-cache-dtype as given and --calculate-kv-scales (vllm:cache_config_info).
  EngineMetrics(int num_blocks, int block_size, int max_model_len, std::string cache_dtype = "auto",
                bool calculate_kv_scales = false);

  // Loop thread only. A request scheduled for the first time at `now`: its queue time and
  // prompt tokens; sets t.first_scheduled.
  void first_scheduled(RequestTimes& t, int num_prompt_tokens, Clock::time_point now);
  // A step of `num_tokens` scheduled tokens (a step of none is counted but not observed).
  void step(int num_tokens);
  // An update to a live request at `now`: its new tokens (TTFT, inter-token latency) and, when
  // it finishes, its phases and sizes (`max_tokens` as resolved); sets t's timestamps.
  void update(const RequestUpdate& u, RequestTimes& t, int max_tokens, Clock::time_point now);
  // A request ended without an update (shut down or failed engine).
  void ended(FinishReason reason);
  // The scheduler's gauges and the counters so far into the snapshot.
  void publish(const Scheduler& sched);

  // Any thread.
  EngineStats snapshot() const;

 private:
  mutable std::mutex mu_;
  EngineStats stats_;  // under mu_
  // The loop thread's counters, copied into stats_ by publish().
  uint64_t prompt_tokens_ = 0, generation_tokens_ = 0, steps_ = 0, step_tokens_ = 0;
  uint64_t finished_[5] = {};  // by FinishReason
};

}  // namespace rotor
