// loadgen/metrics.h — what one streamed request recorded and the benchmark figures computed from
// those records, exactly as ../shared/docs/BENCHMARK.md (and evalscope perf) define them:
//   TTFT = first output chunk − request start;  E2E = last chunk − request start;
//   ITL = gaps between consecutive output chunks (first excluded), pooled over requests;
//   TPOT = (E2E − TTFT) / (output_tokens − 1);  Decode tok/s = 1 / TPOT;
//   per-request Output tok/s = output_tokens / E2E;
//   duration = last end − first start over every measured request (failed ones included);
//   output / total / request throughput = Σ output, Σ (prompt + output), successes per second.
// Token counts are the server's `usage`. Percentiles are nearest rank: the value at 1-based
// rank ceil(p/100 · n) of the sorted sample; the median is the 50th percentile.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rotor::loadgen {

// One request as the client saw it. Times are seconds since the benchmark's start.
struct RequestRecord {
  int index = 0;           // position in the dataset
  double start = 0;        // just before the request was written to the connection
  double end = 0;          // the last JSON chunk (success) or the moment it failed
  std::vector<double> output_times;  // arrival of every chunk that carried output
  int chunks = 0;          // JSON chunks received (with output or not)
  int64_t prompt_tokens = -1;  // usage.prompt_tokens (-1: not reported)
  int64_t output_tokens = -1;  // usage.completion_tokens
  int expected_prompt_tokens = -1;  // what the dataset built (-1: not known)
  int64_t output_chars = 0;    // bytes of generated text
  std::string finish_reason;
  bool success = false;
  int http_status = 0;     // 0: no HTTP response
  std::string error;       // why it failed ("" on success)
};

// The per-request figures (seconds and tokens/s). Empty optionals: not defined for this request.
struct RequestMetrics {
  std::optional<double> ttft;
  double e2e = 0;
  std::optional<double> tpot;
  std::optional<double> output_tps;
  std::optional<double> decode_tps;
  std::vector<double> itl;
};

RequestMetrics request_metrics(const RequestRecord& r);

// The nearest-rank percentile of an ascending sample (p in [0, 100]; p = 0 gives the minimum).
double percentile_nearest_rank(const std::vector<double>& sorted, double p);

struct Distribution {
  size_t count = 0;
  double mean = 0, stddev = 0, min = 0, p25 = 0, median = 0, p75 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};

Distribution distribution(std::vector<double> values);
// Every figure of d times k (a change of unit); count unchanged.
Distribution scaled(const Distribution& d, double k);

struct Summary {
  int total = 0, succeeded = 0, failed = 0;
  double duration = 0;  // seconds
  int64_t prompt_tokens = 0, output_tokens = 0;  // sums over successful requests
  double request_throughput = 0, output_throughput = 0, total_throughput = 0;
  Distribution ttft_ms, itl_ms, tpot_ms, e2e_ms;
  Distribution output_tps, decode_tps;  // per request
  Distribution prompt_len, output_len;  // per request, from usage
  int peak_concurrency = 0;  // most requests in flight at once
  int prompt_token_mismatches = 0;  // successes whose usage.prompt_tokens != the expected count
  std::map<std::string, int> errors;  // failure reason → count
};

Summary summarize(const std::vector<RequestRecord>& records);

// Output tokens per second and requests in flight over time, in bins of `bin` seconds from the
// first start. A request's usage tokens are spread evenly over its output chunks.
struct TimelineBin {
  double t = 0;                // bin start (s)
  double output_tps = 0;       // output tokens that arrived in the bin / bin width
  double running = 0;          // mean requests in flight over the bin
};
std::vector<TimelineBin> timeline(const std::vector<RequestRecord>& records, double bin);

}  // namespace rotor::loadgen
