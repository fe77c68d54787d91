// bench/summary_table.h — the results table printed at the end of a run (plain text).
#pragma once
#include <string>

#include "bench/metrics.h"
#include "bench/run_info.h"

namespace rotor::bench {

std::string summary_table(const RunInfo& info, const Summary& s);

}  // namespace rotor::bench
