// loadgen/html_report.cpp — assembles the HTML report page from the summary, the records and the
// SVG charts of svg_chart.h.
#include "loadgen/html_report.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "loadgen/svg_chart.h"

namespace rotor::loadgen {

namespace {

constexpr const char* kBlue = "#4e79a7";
constexpr const char* kRed = "#e15759";
constexpr const char* kGreen = "#59a14f";
constexpr const char* kOrange = "#f28e2b";
constexpr const char* kPurple = "#b07aa1";
constexpr size_t kMaxBars = 400;     // requests drawn in the timeline
constexpr size_t kMaxTableRows = 2000;

constexpr const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td.k, th.k { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { border: 1px solid #ddd; }
.fail { color: #b00020; }
code { background: #f3f3f3; padding: 1px 4px; }
)";

std::string num(double v, int digits = 2) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "inf"; }

std::string row(std::string_view k, const std::string& v) {
  return fmt::format("<tr><td class=\"k\">{}</td><td>{}</td></tr>\n", html_escape(k), html_escape(v));
}

std::string dist_row(std::string_view name, const Distribution& d, int digits = 2) {
  if (d.count == 0) return fmt::format("<tr><td class=\"k\">{}</td><td colspan=\"7\">no data</td></tr>\n", name);
  return fmt::format(
      "<tr><td class=\"k\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
      name, num(d.mean, digits), num(d.median, digits), num(d.p90, digits), num(d.p99, digits), num(d.min, digits),
      num(d.max, digits), d.count);
}

std::vector<Marker> markers(const Distribution& d, double k = 1) {
  if (d.count == 0) return {};
  return {{"mean", d.mean * k}, {"median", d.median * k}, {"p99", d.p99 * k}};
}

}  // namespace

std::string html_report(const RunInfo& info, const Summary& s, const std::vector<RequestRecord>& records) {
  std::vector<double> ttft, e2e, tpot, itl, out_tps, dec_tps;
  for (const RequestRecord& r : records) {
    if (!r.success) continue;
    const RequestMetrics m = request_metrics(r);
    if (m.ttft) ttft.push_back(*m.ttft * 1e3);
    e2e.push_back(m.e2e);
    if (m.tpot) tpot.push_back(*m.tpot * 1e3);
    for (double x : m.itl) itl.push_back(x * 1e3);
    if (m.output_tps) out_tps.push_back(*m.output_tps);
    if (m.decode_tps) dec_tps.push_back(*m.decode_tps);
  }

  std::string o = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  o += fmt::format("<title>rotor bench serve: {}</title><style>{}</style></head><body>\n", html_escape(info.model), kStyle);
  o += fmt::format("<h1>rotor bench serve: {}</h1>\n<p>{}; <code>{}</code></p>\n", html_escape(info.model),
                   html_escape(info.started_at), html_escape(info.command_line));

  o += "<h2>Settings</h2><table>\n";
  o += row("server", info.base_url + info.endpoint_path);
  o += row("dataset", info.dataset + (info.dataset_path.empty() ? "" : " (" + info.dataset_path + ")"));
  if (info.dataset == "random")
    o += row("random input / output length", fmt::format("{} / {}", info.random_input_len, info.random_output_len));
  o += row("prompts (+ warm-ups)", fmt::format("{} (+ {})", info.num_prompts, info.num_warmups));
  o += row("max concurrency", std::to_string(info.max_concurrency));
  o += row("request rate (req/s)", std::isinf(info.request_rate) ? "inf" : num(info.request_rate));
  o += row("ignore_eos", info.ignore_eos ? "yes" : "no");
  o += "</table>\n";

  o += "<h2>Results</h2><table>\n";
  o += row("successful requests", std::to_string(s.succeeded));
  o += fmt::format("<tr><td class=\"k\">failed requests</td><td{}>{}</td></tr>\n", s.failed ? " class=\"fail\"" : "",
                   s.failed);
  o += row("peak requests in flight", std::to_string(s.peak_concurrency));
  o += row("duration (s)", num(s.duration));
  o += row("total input / generated tokens", fmt::format("{} / {}", s.prompt_tokens, s.output_tokens));
  o += row("request throughput (req/s)", num(s.request_throughput, 3));
  o += row("output token throughput (tok/s)", num(s.output_throughput));
  o += row("total token throughput (tok/s)", num(s.total_throughput));
  if (s.prompt_token_mismatches)
    o += fmt::format("<tr><td class=\"k\">prompt-length mismatches</td><td class=\"fail\">{}</td></tr>\n",
                     s.prompt_token_mismatches);
  o += "</table>\n<p></p><table>\n<tr><th class=\"k\">per request</th><th>mean</th><th>median</th><th>p90</th>"
       "<th>p99</th><th>min</th><th>max</th><th>n</th></tr>\n";
  o += dist_row("TTFT (ms)", s.ttft_ms);
  o += dist_row("ITL (ms)", s.itl_ms);
  o += dist_row("TPOT (ms)", s.tpot_ms);
  o += dist_row("E2E latency (s)", scaled(s.e2e_ms, 1e-3), 3);
  o += dist_row("Output (tok/s)", s.output_tps);
  o += dist_row("Decode (tok/s)", s.decode_tps);
  o += dist_row("Input tokens", s.prompt_len, 0);
  o += dist_row("Output tokens", s.output_len, 0);
  o += "</table>\n<p>Percentiles are nearest rank; the median is the 50th percentile.</p>\n";

  if (!s.errors.empty()) {
    o += "<h2 class=\"fail\">Failures</h2><table><tr><th>count</th><th class=\"k\">reason</th></tr>\n";
    for (const auto& [msg, n] : s.errors)
      o += fmt::format("<tr><td>{}</td><td class=\"k\">{}</td></tr>\n", n, html_escape(msg));
    o += "</table>\n";
  }

  o += "<h2>Latency distributions</h2><div class=\"grid\">\n";
  o += histogram_svg("Time to first token", "TTFT (ms)", "requests", ttft, kBlue, markers(s.ttft_ms)) + "\n";
  o += histogram_svg("End-to-end latency", "E2E latency (s)", "requests", e2e, kBlue, markers(s.e2e_ms, 1e-3)) + "\n";
  o += histogram_svg("Time per output token", "TPOT (ms)", "requests", tpot, kBlue, markers(s.tpot_ms)) + "\n";
  o += histogram_svg("Inter-token latency (all requests)", "ITL (ms)", "token gaps", itl, kBlue, markers(s.itl_ms)) + "\n";
  o += histogram_svg("Output tok/s per request", "output tokens / E2E latency (tok/s)", "requests", out_tps, kBlue,
                     markers(s.output_tps)) + "\n";
  o += histogram_svg("Decode tok/s per request", "1 / TPOT (tok/s)", "requests", dec_tps, kBlue, markers(s.decode_tps)) + "\n";
  o += "</div>\n";

  const double bin = std::max(s.duration / 100.0, 1e-3);
  Series tps{"output tok/s", kRed, {}, {}}, run{"requests in flight", kGreen, {}, {}};
  for (const TimelineBin& b : timeline(records, bin)) {
    tps.x.push_back(b.t + bin / 2);
    tps.y.push_back(b.output_tps);
    run.x.push_back(b.t + bin / 2);
    run.y.push_back(b.running);
  }
  o += "<h2>Over time</h2><div class=\"grid\">\n";
  o += line_svg(fmt::format("Output throughput ({} s bins)", num(bin, 3)), "time since start (s)", "tokens/s", {tps}) + "\n";
  o += line_svg("Requests in flight", "time since start (s)", "requests", {run}) + "\n";

  std::vector<const RequestRecord*> by_start;
  for (const RequestRecord& r : records) by_start.push_back(&r);
  std::sort(by_start.begin(), by_start.end(), [](auto* a, auto* b) { return a->start < b->start; });
  const size_t stride = (by_start.size() + kMaxBars - 1) / kMaxBars;
  std::vector<std::vector<Segment>> rows;
  for (size_t i = 0; i < by_start.size(); i += std::max<size_t>(stride, 1)) {
    const RequestRecord& r = *by_start[i];
    std::vector<Segment> segs;
    if (!r.success) {
      segs.push_back({r.start, r.end, kPurple, fmt::format("request {}: failed: {}", r.index, r.error)});
    } else {
      const double first = r.output_times.empty() ? r.end : r.output_times.front();
      segs.push_back({r.start, first, kOrange, fmt::format("request {}: TTFT {:.1f} ms", r.index, (first - r.start) * 1e3)});
      segs.push_back({first, r.end, kBlue,
                      fmt::format("request {}: {} tokens in {:.2f} s", r.index, r.output_tokens, r.end - r.start)});
    }
    rows.push_back(std::move(segs));
  }
  const std::string note = fmt::format("orange: waiting for the first token; blue: streaming; purple: failed{}",
                                       stride > 1 ? fmt::format(" (every {}th request drawn)", stride) : "");
  o += interval_bars_svg("Requests over time", "time since start (s)", rows, note) + "\n</div>\n";

  o += "<h2>Requests</h2><details><summary>per-request records";
  if (records.size() > kMaxTableRows) o += fmt::format(" (first {} of {})", kMaxTableRows, records.size());
  o += "</summary><table>\n<tr><th>#</th><th>ok</th><th>start (s)</th><th>TTFT (ms)</th><th>E2E (s)</th>"
       "<th>TPOT (ms)</th><th>out tok/s</th><th>prompt tok</th><th>output tok</th><th>chunks</th>"
       "<th class=\"k\">finish / error</th></tr>\n";
  for (size_t i = 0; i < std::min(records.size(), kMaxTableRows); ++i) {
    const RequestRecord& r = records[i];
    const RequestMetrics m = request_metrics(r);
    o += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{:.3f}</td><td>{}</td><td>{:.3f}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td class=\"k\">{}</td></tr>\n",
        r.index, r.success ? "yes" : "<span class=\"fail\">no</span>", r.start, m.ttft ? num(*m.ttft * 1e3) : "",
        m.e2e, m.tpot ? num(*m.tpot * 1e3, 3) : "", m.output_tps ? num(*m.output_tps) : "", r.prompt_tokens,
        r.output_tokens, r.chunks, html_escape(r.success ? r.finish_reason : r.error));
  }
  o += "</table></details>\n</body></html>\n";
  return o;
}

}  // namespace rotor::loadgen
