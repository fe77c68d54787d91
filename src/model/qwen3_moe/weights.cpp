// model/qwen3_moe/weights.cpp — the Qwen3-MoE checkpoint layout: every tensor's name, shape
// and tensor-parallel split (q/k/v and expert gate/up by rows, o_proj and expert down by
// columns, embedding and lm_head by vocabulary rows, the rest replicated), in load order.
#include <fmt/format.h>

#include "model/qwen3_moe/model.h"

namespace rotor::qwen3_moe {

void visit_weights(const ModelConfig& c, ModelWeights& w, WeightVisitor& v) {
  const ShardSpec& s = w.shard;
  const int64_t H = c.hidden_size, V = c.vocab_size, hd = c.head_dim, E = c.num_experts;
  const Slice all_h{0, H};
  auto norm = [&](Tensor& t, const std::string& name, int64_t n, bool optional = false,
                  const char* output = nullptr) { v.tensor(t, {name, {n}, {0, n}, optional, output}); };
  auto linear = [&](LinearWeight& lw, const std::string& prefix, int64_t n, int64_t k, Slice rows, Slice cols,
                    const char* input) {
    LinearSpec spec{prefix, n, k, rows, cols};
    spec.adds_bias = cols.size == k || s.adds_row_parallel_bias();
    spec.input = input;
    v.linear(lw, spec);
  };

  v.begin_group(-1);
  v.tensor(w.embed, {"model.embed_tokens.weight", {V, H}, s.vocab});
  norm(w.final_norm, "model.norm.weight", H, false, "result_norm");
  norm(w.final_norm_bias, "model.norm.bias", H, true, "result_norm");
  LinearSpec head{"lm_head", V, H, s.vocab, all_h};
  head.quantizable = false;
  head.input = "result_norm";
  head.tied_to = c.tie_word_embeddings ? &w.embed : nullptr;
  v.linear(w.lm_head, head);

  w.layers.resize(c.num_layers);
  const Slice q_rows{s.q_heads.begin * hd, s.q_heads.size * hd}, kv_rows{s.kv_heads.begin * hd, s.kv_heads.size * hd};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LayerWeights& L = w.layers[i];
    v.begin_group(i);
    norm(L.input_norm, p + "input_layernorm.weight", H, false, "attn_norm");
    norm(L.input_norm_bias, p + "input_layernorm.bias", H, true, "attn_norm");
    norm(L.post_norm, p + "post_attention_layernorm.weight", H, false, "ffn_norm");
    norm(L.post_norm_bias, p + "post_attention_layernorm.bias", H, true, "ffn_norm");
    norm(L.q_norm, p + "self_attn.q_norm.weight", hd);
    norm(L.k_norm, p + "self_attn.k_norm.weight", hd);
    L.qkv.resize(3);
    linear(L.qkv[0], p + "self_attn.q_proj", c.q_size(), H, q_rows, all_h, "attn_norm");
    linear(L.qkv[1], p + "self_attn.k_proj", c.kv_size(), H, kv_rows, all_h, "attn_norm");
    linear(L.qkv[2], p + "self_attn.v_proj", c.kv_size(), H, kv_rows, all_h, "attn_norm");
    linear(L.o_proj, p + "self_attn.o_proj", H, c.q_size(), all_h, q_rows, "attn_out");
    LinearSpec router{p + "mlp.gate", E, H, {0, E}, all_h};
    router.quantizable = false;
    router.input = "ffn_norm";
    v.linear(L.router, router);
    ExpertsSpec ex{p + "mlp.experts", "gate_proj", "up_proj", "down_proj", E, H, c.moe_intermediate_size,
                   s.experts, s.expert_inter};
    ex.adds_bias = s.expert_inter.size == c.moe_intermediate_size || s.adds_row_parallel_bias();
    v.experts(L.experts, ex);
  }
}

}  // namespace rotor::qwen3_moe
