// model/loader.cpp — checkpoint loading: names, dtypes and shapes checked against the config;
// bf16/f32 checkpoints here, W8A8 ones (quant_model_description.json) in w8a8_loader.cpp.
#include "model/loader.h"

#include <fmt/format.h>

#include "model/quant_description.h"

namespace rotor {
namespace {

Tensor optional_vector(const Checkpoint& ck, const std::string& name, int64_t n) {
  return ck.has(name) ? ck.get(name, {n}) : Tensor{};
}

}  // namespace

LinearWeight float_linear(const Checkpoint& ck, const std::string& prefix, int64_t n, int64_t k) {
  LinearWeight w;
  w.weight = ck.get(prefix + ".weight", {n, k});
  w.bias = optional_vector(ck, prefix + ".bias", n);
  return w;
}

ModelWeights assemble_weights(const ModelConfig& c, std::shared_ptr<Checkpoint> checkpoint,
                              const LinearLoader& linear) {
  ModelWeights w;
  w.checkpoint = std::move(checkpoint);
  const Checkpoint& ck = *w.checkpoint;
  const int64_t H = c.hidden_size, V = c.vocab_size, hd = c.head_dim, I = c.moe_intermediate_size;
  w.embed = ck.get("model.embed_tokens.weight", {V, H});
  w.final_norm = ck.get("model.norm.weight", {H});
  w.final_norm_bias = optional_vector(ck, "model.norm.bias", H);
  if (c.tie_word_embeddings && !ck.has("lm_head.weight"))
    w.lm_head.weight = w.embed;
  else
    w.lm_head = linear("lm_head", V, H, w.owned);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LayerWeights L;
    L.input_norm = ck.get(p + "input_layernorm.weight", {H});
    L.input_norm_bias = optional_vector(ck, p + "input_layernorm.bias", H);
    L.post_norm = ck.get(p + "post_attention_layernorm.weight", {H});
    L.post_norm_bias = optional_vector(ck, p + "post_attention_layernorm.bias", H);
    L.q_norm = ck.get(p + "self_attn.q_norm.weight", {hd});
    L.k_norm = ck.get(p + "self_attn.k_norm.weight", {hd});
    L.qkv = {linear(p + "self_attn.q_proj", c.q_size(), H, w.owned),
             linear(p + "self_attn.k_proj", c.kv_size(), H, w.owned),
             linear(p + "self_attn.v_proj", c.kv_size(), H, w.owned)};
    L.o_proj = linear(p + "self_attn.o_proj", H, c.q_size(), w.owned);
    L.router = linear(p + "mlp.gate", c.num_experts, H, w.owned);
    L.experts.num_experts = c.num_experts;
    L.experts.hidden = static_cast<int>(H);
    L.experts.inter = static_cast<int>(I);
    for (int e = 0; e < c.num_experts; ++e) {
      const std::string q = fmt::format("{}mlp.experts.{}.", p, e);
      L.experts.gate.push_back(linear(q + "gate_proj", I, H, w.owned));
      L.experts.up.push_back(linear(q + "up_proj", I, H, w.owned));
      L.experts.down.push_back(linear(q + "down_proj", H, I, w.owned));
    }
    w.layers.push_back(std::move(L));
  }
  return w;
}

ModelWeights load_weights(const ModelConfig& c, const std::filesystem::path& dir) {
  if (QuantDescription::present(dir)) return load_w8a8_weights(c, dir);
  std::shared_ptr<Checkpoint> ck = Checkpoint::open(dir, "model");
  return assemble_weights(c, ck, [&](const std::string& prefix, int64_t n, int64_t k, std::vector<Buffer>&) {
    return float_linear(*ck, prefix, n, k);
  });
}

}  // namespace rotor
