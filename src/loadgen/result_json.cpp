// loadgen/result_json.cpp — builds the --result-json document (see result_json.h): config, flat
// summary figures, errors, the throughput timeline, and per-request records with their chunk
// arrival times (seconds since the benchmark's start).
#include "loadgen/result_json.h"

#include <cmath>

namespace rotor::loadgen {

using nlohmann::json;

namespace {

// NaN and infinity are not JSON: they become null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Rounded to a microsecond of a second (or a nanosecond of a millisecond): shorter files.
double us(double s) { return std::round(s * 1e6) / 1e6; }

void put(json& j, const std::string& name, const Distribution& d) {
  const std::pair<const char*, double> stats[] = {{"mean", d.mean}, {"std", d.stddev}, {"min", d.min},
                                                  {"p25", d.p25},   {"median", d.median}, {"p75", d.p75},
                                                  {"p90", d.p90},   {"p95", d.p95},   {"p99", d.p99},
                                                  {"max", d.max}};
  for (const auto& [stat, v] : stats) j[std::string(stat) + "_" + name] = d.count ? number(v) : json(nullptr);
  j["count_" + name] = d.count;
}

json opt(const std::optional<double>& v, double k) { return v ? number(*v * k) : json(nullptr); }

}  // namespace

json result_json(const RunInfo& info, const Summary& s, const std::vector<RequestRecord>& records) {
  json j;
  j["tool"] = "rotor bench serve";
  j["date"] = info.started_at;
  j["command_line"] = info.command_line;
  j["base_url"] = info.base_url;
  j["endpoint"] = info.endpoint_path;
  j["model_id"] = info.model;
  j["tokenizer_id"] = info.tokenizer;
  j["dataset"] = info.dataset;
  j["dataset_path"] = info.dataset_path;
  j["num_prompts"] = info.num_prompts;
  j["num_warmups"] = info.num_warmups;
  j["max_concurrency"] = info.max_concurrency;
  j["request_rate"] = std::isinf(info.request_rate) ? json("inf") : json(info.request_rate);
  j["random_input_len"] = info.random_input_len;
  j["random_output_len"] = info.random_output_len;
  j["ignore_eos"] = info.ignore_eos;
  j["seed"] = info.seed;

  j["completed"] = s.succeeded;
  j["failed"] = s.failed;
  j["duration"] = number(s.duration);
  j["total_input_tokens"] = s.prompt_tokens;
  j["total_output_tokens"] = s.output_tokens;
  j["request_throughput"] = number(s.request_throughput);
  j["output_throughput"] = number(s.output_throughput);
  j["total_token_throughput"] = number(s.total_throughput);
  j["peak_concurrency"] = s.peak_concurrency;
  j["prompt_token_mismatches"] = s.prompt_token_mismatches;
  put(j, "ttft_ms", s.ttft_ms);
  put(j, "itl_ms", s.itl_ms);
  put(j, "tpot_ms", s.tpot_ms);
  put(j, "e2el_ms", s.e2e_ms);
  put(j, "output_tps", s.output_tps);
  put(j, "decode_tps", s.decode_tps);
  put(j, "input_len", s.prompt_len);
  put(j, "output_len", s.output_len);
  json errors = json::object();
  for (const auto& [msg, n] : s.errors) errors[msg] = n;
  j["errors"] = errors;

  const double bin = std::max(s.duration / 100.0, 1e-3);
  json tl = {{"bin_s", bin}, {"t", json::array()}, {"output_tps", json::array()}, {"running", json::array()}};
  for (const TimelineBin& b : timeline(records, bin)) {
    tl["t"].push_back(us(b.t));
    tl["output_tps"].push_back(b.output_tps);
    tl["running"].push_back(b.running);
  }
  j["timeline"] = tl;

  json reqs = json::array();
  for (const RequestRecord& r : records) {
    const RequestMetrics m = request_metrics(r);
    json times = json::array();
    for (double t : r.output_times) times.push_back(us(t));
    reqs.push_back({{"index", r.index},
                    {"success", r.success},
                    {"error", r.error},
                    {"http_status", r.http_status},
                    {"start_s", us(r.start)},
                    {"end_s", us(r.end)},
                    {"ttft_ms", opt(m.ttft, 1e3)},
                    {"e2el_ms", number(m.e2e * 1e3)},
                    {"tpot_ms", opt(m.tpot, 1e3)},
                    {"output_tps", opt(m.output_tps, 1)},
                    {"decode_tps", opt(m.decode_tps, 1)},
                    {"prompt_tokens", r.prompt_tokens},
                    {"expected_prompt_tokens", r.expected_prompt_tokens},
                    {"output_tokens", r.output_tokens},
                    {"chunks", r.chunks},
                    {"output_chars", r.output_chars},
                    {"finish_reason", r.finish_reason},
                    {"output_times_s", times}});
  }
  j["requests"] = reqs;
  return j;
}

}  // namespace rotor::loadgen
