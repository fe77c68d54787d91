// model/loader.h — the layout of a Qwen3-MoE checkpoint (every tensor name and shape), shared
// by the bf16 and the W8A8 loaders, which differ only in how they read a linear layer.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "model/weights.h"

namespace rotor {

// Reads the linear layer under `prefix` (e.g. "model.layers.0.self_attn.q_proj", tensors
// prefix + ".weight" etc.) with weight [n, k]; buffers for converted tensors go to `owned`.
using LinearLoader =
    std::function<LinearWeight(const std::string& prefix, int64_t n, int64_t k, std::vector<Buffer>& owned)>;

// Every tensor of the model from `ck`: norms (optional biases), embeddings, q/k norms as float;
// linear layers through `linear`.
ModelWeights assemble_weights(const ModelConfig& config, std::shared_ptr<Checkpoint> ck, const LinearLoader& linear);

// The float linear layer: prefix.weight [n, k] and an optional prefix.bias [n].
LinearWeight float_linear(const Checkpoint& ck, const std::string& prefix, int64_t n, int64_t k);

// W8A8 checkpoints (w8a8_loader.cpp).
ModelWeights load_w8a8_weights(const ModelConfig& config, const std::filesystem::path& dir);

}  // namespace rotor
