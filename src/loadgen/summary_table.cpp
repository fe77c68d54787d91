// loadgen/summary_table.cpp — formats the summary as a fixed-width text table: system figures
// first, then mean / median / p90 / p99 / min / max of every per-request metric, then failures.
#include "loadgen/summary_table.h"

#include <cmath>
#include <fmt/format.h>

namespace rotor::loadgen {

namespace {

void kv(std::string& o, std::string_view k, const std::string& v) { o += fmt::format("{:<40}{}\n", k, v); }

std::string num(double v, int digits = 2) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "inf"; }

void dist_row(std::string& o, std::string_view name, const Distribution& d, int digits = 2) {
  if (d.count == 0) {
    o += fmt::format("{:<28}{:>12}\n", name, "(no data)");
    return;
  }
  o += fmt::format("{:<28}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}\n", name, num(d.mean, digits), num(d.median, digits),
                   num(d.p90, digits), num(d.p99, digits), num(d.min, digits), num(d.max, digits));
}

}  // namespace

std::string summary_table(const RunInfo& info, const Summary& s) {
  std::string o;
  const std::string rule(100, '-');
  o += fmt::format("{:=^100}\n", " rotor bench serve ");
  kv(o, "Endpoint:", info.base_url + info.endpoint_path);
  kv(o, "Max concurrency / request rate:",
     fmt::format("{} / {}", info.max_concurrency, std::isinf(info.request_rate) ? "inf" : num(info.request_rate)));
  kv(o, "Successful requests:", std::to_string(s.succeeded));
  kv(o, "Failed requests:", std::to_string(s.failed));
  kv(o, "Peak requests in flight:", std::to_string(s.peak_concurrency));
  kv(o, "Benchmark duration (s):", num(s.duration));
  kv(o, "Total input tokens:", std::to_string(s.prompt_tokens));
  kv(o, "Total generated tokens:", std::to_string(s.output_tokens));
  kv(o, "Request throughput (req/s):", num(s.request_throughput, 3));
  kv(o, "Output token throughput (tok/s):", num(s.output_throughput));
  kv(o, "Total token throughput (tok/s):", num(s.total_throughput));
  if (s.prompt_token_mismatches > 0)
    kv(o, "Prompt-length mismatches (server):", std::to_string(s.prompt_token_mismatches));
  o += rule + "\n";
  o += fmt::format("{:<28}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}\n", "per request", "mean", "median", "p90", "p99",
                   "min", "max");
  dist_row(o, "TTFT (ms)", s.ttft_ms);
  dist_row(o, "ITL (ms)", s.itl_ms);
  dist_row(o, "TPOT (ms)", s.tpot_ms);
  dist_row(o, "E2E latency (s)", scaled(s.e2e_ms, 1e-3), 3);
  dist_row(o, "Output (tok/s)", s.output_tps);
  dist_row(o, "Decode (tok/s)", s.decode_tps);
  dist_row(o, "Input tokens", s.prompt_len, 0);
  dist_row(o, "Output tokens", s.output_len, 0);
  if (!s.errors.empty()) {
    o += rule + "\nFailures:\n";
    for (const auto& [msg, n] : s.errors) o += fmt::format("  {:>6} x {}\n", n, msg);
  }
  o += std::string(100, '=') + "\n";
  return o;
}

}  // namespace rotor::loadgen
