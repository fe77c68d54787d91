// tests/loadgen/test_metrics.cpp — the benchmark arithmetic on recorded timestamps with answers
// worked out by hand (BENCHMARK.md's definitions; nearest-rank percentiles).
#include <gtest/gtest.h>

#include <cmath>

#include "loadgen/metrics.h"

namespace rotor::loadgen {
namespace {

RequestRecord rec(double start, std::vector<double> times, double end, int64_t out, int64_t prompt, int expected = -1) {
  RequestRecord r;
  r.start = start;
  r.output_times = std::move(times);
  r.end = end;
  r.output_tokens = out;
  r.prompt_tokens = prompt;
  r.expected_prompt_tokens = expected;
  r.chunks = static_cast<int>(r.output_times.size()) + 1;
  r.success = true;
  return r;
}

// A: 5 usage tokens in 4 output chunks (one carried two), usage chunk at 2.2.
// B: 2 tokens. C: failed. D: one token (no TPOT).
std::vector<RequestRecord> sample() {
  RequestRecord c;
  c.start = 0.5;
  c.end = 3.0;
  c.error = "HTTP 500: boom";
  c.http_status = 500;
  return {rec(1.0, {1.5, 1.6, 1.8, 2.1}, 2.2, 5, 10, 10), rec(0.0, {0.2, 0.4}, 0.4, 2, 10, 10), c,
          rec(2.0, {2.5}, 2.6, 1, 10, 11)};
}

TEST(BenchMetrics, PerRequestFigures) {
  const RequestMetrics a = request_metrics(sample()[0]);
  ASSERT_TRUE(a.ttft && a.tpot && a.output_tps && a.decode_tps);
  EXPECT_NEAR(*a.ttft, 0.5, 1e-12);
  EXPECT_NEAR(a.e2e, 1.2, 1e-12);
  ASSERT_EQ(a.itl.size(), 3u);
  EXPECT_NEAR(a.itl[0], 0.1, 1e-12);
  EXPECT_NEAR(a.itl[1], 0.2, 1e-12);
  EXPECT_NEAR(a.itl[2], 0.3, 1e-12);
  EXPECT_NEAR(*a.tpot, (1.2 - 0.5) / 4, 1e-12);  // (latency - TTFT) / (output_tokens - 1)
  EXPECT_NEAR(*a.decode_tps, 4 / 0.7, 1e-9);
  EXPECT_NEAR(*a.output_tps, 5 / 1.2, 1e-9);  // includes the TTFT

  const RequestMetrics d = request_metrics(sample()[3]);
  EXPECT_FALSE(d.tpot);
  EXPECT_FALSE(d.decode_tps);
  EXPECT_TRUE(d.itl.empty());
  EXPECT_NEAR(*d.output_tps, 1 / 0.6, 1e-9);

  RequestRecord none = rec(0, {}, 1.0, 0, 3);
  const RequestMetrics n = request_metrics(none);
  EXPECT_FALSE(n.ttft);
  EXPECT_FALSE(n.tpot);
  EXPECT_NEAR(*n.output_tps, 0.0, 0);
}

TEST(BenchMetrics, NearestRankPercentiles) {
  std::vector<double> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(i);
  EXPECT_EQ(percentile_nearest_rank(ten, 0), 1);
  EXPECT_EQ(percentile_nearest_rank(ten, 50), 5);
  EXPECT_EQ(percentile_nearest_rank(ten, 90), 9);  // rank 9 exactly: not 10 (0.9 * 10 > 9 in floating point)
  EXPECT_EQ(percentile_nearest_rank(ten, 99), 10);
  EXPECT_EQ(percentile_nearest_rank(ten, 100), 10);
  EXPECT_EQ(percentile_nearest_rank(ten, 25), 3);  // rank ceil(2.5) = 3
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_EQ(percentile_nearest_rank(hundred, 99), 99);
  EXPECT_EQ(percentile_nearest_rank(hundred, 90), 90);
  EXPECT_EQ(percentile_nearest_rank({7.0}, 99), 7);
  EXPECT_TRUE(std::isnan(percentile_nearest_rank({}, 50)));

  const Distribution d = distribution({4, 1, 3, 2});
  EXPECT_EQ(d.count, 4u);
  EXPECT_DOUBLE_EQ(d.mean, 2.5);
  EXPECT_DOUBLE_EQ(d.median, 2);  // rank 2 of 4 (nearest rank, not the interpolated 2.5)
  EXPECT_DOUBLE_EQ(d.p90, 4);
  EXPECT_DOUBLE_EQ(d.min, 1);
  EXPECT_DOUBLE_EQ(d.max, 4);
  EXPECT_NEAR(d.stddev, std::sqrt(1.25), 1e-12);
  const Distribution s = scaled(d, 1e-3);
  EXPECT_DOUBLE_EQ(s.mean, 2.5e-3);
  EXPECT_EQ(s.count, 4u);
}

TEST(BenchMetrics, Summary) {
  const Summary s = summarize(sample());
  EXPECT_EQ(s.total, 4);
  EXPECT_EQ(s.succeeded, 3);
  EXPECT_EQ(s.failed, 1);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors.at("HTTP 500: boom"), 1);
  EXPECT_NEAR(s.duration, 3.0, 1e-12);  // last end (the failed request) - first start
  EXPECT_EQ(s.output_tokens, 8);
  EXPECT_EQ(s.prompt_tokens, 30);
  EXPECT_NEAR(s.output_throughput, 8 / 3.0, 1e-12);
  EXPECT_NEAR(s.total_throughput, 38 / 3.0, 1e-12);
  EXPECT_NEAR(s.request_throughput, 1.0, 1e-12);
  EXPECT_EQ(s.peak_concurrency, 3);  // A, C and D overlap in [2.0, 2.2]
  EXPECT_EQ(s.prompt_token_mismatches, 1);  // D expected 11, the server counted 10

