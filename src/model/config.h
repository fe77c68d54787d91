// model/config.h — ModelConfig: the fields of a Hugging Face config.json (model_type
// qwen3_moe) that rotor uses, validated, with unsupported variants rejected clearly.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/dtype.h"

namespace rotor {

// RoPE frequency scaling (config.json's rope_scaling or rope_parameters): none, or YaRN as
// transformers' _compute_yarn_parameters reads it (missing optional fields = its defaults).
struct RopeScaling {
  std::string type = "default";             // default | yarn
  double factor = 1.0;
  int original_max_position_embeddings = 0; // yarn: the pre-extension length (0: max_position_embeddings)
  double beta_fast = 32.0, beta_slow = 1.0;
  double attention_factor = 0.0;            // 0: derived from factor (and mscale / mscale_all_dim)
  double mscale = 0.0, mscale_all_dim = 0.0;
  bool truncate = true;                     // round the correction range to whole dimensions
};

struct ModelConfig {
  std::string model_type;
  int vocab_size = 0;
  int hidden_size = 0;              // H
  int num_layers = 0;
  int num_heads = 0;                // Hq
  int num_kv_heads = 0;             // Hkv
  int head_dim = 0;                 // hd (default hidden_size / num_heads)
  int num_experts = 0;              // E
  int num_experts_per_tok = 0;      // top-k
  int moe_intermediate_size = 0;    // I
  bool norm_topk_prob = true;
  bool tie_word_embeddings = false;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  float rms_norm_eps = 1e-6f;
  int max_position_embeddings = 0;
  int bos_token_id = -1;
  std::vector<int> eos_token_ids;
  DType dtype = DType::BF16;        // torch_dtype of the checkpoint

  int q_size() const { return num_heads * head_dim; }
  int kv_size() const { return num_kv_heads * head_dim; }
  int qkv_size() const { return q_size() + 2 * kv_size(); }
  // The longest context the model takes, as vLLM derives it: max_position_embeddings, or for
  // YaRN original_max_position_embeddings x factor.
  int max_context_len() const;
  // Parameters of the full model (all layers, all experts).
  int64_t parameter_count() const;

  static ModelConfig from_json(const nlohmann::json& j);
  static ModelConfig load(const std::filesystem::path& config_json);
  // config.json with `overrides` (a JSON object's text, as --hf-overrides; "" = none) merged
  // in: objects key by key, recursively; any other value replaces.
  static ModelConfig load(const std::filesystem::path& config_json, const std::string& overrides);
};

}  // namespace rotor
