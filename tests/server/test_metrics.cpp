// tests/server/test_metrics.cpp — the Prometheus page from EngineStats and FrontendStats:
// vLLM's names and labels, cumulative buckets, sums and counts, 1-2-5 token buckets, label
// escaping.
#include <gtest/gtest.h>

#include "server/metrics.h"

namespace rotor::server {
namespace {

bool has_line(const std::string& page, const std::string& line) { return page.find(line + "\n") != std::string::npos; }

TEST(Metrics, Page) {
  EngineStats s;
  s.num_running = 3;
  s.num_waiting = 1;
  s.kv_cache_usage = 0.25;
  s.prompt_tokens = 12;
  s.generation_tokens = 5;
  s.requests_stop = 1;
  s.requests_abort = 2;
  s.ttft = Histogram({0.01, 0.1});
  s.ttft.observe(0.005);
  s.ttft.observe(0.01);  // le is inclusive
  s.ttft.observe(0.05);
  s.ttft.observe(7);
  s.e2e.observe(0.4);
  s.inter_token.observe(0.004);
  s.prompt_tokens_per_request = Histogram::tokens(1000);
  s.prompt_tokens_per_request.observe(12);
  s.iteration_tokens.observe(12);
  s.iteration_tokens.observe(1);
  s.prefill_time.observe(0.2);
  s.num_blocks = 77;
  s.block_size = 16;
  s.cache_dtype = "fp8";
  s.calculate_kv_scales = true;
  FrontendStats f;
  f.params_n.observe(2);
  f.max_num_generation_tokens = Histogram::tokens(1000);
  f.max_num_generation_tokens.observe(5);
  const std::string page = render_metrics(s, f, "tiny \"q\"");
  const std::string L = "model_name=\"tiny \\\"q\\\"\",engine=\"0\"";
  for (const std::string& line : std::vector<std::string>{
           "vllm:num_requests_running{" + L + "} 3",
           "vllm:num_requests_waiting{" + L + "} 1",
           "vllm:kv_cache_usage_perc{" + L + "} 0.25",
           "vllm:gpu_cache_usage_perc{" + L + "} 0.25",
           "vllm:prompt_tokens_total{" + L + "} 12",
           "vllm:generation_tokens_total{" + L + "} 5",
           "vllm:request_success_total{finished_reason=\"stop\"," + L + "} 1",
           "vllm:request_success_total{finished_reason=\"abort\"," + L + "} 2",
           "vllm:time_to_first_token_seconds_bucket{le=\"0.01\"," + L + "} 2",
           "vllm:time_to_first_token_seconds_bucket{le=\"0.1\"," + L + "} 3",
           "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"," + L + "} 4",
           "vllm:time_to_first_token_seconds_count{" + L + "} 4",
           "vllm:time_to_first_token_seconds_sum{" + L + "} 7.065",
           "vllm:inter_token_latency_seconds_count{" + L + "} 1",
           "vllm:time_per_output_token_seconds_count{" + L + "} 1",
           "vllm:e2e_request_latency_seconds_count{" + L + "} 1",
           "vllm:e2e_request_latency_seconds_sum{" + L + "} 0.4",
           "# TYPE vllm:e2e_request_latency_seconds histogram",
           "# TYPE vllm:prompt_tokens_total counter",
           "# TYPE vllm:num_requests_running gauge",
           "vllm:request_prompt_tokens_bucket{le=\"10\"," + L + "} 0",
           "vllm:request_prompt_tokens_bucket{le=\"20\"," + L + "} 1",
           "vllm:request_prompt_tokens_bucket{le=\"1000\"," + L + "} 1",
           "vllm:iteration_tokens_total_bucket{le=\"1\"," + L + "} 1",
           "vllm:iteration_tokens_total_sum{" + L + "} 13",
           "vllm:request_prefill_time_seconds_count{" + L + "} 1",
           "vllm:request_params_n_bucket{le=\"2\"," + L + "} 1",
           "vllm:request_max_num_generation_tokens_sum{" + L + "} 5",
           "vllm:request_decode_time_seconds_count{" + L + "} 0",
           "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"fp8\",calculate_kv_scales=\"True\","
           "num_gpu_blocks=\"77\"," + L + "} 1",
       })
    EXPECT_TRUE(has_line(page, line)) << line;
}

}  // namespace
}  // namespace rotor::server
