// server/metrics.h — the /metrics page: Prometheus text exposition with vLLM's metric names
// (vllm:*, label model_name). Request latencies and token counters are recorded here by the
// request handlers; engine gauges (running/waiting requests, KV cache usage) are read from
// the engine when the page is rendered.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace rotor::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Prometheus lines for `name` (cumulative _bucket with le, _sum, _count).
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // [bounds + 1] per bucket (last = +Inf), not cumulative
  double sum_ = 0;
};

// Engine state sampled when the page is rendered.
struct EngineGauges {
  int num_running = 0;
  int num_waiting = 0;
  double kv_cache_usage = 0;           // fraction of KV blocks in use, 0..1
  int64_t num_preemptions = 0;
  int64_t prefix_cache_queries = 0;    // prompt tokens looked up in the prefix cache
  int64_t prefix_cache_hits = 0;       // of those, tokens found
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  void add_generation_tokens(int64_t n) { generation_tokens_ += n; }
  void observe_ttft(double s) { ttft_.observe(s); }
  void observe_inter_token(double s) { itl_.observe(s); }
  // A finished request: reason "stop", "length" or "abort"; its prompt and output lengths.
  void finish_request(const std::string& reason, double e2e_seconds, int prompt_tokens, int generation_tokens);

  std::string render(const EngineGauges& engine) const;

 private:
  std::string labels_;  // model_name="…"
  std::atomic<int64_t> prompt_tokens_{0}, generation_tokens_{0};
  std::atomic<int64_t> finished_stop_{0}, finished_length_{0}, finished_abort_{0};
  Histogram ttft_, itl_, e2e_, prompt_len_, generation_len_;
};

// Escapes a Prometheus label value (backslash, quote, newline).
std::string escape_label(const std::string& v);

}  // namespace rotor::server
