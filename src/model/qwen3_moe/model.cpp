// model/qwen3_moe/model.cpp — Qwen3-MoE layers: RMSNorm, QKV (one GEMM where stacked), QK-norm + RoPE into the
// paged cache, attention (decodes then prefills; a step of decodes only as one op with QK-norm +
// RoPE, which a backend may fuse), o_proj, residual, router, experts. Linear
// layers go through LinearFront (any weight format); under tensor parallelism o_proj's output is
// all-reduced in the post-attention norm and the experts' in the next layer's input norm (or the
// final norm), both LinearFront::reduce_rms_norm; the vocabulary-parallel embedding and logits
// are summed over ranks.
#include "model/qwen3_moe/model.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "model/rope.h"

namespace rotor {
namespace qwen3_moe {

std::unique_ptr<Model> make_model(const ModelConfig& config, const ModelWeights& weights, Ops& ops,
                                  Communicator& comm, const ModelLimits& limits) {
  return std::make_unique<Qwen3MoeModel>(config, weights, ops, comm, limits);
}

Qwen3MoeModel::Qwen3MoeModel(const ModelConfig& c, const ModelWeights& w, Ops& ops, Communicator& comm,
                             const ModelLimits& limits)
    : config_(c), w_(w), ops_(ops), comm_(comm), q_heads_(w.shard.q_heads.size), kv_heads_(w.shard.kv_heads.size),
      limits_(limits),
      linear_(ops, comm, has_quantized_linear(c, w), std::max(limits.max_tokens, limits.max_rows),
              std::max<int64_t>(c.hidden_size, q_heads_ * c.head_dim)) {
  ROTOR_CHECK(static_cast<int>(w.layers.size()) == c.num_layers, "weights hold {} layers, config {}", w.layers.size(),
              c.num_layers);
  Allocator& a = ops.allocator();
  const DType act = ops.act_dtype();
  const int64_t T = limits.max_tokens, H = c.hidden_size, hd = c.head_dim;
  rope_ = OwnedTensor(a, DType::F32, {limits.max_positions, hd});
  const std::vector<float> table = rope_table(limits.max_positions, static_cast<int>(hd), c.rope_theta, c.rope_scaling);
  a.copy(rope_.tensor.data(), table.data(), table.size() * sizeof(float));
  residual_ = OwnedTensor(a, act, {T, H});
  x_ = OwnedTensor(a, act, {T, H});
  qkv_ = OwnedTensor(a, act, {T, (q_heads_ + 2 * kv_heads_) * hd});
  q_ = OwnedTensor(a, act, {T, q_heads_, hd});
  attn_ = OwnedTensor(a, act, {T, q_heads_ * hd});
  o_ = OwnedTensor(a, act, {T, H});
  router_logits_ = OwnedTensor(a, DType::F32, {T, c.num_experts});
  topk_w_ = OwnedTensor(a, DType::F32, {T, c.num_experts_per_tok});
  topk_ids_ = OwnedTensor(a, DType::I32, {T, c.num_experts_per_tok});
  moe_out_ = OwnedTensor(a, act, {T, H});
}

void Qwen3MoeModel::embed(const Tensor& ids, const AttentionBatch& b) {
  const int64_t T = b.num_tokens;
  ROTOR_CHECK(T > 0 && T <= limits_.max_tokens && ids.numel() == T, "forward: {} tokens (at most {})", T,
              limits_.max_tokens);
  const Tensor h = residual_.tensor.rows(0, T);
  if (!w_.shard.sharded()) return ops_.embed(ids, w_.embed, h);
  ops_.embed_shard(ids, w_.embed, w_.shard.vocab.begin, h);
  comm_.all_reduce_sum(h);
}

void Qwen3MoeModel::layer(int l, const AttentionBatch& b, const LayerKVCache& kv) {
  const ModelConfig& c = config_;
  const LayerWeights& L = w_.layers[l];
  const int64_t T = b.num_tokens, nd = b.num_decode_seqs;
  const float eps = c.rms_norm_eps, scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Tensor h = residual_.tensor.rows(0, T), x = x_.tensor.rows(0, T), qkv = qkv_.tensor.rows(0, T),
               q = q_.tensor.rows(0, T), attn = attn_.tensor.rows(0, T), o = o_.tensor.rows(0, T),
               router = router_logits_.tensor.rows(0, T), topk_w = topk_w_.tensor.rows(0, T),
               topk_ids = topk_ids_.tensor.rows(0, T), moe_out = moe_out_.tensor.rows(0, T);

  // One GEMM where q/k/v are stacked (model/stack_qkv.h), else one per part.
  const std::span<const LinearWeight> gemms =
      L.qkv_fused.weight.defined() ? std::span<const LinearWeight>(&L.qkv_fused, 1) : std::span(L.qkv);
  // The L2 weight prefetch (small decode steps): q/k/v behind the input norm, o_proj behind
  // QK-norm + RoPE and attention.
  const WeightPrefetch prefetch = prefetch_for(b);
  if (prefetch.qkv > 0.0)
    for (const LinearWeight& part : gemms) ops_.prefetch_l2(part.weight, prefetch.qkv);

  // Layer 0 normalises the embeddings; later layers first add the previous MoE output, summed
  // over ranks: h += sum(moe_out).
  const LinearInput xin = l == 0 ? linear_.rms_norm(h, L.input_norm, L.input_norm_bias, eps, Tensor{}, L.qkv, x)
                                 : linear_.reduce_rms_norm(moe_out, L.input_norm, L.input_norm_bias, eps, h, L.qkv, x);
  report(h, "attn_in", l);
  report(xin.x, "attn_norm", l);
  int64_t col = 0;
  for (const LinearWeight& part : gemms) {
    linear_(xin, part, qkv.narrow(1, col, part.out_features()));
    col += part.out_features();
  }
  if (prefetch.o > 0.0) ops_.prefetch_l2(L.o_proj.weight, prefetch.o);
  // A step of decodes only (the decode graphs' steps) in one op, which a backend may fuse.
  if (nd == T) {
    ops_.qk_norm_rope_attention_decode(qkv, L.q_norm, L.k_norm, eps, rope_.tensor, b, kv, scale, q, attn);
  } else {
    ops_.qk_norm_rope(qkv, L.q_norm, L.k_norm, eps, rope_.tensor, b, kv, q);
    if (nd > 0) ops_.attention_decode(q.rows(0, nd), kv, b, scale, attn.rows(0, nd));
    ops_.attention_prefill(q.rows(nd, T), kv, b, scale, attn.rows(nd, T));
  }
  report(attn, "attn_out", l);
  linear_(attn, L.o_proj, o);
  // h += sum(o); x = norm(h), read by the router (the experts quantise their own input).
  linear_.reduce_rms_norm(o, L.post_norm, L.post_norm_bias, eps, h, {&L.router, 1}, x);
  report(x, "ffn_norm", l);

  linear_.route(x, L.router, c.num_experts_per_tok, c.norm_topk_prob, router, topk_w, topk_ids);
  ops_.moe_experts(x, topk_w, topk_ids, L.experts, moe_out);  // summed over ranks by the next norm
  report(moe_out, "ffn_out", l);
}

void Qwen3MoeModel::finish(const AttentionBatch& b, const Tensor& rows, const Tensor& hidden) {
  const int64_t T = b.num_tokens;
  ROTOR_CHECK(rows.numel() <= limits_.max_rows && hidden.size(0) == rows.numel(), "forward: {} rows (at most {})",
              rows.numel(), limits_.max_rows);
  const Tensor x = x_.tensor.rows(0, T);
  linear_.reduce_rms_norm(moe_out_.tensor.rows(0, T), w_.final_norm, w_.final_norm_bias, config_.rms_norm_eps,
                          residual_.tensor.rows(0, T), {}, x);
  ops_.embed(rows, x, hidden);  // row gather
  report(hidden, "result_norm", -1);
}

void Qwen3MoeModel::logits(const Tensor& hidden, const Tensor& logits) {
  if (!w_.shard.sharded()) return linear_(hidden, w_.lm_head, logits);
  // Each rank writes its vocabulary columns of zeroed rows; the sum over ranks is every row.
  ops_.fill_random(logits, 0, 0.0f, 0.0f);
  linear_(hidden, w_.lm_head, logits.narrow(1, w_.shard.vocab.begin, w_.shard.vocab.size));
  comm_.all_reduce_sum(logits);
}

}  // namespace qwen3_moe
}  // namespace rotor
