// engine/engine_stats.h — the engine's counters and latency histograms (a snapshot for
// /metrics; names follow vLLM's Prometheus metrics, latencies in seconds).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rotor {

// Cumulative-friendly histogram: counts[i] = observations <= bounds[i] and > bounds[i-1];
// counts.back() (one more than bounds) = observations above the last bound.
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
  uint64_t count = 0;

  explicit Histogram(std::vector<double> b = {});
  void observe(double v);
  static Histogram ttft();          // vllm:time_to_first_token_seconds buckets
  static Histogram inter_token();   // vllm:inter_token_latency_seconds
  static Histogram e2e();           // vllm:e2e_request_latency_seconds
  static Histogram queue();         // vllm:request_queue_time_seconds (and the other request phases)
  static Histogram tokens(int max_value);  // 1, 2, 5, 10, 20, 50, ... up to max_value (token counts)
  static Histogram iteration_tokens();     // vllm:iteration_tokens_total
};

struct EngineStats {
  int num_running = 0;              // vllm:num_requests_running
  int num_waiting = 0;              // vllm:num_requests_waiting (preempted ones included)
  double kv_cache_usage = 0;        // vllm:kv_cache_usage_perc, 0..1: blocks held by requests
  int num_blocks = 0;
  int block_size = 0;
  std::string cache_dtype = "auto"; // --kv-cache-dtype as given (vllm:cache_config_info)
  bool calculate_kv_scales = false;
  uint64_t prompt_tokens = 0;       // vllm:prompt_tokens_total (prompt tokens of admitted requests)
  uint64_t generation_tokens = 0;   // vllm:generation_tokens_total
  uint64_t prefix_cache_queries = 0;  // tokens looked up in the prefix cache
  uint64_t prefix_cache_hits = 0;     // of which found
  uint64_t num_preemptions = 0;
  uint64_t requests_stop = 0, requests_length = 0, requests_abort = 0, requests_error = 0;
  uint64_t num_steps = 0;           // model steps executed
  uint64_t scheduled_tokens = 0;    // tokens computed by those steps
  Histogram ttft = Histogram::ttft();
  Histogram inter_token = Histogram::inter_token();
  Histogram e2e = Histogram::e2e();
  Histogram queue = Histogram::queue();                // first scheduled - arrival
  // Per finished request (vLLM's phases; unset phases are not observed).
  Histogram prefill_time = Histogram::queue();         // first token - first scheduled
  Histogram decode_time = Histogram::queue();          // last token - first token
  Histogram inference_time = Histogram::queue();       // last token (or the end) - first scheduled
  Histogram prompt_tokens_per_request;                 // vllm:request_prompt_tokens (buckets set by the engine)
  Histogram generation_tokens_per_request;             // vllm:request_generation_tokens
  Histogram max_tokens_param;                          // vllm:request_params_max_tokens (as resolved)
  Histogram iteration_tokens = Histogram::iteration_tokens();  // tokens computed per step
};

}  // namespace rotor
