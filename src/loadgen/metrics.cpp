// loadgen/metrics.cpp — per-request figures, nearest-rank distributions, the run summary and the
// throughput timeline (definitions in metrics.h).
#include "loadgen/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rotor::loadgen {

RequestMetrics request_metrics(const RequestRecord& r) {
  RequestMetrics m;
  m.e2e = r.end - r.start;
  if (!r.output_times.empty()) m.ttft = r.output_times.front() - r.start;
  for (size_t i = 1; i < r.output_times.size(); ++i) m.itl.push_back(r.output_times[i] - r.output_times[i - 1]);
  if (r.output_tokens >= 0 && m.e2e > 0) m.output_tps = static_cast<double>(r.output_tokens) / m.e2e;
  if (m.ttft && r.output_tokens > 1) {
    m.tpot = (m.e2e - *m.ttft) / static_cast<double>(r.output_tokens - 1);
    if (*m.tpot > 0) m.decode_tps = 1.0 / *m.tpot;
  }
  return m;
}

double percentile_nearest_rank(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::nan("");
  const double n = static_cast<double>(sorted.size());
  // n * p / 100 in this order: exact for integer p, so ranks that are whole numbers stay whole.
  const double rank = std::ceil(n * p / 100.0);
  const size_t idx = static_cast<size_t>(std::clamp(rank, 1.0, n)) - 1;
  return sorted[idx];
}

Distribution distribution(std::vector<double> v) {
  Distribution d;
  d.count = v.size();
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  d.mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double ss = 0;
  for (double x : v) ss += (x - d.mean) * (x - d.mean);
  d.stddev = std::sqrt(ss / n);
  d.min = v.front();
  d.max = v.back();
  d.p25 = percentile_nearest_rank(v, 25);
  d.median = percentile_nearest_rank(v, 50);
  d.p75 = percentile_nearest_rank(v, 75);
  d.p90 = percentile_nearest_rank(v, 90);
  d.p95 = percentile_nearest_rank(v, 95);
  d.p99 = percentile_nearest_rank(v, 99);
  return d;
}

Distribution scaled(const Distribution& d, double k) {
  Distribution o = d;
  for (double* x : {&o.mean, &o.stddev, &o.min, &o.p25, &o.median, &o.p75, &o.p90, &o.p95, &o.p99, &o.max}) *x *= k;
  return o;
}

namespace {

int peak_in_flight(const std::vector<RequestRecord>& records) {
  std::vector<std::pair<double, int>> ev;  // (time, +1 start / -1 end); ends sort first at ties
  for (const RequestRecord& r : records) {
    ev.emplace_back(r.start, 1);
    ev.emplace_back(r.end, -1);
  }
  std::sort(ev.begin(), ev.end());
  int cur = 0, peak = 0;
  for (auto& [t, d] : ev) peak = std::max(peak, cur += d);
  return peak;
}

}  // namespace

Summary summarize(const std::vector<RequestRecord>& records) {
  Summary s;
  s.total = static_cast<int>(records.size());
  if (records.empty()) return s;
  double first = records.front().start, last = records.front().end;
  std::vector<double> ttft, itl, tpot, e2e, out_tps, dec_tps, plen, olen;
  for (const RequestRecord& r : records) {
    first = std::min(first, r.start);
    last = std::max(last, r.end);
    if (!r.success) {
      ++s.failed;
      ++s.errors[r.error.substr(0, 300)];
      continue;
    }
    ++s.succeeded;
    const RequestMetrics m = request_metrics(r);
    s.prompt_tokens += std::max<int64_t>(r.prompt_tokens, 0);
    s.output_tokens += std::max<int64_t>(r.output_tokens, 0);
    if (r.expected_prompt_tokens >= 0 && r.prompt_tokens != r.expected_prompt_tokens) ++s.prompt_token_mismatches;
    if (m.ttft) ttft.push_back(*m.ttft * 1e3);
    for (double x : m.itl) itl.push_back(x * 1e3);
    if (m.tpot) tpot.push_back(*m.tpot * 1e3);
    e2e.push_back(m.e2e * 1e3);
    if (m.output_tps) out_tps.push_back(*m.output_tps);
    if (m.decode_tps) dec_tps.push_back(*m.decode_tps);
    plen.push_back(static_cast<double>(r.prompt_tokens));
    olen.push_back(static_cast<double>(r.output_tokens));
  }
  s.duration = last - first;
  if (s.duration > 0) {
    s.request_throughput = s.succeeded / s.duration;
    s.output_throughput = static_cast<double>(s.output_tokens) / s.duration;
    s.total_throughput = static_cast<double>(s.prompt_tokens + s.output_tokens) / s.duration;
  }
  s.ttft_ms = distribution(std::move(ttft));
  s.itl_ms = distribution(std::move(itl));
  s.tpot_ms = distribution(std::move(tpot));
  s.e2e_ms = distribution(std::move(e2e));
  s.output_tps = distribution(std::move(out_tps));
  s.decode_tps = distribution(std::move(dec_tps));
  s.prompt_len = distribution(std::move(plen));
  s.output_len = distribution(std::move(olen));
  s.peak_concurrency = peak_in_flight(records);
  return s;
}

std::vector<TimelineBin> timeline(const std::vector<RequestRecord>& records, double bin) {
  std::vector<TimelineBin> out;
  if (records.empty() || !(bin > 0)) return out;
  double first = records.front().start, last = records.front().end;
  for (const RequestRecord& r : records) {
    first = std::min(first, r.start);
    last = std::max(last, r.end);
  }
  const size_t n = std::max<size_t>(1, static_cast<size_t>(std::ceil((last - first) / bin)));
  out.resize(n);
  for (size_t i = 0; i < n; ++i) out[i].t = first + static_cast<double>(i) * bin;
  auto bin_of = [&](double t) { return std::min(n - 1, static_cast<size_t>(std::max(0.0, (t - first) / bin))); };
  for (const RequestRecord& r : records) {
    for (size_t i = bin_of(r.start); i <= bin_of(r.end); ++i) {
      const double lo = std::max(r.start, out[i].t), hi = std::min(r.end, out[i].t + bin);
      if (hi > lo) out[i].running += (hi - lo) / bin;
    }
    if (!r.success || r.output_tokens <= 0 || r.output_times.empty()) continue;
    const double per_chunk = static_cast<double>(r.output_tokens) / static_cast<double>(r.output_times.size());
    for (double t : r.output_times) out[bin_of(t)].output_tps += per_chunk / bin;
  }
  return out;
}

}  // namespace rotor::loadgen
