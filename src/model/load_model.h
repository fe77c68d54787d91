// model/load_model.h — from a model directory and the load flags to a config and one
// tensor-parallel rank's weights on the backend's device: real checkpoint, bf16 or W8A8
// (zero-copy on the CPU but for strided slices), or `--load-format dummy`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "kernels/ops.h"
#include "model/config.h"
#include "model/weights.h"

namespace rotor {

struct LoadOptions {
  std::filesystem::path model;     // a model directory, or a config.json (dummy only)
  std::string load_format = "auto";  // auto | safetensors | dummy
  // auto: W8A8 when the directory holds quant_model_description.json; ascend | w8a8: require it
  // (dummy: W8A8 dummy weights, dummy_weights).
  std::string quantization = "auto";
  int num_layers = 0;              // > 0: keep only the first N layers
  uint64_t seed = 0;               // dummy weights
  std::string hf_overrides;        // JSON object merged into config.json ("" = none)
  int rank = 0;                    // tensor-parallel rank of world_size: ShardSpec::make
  int world_size = 1;
  bool expert_parallel = false;    // whole experts per rank (--enable-expert-parallel)
};

struct LoadedModel {
  ModelConfig config;              // with num_layers overridden
  int64_t full_parameter_count = 0;  // of the model as configured, all layers
  int full_layers = 0;             // layers in config.json
  ModelWeights weights;            // weights.shard: what this rank holds
};

// The config and this rank's weights on ops' device: memory-mapped on the CPU; on a GPU copied
// (or made, dummy) there, unless ROTOR_STACK_QKV=0 each layer's q/k/v stacked into one weight
// (model/stack_qkv.h).
LoadedModel load_model(const LoadOptions& options, Ops& ops);
// What load_model does before it reads any weight: the options checked (one-line errors) and
// the config loaded (num_layers applied); weights left empty.
LoadedModel load_model_config(const LoadOptions& options);

}  // namespace rotor
