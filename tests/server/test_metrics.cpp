// tests/server/test_metrics.cpp — the Prometheus page from EngineStats: vLLM's names,
// cumulative buckets, sums and counts, label escaping.
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
  const std::string page = render_metrics(s, "tiny \"q\"");
  const std::string L = "model_name=\"tiny \\\"q\\\"\"";
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
       })
    EXPECT_TRUE(has_line(page, line)) << line;
}

}  // namespace
}  // namespace rotor::server