  EXPECT_EQ(s.ttft_ms.count, 3u);  // {500, 200, 500}
  EXPECT_NEAR(s.ttft_ms.mean, 400, 1e-9);
  EXPECT_NEAR(s.ttft_ms.median, 500, 1e-9);
  EXPECT_NEAR(s.ttft_ms.min, 200, 1e-9);
  EXPECT_EQ(s.itl_ms.count, 4u);  // pooled {100, 200, 300} + {200}
  EXPECT_NEAR(s.itl_ms.mean, 200, 1e-9);
  EXPECT_NEAR(s.itl_ms.median, 200, 1e-9);
  EXPECT_NEAR(s.itl_ms.p90, 300, 1e-9);
  EXPECT_NEAR(s.itl_ms.p25, 100, 1e-9);
  EXPECT_EQ(s.tpot_ms.count, 2u);  // {175, 200}: D has one token
  EXPECT_NEAR(s.tpot_ms.mean, 187.5, 1e-9);
  EXPECT_NEAR(s.tpot_ms.median, 175, 1e-9);
  EXPECT_NEAR(s.tpot_ms.p99, 200, 1e-9);
  EXPECT_NEAR(s.e2e_ms.mean, (1200 + 400 + 600) / 3.0, 1e-9);
  EXPECT_NEAR(s.decode_tps.mean, (4 / 0.7 + 5) / 2, 1e-9);
  EXPECT_NEAR(s.output_tps.mean, (5 / 1.2 + 5 + 1 / 0.6) / 3, 1e-9);
  EXPECT_NEAR(s.output_len.mean, 8 / 3.0, 1e-12);
  EXPECT_NEAR(s.prompt_len.max, 10, 0);
}

TEST(BenchMetrics, EmptyAndAllFailed) {
  const Summary e = summarize({});
  EXPECT_EQ(e.total, 0);
  EXPECT_EQ(e.ttft_ms.count, 0u);
  RequestRecord f;
  f.start = 1;
  f.end = 2;
  f.error = "HTTP client error: Connection";
  const Summary s = summarize({f, f});
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.succeeded, 0);
  EXPECT_EQ(s.errors.at("HTTP client error: Connection"), 2);
  EXPECT_EQ(s.output_throughput, 0);
  EXPECT_EQ(s.request_throughput, 0);
}

TEST(BenchMetrics, Timeline) {
  const std::vector<TimelineBin> t = timeline(sample(), 1.0);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_NEAR(t[0].t, 0, 0);
  EXPECT_NEAR(t[0].output_tps, 2.0, 1e-12);          // B's two tokens
  EXPECT_NEAR(t[1].output_tps, 3 * 1.25, 1e-12);     // three of A's chunks, 5/4 tokens each
  EXPECT_NEAR(t[2].output_tps, 1.25 + 1.0, 1e-12);   // A's last chunk and D's token
  EXPECT_NEAR(t[0].running, 0.4 + 0.5, 1e-12);       // B and C in flight
  EXPECT_NEAR(t[1].running, 1.0 + 1.0, 1e-12);       // A and C
  EXPECT_NEAR(t[2].running, 0.2 + 1.0 + 0.6, 1e-12); // A, C, D
  double tokens = 0;
  for (const TimelineBin& b : t) tokens += b.output_tps * 1.0;
  EXPECT_NEAR(tokens, 8, 1e-12);  // every usage token lands in some bin
}

}  // namespace
}  // namespace rotor::loadgen
