// model/loader.h — checkpoint loading shared by the weight formats: the architecture's weight
// walk (model/architecture.h) reads norms and embeddings here and each linear layer through
// the format's reader (bf16/f32 here, W8A8 in w8a8_loader.cpp), keeping one rank's slices.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "model/weights.h"

namespace rotor {

// Reads this rank's part of the linear layer `spec` (tensors spec.prefix + ".weight" etc.);
// buffers for converted tensors go to `owned`.
using LinearReader = std::function<LinearWeight(const LinearSpec& spec, std::vector<Buffer>& owned)>;

// Every tensor of the model from `ck` for `shard`: norms (optional biases), embeddings and q/k
// norms as float views; linear layers and experts through `linear`.
ModelWeights assemble_weights(const ModelConfig& config, const ShardSpec& shard, std::shared_ptr<Checkpoint> ck,
                              const LinearReader& linear);

// The float linear layer: prefix.weight [out, in] and an optional prefix.bias [out], sliced.
LinearWeight float_linear(const Checkpoint& ck, const LinearSpec& spec);

// Rows, then columns, of a [n, k] tensor (a strided view when the columns are split).
Tensor slice_2d(const Tensor& t, Slice rows, Slice cols);

// W8A8 checkpoints (w8a8_loader.cpp).
ModelWeights load_w8a8_weights(const ModelConfig& config, const std::filesystem::path& dir, const ShardSpec& shard);

}  // namespace rotor
