// engine/runner/compilation_config.h — vLLM's --compilation-config JSON, the part rotor
// uses: {"cudagraph_mode": "FULL_DECODE_ONLY" | "NONE", "cudagraph_capture_sizes": [1, 2, ...]}.
#pragma once
#include <string>
#include <vector>

namespace rotor {

struct CompilationConfig {
  bool cuda_graphs = true;           // FULL_DECODE_ONLY: decode steps replay CUDA graphs
  std::vector<int> capture_sizes;    // empty: the runner's default sizes
};

// Throws rotor::Error with a one-line message for malformed JSON or unsupported modes.
CompilationConfig parse_compilation_config(const std::string& json);

}  // namespace rotor
