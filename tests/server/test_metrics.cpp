// tests/server/test_metrics.cpp — the Prometheus page: vLLM's names, cumulative buckets,
// sums and counts, label escaping.
#include <gtest/gtest.h>

#include "server/metrics.h"

namespace rotor::server {
namespace {

TEST(Histogram, CumulativeBuckets) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(7);
  std::string out;
  h.render(out, "x", "m=\"a\"");
  EXPECT_EQ(out,
            "x_bucket{le=\"0.1\",m=\"a\"} 2\n"
            "x_bucket{le=\"1\",m=\"a\"} 3\n"
            "x_bucket{le=\"+Inf\",m=\"a\"} 4\n"
            "x_sum{m=\"a\"} 7.65\n"
            "x_count{m=\"a\"} 4\n");
  EXPECT_EQ(h.count(), 4u);
}

TEST(Metrics, Page) {
  Metrics m("tiny \"q\"");
  m.add_prompt_tokens(12);
  m.add_generation_tokens(5);
  m.observe_ttft(0.02);
  m.observe_inter_token(0.004);
  m.finish_request("stop", 0.4, 12, 5);
  m.finish_request("abort", 0.1, 3, 0);
  const std::string page = m.render({.num_running = 3, .num_waiting = 1, .kv_cache_usage = 0.25});
  const std::string L = "model_name=\"tiny \\\"q\\\"\"";
  for (const std::string& line : std::vector<std::string>{
           "vllm:num_requests_running{" + L + "} 3",
           "vllm:num_requests_waiting{" + L + "} 1",
           "vllm:kv_cache_usage_perc{" + L + "} 0.25",
           "vllm:gpu_cache_usage_perc{" + L + "} 0.25",
           "vllm:prompt_tokens_total{" + L + "} 12",
           "vllm:generation_tokens_total{" + L + "} 5",
           "vllm:request_success_total{finished_reason=\"stop\"," + L + "} 1",
           "vllm:request_success_total{finished_reason=\"abort\"," + L + "} 1",
           "vllm:time_to_first_token_seconds_count{" + L + "} 1",
           "vllm:time_to_first_token_seconds_bucket{le=\"0.02\"," + L + "} 1",
           "vllm:time_to_first_token_seconds_bucket{le=\"0.01\"," + L + "} 0",
           "vllm:inter_token_latency_seconds_count{" + L + "} 1",
           "vllm:time_per_output_token_seconds_count{" + L + "} 1",
           "vllm:e2e_request_latency_seconds_count{" + L + "} 2",
           "vllm:e2e_request_latency_seconds_sum{" + L + "} 0.5",
           "# TYPE vllm:e2e_request_latency_seconds histogram",
           "# TYPE vllm:prompt_tokens_total counter",
           "# TYPE vllm:num_requests_running gauge",
       })
    EXPECT_NE(page.find(line + "\n"), std::string::npos) << line;
}

}  // namespace
}  // namespace rotor::server
