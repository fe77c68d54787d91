// loadgen/result_json.h — --result-json: every figure of the run and every request's record.
// The summary keys follow vllm bench serve's result file (completed, duration,
// output_throughput, mean_ttft_ms, p99_itl_ms, ...), so tools that read one read the other.
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "loadgen/metrics.h"
#include "loadgen/run_info.h"

namespace rotor::loadgen {

nlohmann::json result_json(const RunInfo& info, const Summary& s, const std::vector<RequestRecord>& records);

}  // namespace rotor::loadgen
