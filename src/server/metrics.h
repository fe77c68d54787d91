// server/metrics.h — the /metrics page: the engine's counters, gauges and latency histograms
// (EngineStats) in Prometheus text format under vLLM's metric names (vllm:*, label
// model_name), so dashboards and scrapers made for vLLM read rotor unchanged.
#pragma once
#include <string>

#include "engine/engine_stats.h"

namespace rotor::server {

std::string render_metrics(const EngineStats& stats, const std::string& model_name);

// Escapes a Prometheus label value (backslash, quote, newline).
std::string escape_label(const std::string& v);

}  // namespace rotor::server
