// loadgen/run_info.h — the settings of one benchmark run, echoed by every output (table, JSON,
// HTML) so a figure can always be traced to the command that produced it.
#pragma once
#include <cstdint>
#include <string>

namespace rotor::loadgen {

struct RunInfo {
  std::string base_url, endpoint_path, model, dataset, dataset_path, tokenizer;
  int num_prompts = 0, max_concurrency = 1, num_warmups = 0;
  double request_rate = 0;  // infinity: all at once
  int random_input_len = 0, random_output_len = 0;
  bool ignore_eos = false;
  uint64_t seed = 0;
  std::string started_at;    // local time, ISO 8601
  std::string command_line;  // as typed (arguments joined by spaces)
};

}  // namespace rotor::loadgen
