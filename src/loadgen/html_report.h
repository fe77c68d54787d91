// loadgen/html_report.h — --report: one self-contained HTML page (inline CSS and SVG, nothing
// fetched) with the run's settings, the results table, latency and throughput distributions,
// throughput and concurrency over time, a per-request timeline and the per-request records.
#pragma once
#include <string>
#include <vector>

#include "loadgen/metrics.h"
#include "loadgen/run_info.h"

namespace rotor::loadgen {

std::string html_report(const RunInfo& info, const Summary& s, const std::vector<RequestRecord>& records);

}  // namespace rotor::loadgen
