// server/metrics.cpp — histograms and the Prometheus text page. Bucket bounds are vLLM's.
#include "server/metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace rotor::server {
namespace {

std::vector<double> length_buckets() {
  std::vector<double> b;
  for (double p = 1; p <= 1e6; p *= 10)
    for (double m : {1.0, 2.0, 5.0}) b.push_back(m * p);
  return b;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  std::lock_guard lock(mu_);
  ++counts_[i];
  sum_ += v;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (uint64_t c : counts_) n += c;
  return n;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\",{}}} {}\n", name, bounds_[i], labels, cumulative);
  }
  cumulative += counts_.back();
  out += fmt::format("{}_bucket{{le=\"+Inf\",{}}} {}\n", name, labels, cumulative);
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum_);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, cumulative);
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Metrics::Metrics(std::string model_name)
    : labels_(fmt::format("model_name=\"{}\"", escape_label(model_name))),
      ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
             80.0, 160.0, 640.0, 2560.0}),
      itl_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}),
      e2e_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
            960.0, 1920.0, 7680.0}),
      prompt_len_(length_buckets()),
      generation_len_(length_buckets()) {}

void Metrics::finish_request(const std::string& reason, double e2e_seconds, int prompt_tokens, int generation_tokens) {
  if (reason == "stop") ++finished_stop_;
  else if (reason == "length") ++finished_length_;
  else ++finished_abort_;
  e2e_.observe(e2e_seconds);
  prompt_len_.observe(prompt_tokens);
  generation_len_.observe(generation_tokens);
}

std::string Metrics::render(const EngineGauges& e) const {
  std::string out;
  const std::string& L = labels_;
  header(out, "vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
  out += fmt::format("vllm:num_requests_running{{{}}} {}\n", L, e.num_running);
  header(out, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  out += fmt::format("vllm:num_requests_waiting{{{}}} {}\n", L, e.num_waiting);
  header(out, "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
  out += fmt::format("vllm:kv_cache_usage_perc{{{}}} {}\n", L, e.kv_cache_usage);
  header(out, "vllm:gpu_cache_usage_perc", "gauge", "KV-cache usage (the name of vLLM before 0.10). 1 means 100 percent usage.");
  out += fmt::format("vllm:gpu_cache_usage_perc{{{}}} {}\n", L, e.kv_cache_usage);
  header(out, "vllm:num_preemptions_total", "counter", "Cumulative number of preemptions from the engine.");
  out += fmt::format("vllm:num_preemptions_total{{{}}} {}\n", L, e.num_preemptions);
  header(out, "vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.");
  out += fmt::format("vllm:prefix_cache_queries_total{{{}}} {}\n", L, e.prefix_cache_queries);
  header(out, "vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.");
  out += fmt::format("vllm:prefix_cache_hits_total{{{}}} {}\n", L, e.prefix_cache_hits);
  header(out, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
  out += fmt::format("vllm:prompt_tokens_total{{{}}} {}\n", L, prompt_tokens_.load());
  header(out, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
  out += fmt::format("vllm:generation_tokens_total{{{}}} {}\n", L, generation_tokens_.load());
  header(out, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
  out += fmt::format("vllm:request_success_total{{finished_reason=\"stop\",{}}} {}\n", L, finished_stop_.load());
  out += fmt::format("vllm:request_success_total{{finished_reason=\"length\",{}}} {}\n", L, finished_length_.load());
  out += fmt::format("vllm:request_success_total{{finished_reason=\"abort\",{}}} {}\n", L, finished_abort_.load());
  header(out, "vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.");
  ttft_.render(out, "vllm:time_to_first_token_seconds", L);
  header(out, "vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.");
  itl_.render(out, "vllm:inter_token_latency_seconds", L);
  header(out, "vllm:time_per_output_token_seconds", "histogram",
         "Histogram of time per output token in seconds (the name of vLLM before 0.11; same data).");
  itl_.render(out, "vllm:time_per_output_token_seconds", L);
  header(out, "vllm:e2e_request_latency_seconds", "histogram", "Histogram of end to end request latency in seconds.");
  e2e_.render(out, "vllm:e2e_request_latency_seconds", L);
  header(out, "vllm:request_prompt_tokens", "histogram", "Number of prefill tokens processed.");
  prompt_len_.render(out, "vllm:request_prompt_tokens", L);
  header(out, "vllm:request_generation_tokens", "histogram", "Number of generation tokens processed.");
  generation_len_.render(out, "vllm:request_generation_tokens", L);
  return out;
}

}  // namespace rotor::server
