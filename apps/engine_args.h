// apps/engine_args.h — the engine's command-line flags (vLLM's names), shared by the
// subcommands that run an Engine (`rotor generate`, `rotor serve`).
#pragma once
#include <CLI/CLI.hpp>

#include "engine/engine.h"

namespace rotor::app {

// Adds --block-size, --max-num-seqs, --max-num-batched-tokens, --max-model-len,
// --[no-]enable-prefix-caching, --async-scheduling, --kv-cache-memory-bytes,
// --gpu-memory-utilization, --max-logprobs, --kv-cache-dtype and --calculate-kv-scales, writing
// into `config`.
void add_engine_options(CLI::App* command, EngineConfig& config);

}  // namespace rotor::app
