// server/metrics.h — the /metrics page: the engine's counters, gauges and latency histograms
// (EngineStats) and the API layer's per-request counts (FrontendStats) in Prometheus text
// format under vLLM's metric names (vllm:*, labels model_name and engine), so dashboards and
// scrapers made for vLLM (its stock Grafana dashboard) read rotor unchanged.
#pragma once
#include <string>

#include "engine/engine_stats.h"

namespace rotor::server {

// What the API layer counts per API request and prompt (vLLM counts these per parent request
// of n sequences).
struct FrontendStats {
  Histogram params_n = Histogram({1, 2, 5, 10, 20});  // vllm:request_params_n
  Histogram max_num_generation_tokens;                 // vllm:request_max_num_generation_tokens (most of the n)
};

std::string render_metrics(const EngineStats& stats, const FrontendStats& frontend, const std::string& model_name);

// Escapes a Prometheus label value (backslash, quote, newline).
std::string escape_label(const std::string& v);

}  // namespace rotor::server
