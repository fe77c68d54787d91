// model/loader.cpp — bf16 checkpoint loading: names, dtypes and shapes checked against the config.
#include <fmt/format.h>

#include "model/safetensors.h"
#include "model/weights.h"

namespace rotor {
namespace {

LinearWeight float_linear(const Checkpoint& ck, const std::string& name, int64_t n, int64_t k) {
  LinearWeight w;
  w.weight = ck.get(name, {n, k});
  return w;
}

Tensor optional_vector(const Checkpoint& ck, const std::string& name, int64_t n) {
  return ck.has(name) ? ck.get(name, {n}) : Tensor{};
}

}  // namespace

ModelWeights load_weights(const ModelConfig& c, const std::filesystem::path& dir) {
  ModelWeights w;
  w.checkpoint = Checkpoint::open(dir, "model");
  const Checkpoint& ck = *w.checkpoint;
  const int64_t H = c.hidden_size, V = c.vocab_size, hd = c.head_dim, I = c.moe_intermediate_size;
  w.embed = ck.get("model.embed_tokens.weight", {V, H});
  w.final_norm = ck.get("model.norm.weight", {H});
  w.final_norm_bias = optional_vector(ck, "model.norm.bias", H);
  if (c.tie_word_embeddings && !ck.has("lm_head.weight"))
    w.lm_head.weight = w.embed;
  else
    w.lm_head = float_linear(ck, "lm_head.weight", V, H);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LayerWeights L;
    L.input_norm = ck.get(p + "input_layernorm.weight", {H});
    L.input_norm_bias = optional_vector(ck, p + "input_layernorm.bias", H);
    L.post_norm = ck.get(p + "post_attention_layernorm.weight", {H});
    L.post_norm_bias = optional_vector(ck, p + "post_attention_layernorm.bias", H);
    L.q_norm = ck.get(p + "self_attn.q_norm.weight", {hd});
    L.k_norm = ck.get(p + "self_attn.k_norm.weight", {hd});
    L.qkv = {float_linear(ck, p + "self_attn.q_proj.weight", c.q_size(), H),
             float_linear(ck, p + "self_attn.k_proj.weight", c.kv_size(), H),
             float_linear(ck, p + "self_attn.v_proj.weight", c.kv_size(), H)};
    L.o_proj = float_linear(ck, p + "self_attn.o_proj.weight", H, c.q_size());
    L.router = float_linear(ck, p + "mlp.gate.weight", c.num_experts, H);
    L.experts.num_experts = c.num_experts;
    L.experts.hidden = static_cast<int>(H);
    L.experts.inter = static_cast<int>(I);
    for (int e = 0; e < c.num_experts; ++e) {
      const std::string q = fmt::format("{}mlp.experts.{}.", p, e);
      L.experts.gate.push_back(float_linear(ck, q + "gate_proj.weight", I, H));
      L.experts.up.push_back(float_linear(ck, q + "up_proj.weight", I, H));
      L.experts.down.push_back(float_linear(ck, q + "down_proj.weight", H, I));
    }
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace rotor
