// model/weights.h — ModelWeights: every tensor of a Qwen3-MoE model as views (into an
// mmap'd checkpoint, into owned host buffers for dummy weights, or into device buffers after
// upload), plus whatever owns that memory.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "kernels/ops.h"
#include "model/config.h"

namespace rotor {

class Checkpoint;

struct LayerWeights {
  Tensor input_norm;                  // [H]
  Tensor input_norm_bias;             // [H] optional (W8A8 smoothing shift)
  Tensor post_norm;                   // [H]
  Tensor post_norm_bias;              // [H] optional
  Tensor q_norm, k_norm;              // [hd]
  std::vector<LinearWeight> qkv;      // parts writing consecutive columns of the [T, qkv_size] output
  LinearWeight o_proj;                // [H, Hq*hd]
  LinearWeight router;                // mlp.gate [E, H]
  ExpertWeights experts;
};

struct ModelWeights {
  Tensor embed;                       // [V, H]
  Tensor final_norm;                  // [H]
  Tensor final_norm_bias;             // [H] optional
  LinearWeight lm_head;               // [V, H] (the embedding when tied)
  std::vector<LayerWeights> layers;
  std::string quantization;           // "" (float weights) or "w8a8"

  // Owners of the memory the views point into.
  std::shared_ptr<Checkpoint> checkpoint;
  std::vector<Buffer> owned;
};

// Loads a Hugging Face checkpoint: bf16/f32 (model*.safetensors, sharded or not) or, when the
// directory holds quant_model_description.json, W8A8 (quant_model_weight_w8a8*.safetensors;
// ../shared/docs/W8A8.md). Every tensor is checked for presence, dtype and shape against the
// config; views are zero-copy except scales converted to f32.
ModelWeights load_weights(const ModelConfig& config, const std::filesystem::path& dir);

// Random bf16 weights of the right shapes, made on ops' device, deterministic for a seed:
// linears ~ N(0, 1/in_features), embeddings ~ N(0, 1), norms ~ 1 + N(0, 0.01).
ModelWeights dummy_weights(const ModelConfig& config, uint64_t seed, Ops& ops);

// Copies every tensor to the allocator's device (one buffer per tensor group).
ModelWeights upload_weights(const ModelWeights& host, Allocator& device);

}  // namespace rotor
