// apps/default_model.h — the embedded default model that `rotor serve` runs without a model
// directory: a small Qwen3-MoE (the real Qwen3 vocabulary, so the embedded Qwen3 tokenizer
// fits it) with random weights made at start-up from a fixed seed. It answers with random
// text; it exists so a fresh machine serves the full API with no download.
#pragma once
#include <nlohmann/json.hpp>

namespace rotor::app {

inline constexpr const char* kDefaultModelName = "rotor-default-qwen3-moe";
inline constexpr uint64_t kDefaultModelSeed = 20250701;

// config.json of the default model.
nlohmann::json default_model_config_json();

}  // namespace rotor::app
