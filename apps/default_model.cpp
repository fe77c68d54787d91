// apps/default_model.cpp — the fixed config of the embedded default model.
#include "apps/default_model.h"

namespace rotor::app {

nlohmann::json default_model_config_json() {
  return {
      {"architectures", {"Qwen3MoeForCausalLM"}},
      {"model_type", "qwen3_moe"},
      {"vocab_size", 151936},
      {"hidden_size", 128},
      {"num_hidden_layers", 4},
      {"num_attention_heads", 8},
      {"num_key_value_heads", 2},
      {"head_dim", 128},  // as every Qwen3-MoE (the CUDA attention kernels are built for 128)
      {"num_experts", 16},
      {"num_experts_per_tok", 4},
      {"moe_intermediate_size", 128},
      {"norm_topk_prob", true},
      {"tie_word_embeddings", false},
      {"rope_theta", 1000000.0},
      {"rms_norm_eps", 1e-6},
      {"max_position_embeddings", 32768},
      {"bos_token_id", 151643},
      {"eos_token_id", {151645, 151643}},
      {"torch_dtype", "bfloat16"},
  };
}

}  // namespace rotor::app
