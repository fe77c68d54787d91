// loadgen/summary_table.h — the results table printed at the end of a run (plain text).
#pragma once
#include <string>

#include "loadgen/metrics.h"
#include "loadgen/run_info.h"

namespace rotor::loadgen {

std::string summary_table(const RunInfo& info, const Summary& s);

}  // namespace rotor::loadgen
