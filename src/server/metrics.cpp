// server/metrics.cpp — EngineStats → Prometheus text exposition (format 0.0.4).
#include "server/metrics.h"

#include <fmt/format.h>

namespace rotor::server {
namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A gauge or counter with one sample.
template <class T>
void metric(std::string& out, const char* name, const char* type, const char* help, const std::string& labels,
            T value) {
  header(out, name, type, help);
  out += fmt::format("{}{{{}}} {}\n", name, labels, value);
}

void histogram(std::string& out, const char* name, const char* help, const std::string& labels, const Histogram& h) {
  header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += i < h.counts.size() ? h.counts[i] : 0;
    out += fmt::format("{}_bucket{{le=\"{}\",{}}} {}\n", name, h.bounds[i], labels, cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\",{}}} {}\n", name, labels, h.count);
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, h.sum);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, h.count);
}

}  // namespace

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

std::string render_metrics(const EngineStats& s, const FrontendStats& f, const std::string& model_name) {
  const std::string L = fmt::format("model_name=\"{}\",engine=\"0\"", escape_label(model_name));
  std::string out;
  metric(out, "vllm:num_requests_running", "gauge",
         "Number of requests in model execution batches.", L, s.num_running);
  metric(out, "vllm:num_requests_waiting", "gauge",
         "Number of requests waiting to be processed.", L, s.num_waiting);
  metric(out, "vllm:kv_cache_usage_perc", "gauge",
         "KV-cache usage. 1 means 100 percent usage.", L, s.kv_cache_usage);
  metric(out, "vllm:gpu_cache_usage_perc", "gauge",
         "KV-cache usage (vLLM's name before 0.10). 1 means 100 percent usage.", L, s.kv_cache_usage);
  header(out, "vllm:cache_config_info", "gauge", "Information of the KV cache configuration.");
  out += fmt::format(
      "vllm:cache_config_info{{block_size=\"{}\",cache_dtype=\"{}\",calculate_kv_scales=\"{}\",num_gpu_blocks=\"{}\",{}}} 1\n",
      s.block_size, escape_label(s.cache_dtype), s.calculate_kv_scales ? "True" : "False", s.num_blocks, L);
  metric(out, "vllm:num_preemptions_total", "counter",
         "Cumulative number of preemptions from the engine.", L, s.num_preemptions);
  metric(out, "vllm:prefix_cache_queries_total", "counter",
         "Prefix cache queries, in terms of number of queried tokens.", L, s.prefix_cache_queries);
  metric(out, "vllm:prefix_cache_hits_total", "counter",
         "Prefix cache hits, in terms of number of cached tokens.", L, s.prefix_cache_hits);
  metric(out, "vllm:prompt_tokens_total", "counter",
         "Number of prefill tokens processed.", L, s.prompt_tokens);
  metric(out, "vllm:generation_tokens_total", "counter",
         "Number of generation tokens processed.", L, s.generation_tokens);
  header(out, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
  for (const auto& [reason, n] : {std::pair{"stop", s.requests_stop}, std::pair{"length", s.requests_length},
                                  std::pair{"abort", s.requests_abort}, std::pair{"error", s.requests_error}})
    out += fmt::format("vllm:request_success_total{{finished_reason=\"{}\",{}}} {}\n", reason, L, n);
  histogram(out, "vllm:request_prompt_tokens", "Number of prefill tokens processed.", L,
            s.prompt_tokens_per_request);
  histogram(out, "vllm:request_generation_tokens", "Number of generation tokens processed.", L,
            s.generation_tokens_per_request);
  histogram(out, "vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", L,
            s.iteration_tokens);
  histogram(out, "vllm:request_max_num_generation_tokens",
            "Histogram of maximum number of requested generation tokens.", L, f.max_num_generation_tokens);
  histogram(out, "vllm:request_params_n", "Histogram of the n request parameter.", L, f.params_n);
  histogram(out, "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", L,
            s.max_tokens_param);
  histogram(out, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", L, s.ttft);
  histogram(out, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", L, s.inter_token);
  histogram(out, "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds (vLLM's name before 0.11; the same data).", L, s.inter_token);
  histogram(out, "vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", L, s.e2e);
  histogram(out, "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", L, s.queue);
  histogram(out, "vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", L,
            s.inference_time);
  histogram(out, "vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", L,
            s.prefill_time);
  histogram(out, "vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", L,
            s.decode_time);
  return out;
}

}  // namespace rotor::server
