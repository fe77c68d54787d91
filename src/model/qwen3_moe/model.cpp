// model/qwen3_moe/model.cpp — Qwen3-MoE layers: RMSNorm, fused QKV, QK-norm + RoPE into the
// paged cache, attention (decodes then prefills), o_proj, residual, router, experts; float or
// W8A8 linear layers (static int8 activations straight out of the input norm when q/k/v share them).
#include "model/qwen3_moe/model.h"
#include "core/check.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rotor {
namespace {

// True when every part is W8A8 static with the same activation scale and offset.
bool shared_static_quant(const std::vector<LinearWeight>& parts) {
  for (const LinearWeight& p : parts)
    if (p.kind != QuantKind::W8A8Static || p.input_scale != parts[0].input_scale ||
        p.input_offset != parts[0].input_offset)
      return false;
  return !parts.empty();
}

}  // namespace

Qwen3MoeModel::Qwen3MoeModel(const ModelConfig& c, const ModelWeights& w, Ops& ops, Communicator& comm,
                             int max_tokens, int max_rows, int max_positions)
    : config_(c), w_(w), ops_(ops), comm_(comm), max_tokens_(max_tokens), max_rows_(max_rows) {
  const int tp = comm.world_size();
  ROTOR_CHECK(c.num_heads % tp == 0, "tensor parallel {} does not divide {} attention heads", tp, c.num_heads);
  ROTOR_CHECK(c.num_kv_heads % tp == 0 || tp % c.num_kv_heads == 0,
              "tensor parallel {} and {} KV heads: neither divides the other", tp, c.num_kv_heads);
  q_heads_ = c.num_heads / tp;
  kv_heads_ = std::max(1, c.num_kv_heads / tp);
  ROTOR_CHECK(static_cast<int>(w.layers.size()) == c.num_layers, "weights hold {} layers, config {}", w.layers.size(),
              c.num_layers);

  Allocator& a = ops.allocator();
  const DType act = ops.act_dtype();
  const int64_t T = max_tokens, H = c.hidden_size, hd = c.head_dim;
  rope_ = OwnedTensor(a, DType::F32, {max_positions, hd});
  const std::vector<float> table = rope_table(max_positions, static_cast<int>(hd), c.rope_theta, c.rope_scaling);
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

  bool quantized = w.lm_head.quantized();
  for (const LayerWeights& L : w.layers) {
    qkv_fused_quant_.push_back(shared_static_quant(L.qkv));
    for (const LinearWeight& p : L.qkv) quantized |= p.quantized();
    quantized |= L.o_proj.quantized() || L.router.quantized();
  }
  if (quantized) {
    const int64_t rows = std::max(max_tokens, max_rows), k = std::max<int64_t>(H, c.q_size());
    xq_ = OwnedTensor(a, DType::I8, {rows, k});
    xq_scales_ = OwnedTensor(a, DType::F32, {rows});
  }
}

Tensor Qwen3MoeModel::quant_scratch(int64_t m, int64_t k) const {
  ROTOR_CHECK(xq_.tensor.defined() && m <= xq_.tensor.size(0) && k <= xq_.tensor.size(1),
              "model: no int8 scratch for [{}, {}] activations", m, k);
  return xq_.buffer.as(DType::I8, {m, k});
}

void Qwen3MoeModel::linear(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  if (!w.quantized()) return ops_.gemm(x, w, out);
  const int64_t m = x.size(0);
  const Tensor xq = quant_scratch(m, x.size(1));
  if (w.kind == QuantKind::W8A8Static) {
    ops_.quant_static(x, w.input_scale, w.input_offset, xq);
    ops_.gemm_w8a8(xq, Tensor{}, w, out);
  } else {
    const Tensor scales = xq_scales_.tensor.rows(0, m);
    ops_.quant_per_token(x, xq, scales);
    ops_.gemm_w8a8(xq, scales, w, out);
  }
}

void Qwen3MoeModel::forward(const Tensor& ids, const AttentionBatch& b, std::span<const LayerKVCache> kv,
                            const Tensor& rows, const Tensor& hidden) {
  const ModelConfig& c = config_;
  const int64_t T = b.num_tokens, nd = b.num_decode_seqs;
  ROTOR_CHECK(T > 0 && T <= max_tokens_, "forward: {} tokens (at most {})", T, max_tokens_);
  ROTOR_CHECK(rows.numel() <= max_rows_ && hidden.size(0) == rows.numel(), "forward: {} rows (at most {})",
              rows.numel(), max_rows_);
  ROTOR_CHECK(static_cast<int>(kv.size()) == c.num_layers, "forward: {} KV caches for {} layers", kv.size(),
              c.num_layers);
  const float eps = c.rms_norm_eps, scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Tensor h = residual_.tensor.rows(0, T), x = x_.tensor.rows(0, T), qkv = qkv_.tensor.rows(0, T),
               q = q_.tensor.rows(0, T), attn = attn_.tensor.rows(0, T), o = o_.tensor.rows(0, T),
               router = router_logits_.tensor.rows(0, T), topk_w = topk_w_.tensor.rows(0, T),
               topk_ids = topk_ids_.tensor.rows(0, T), moe_out = moe_out_.tensor.rows(0, T);

  ops_.embed(ids, w_.embed, h);
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = w_.layers[l];
    // Layer 0 normalises the embeddings; later layers first add the previous MoE output (summed
    // over ranks): h += moe_out.
    int64_t col = 0;
    if (qkv_fused_quant_[l]) {  // W8A8: the norm writes the int8 activation q, k and v share
      const Tensor xq = quant_scratch(T, c.hidden_size);
      const StaticQuant q{L.qkv[0].input_scale, L.qkv[0].input_offset};
      if (l == 0) ops_.rms_norm_quant(h, L.input_norm, L.input_norm_bias, eps, q.scale, q.offset, xq, Tensor{});
      else reduce_norm(moe_out, L.input_norm, L.input_norm_bias, xq, h, q);
      for (const LinearWeight& part : L.qkv) {
        ops_.gemm_w8a8(xq, Tensor{}, part, qkv.narrow(1, col, part.out_features()));
        col += part.out_features();
      }
    } else {
      if (l == 0) ops_.rms_norm(h, L.input_norm, L.input_norm_bias, eps, x, Tensor{});
      else reduce_norm(moe_out, L.input_norm, L.input_norm_bias, x, h);
      for (const LinearWeight& part : L.qkv) {
        linear(x, part, qkv.narrow(1, col, part.out_features()));
        col += part.out_features();
      }
    }
    ops_.qk_norm_rope(qkv, L.q_norm, L.k_norm, eps, rope_.tensor, b, kv[l], q);
    if (nd > 0) ops_.attention_decode(q.rows(0, nd), kv[l], b, scale, attn.rows(0, nd));
    if (T > nd) ops_.attention_prefill(q.rows(nd, T), kv[l], b, scale, attn.rows(nd, T));
    linear(attn, L.o_proj, o);
    reduce_norm(o, L.post_norm, L.post_norm_bias, x, h);  // h += sum of o; x = norm(h)

    linear(x, L.router, router);
    ops_.moe_route(router, c.num_experts_per_tok, c.norm_topk_prob, topk_w, topk_ids);
    ops_.moe_experts(x, topk_w, topk_ids, L.experts, moe_out);  // summed over ranks by the next norm
  }
  reduce_norm(moe_out, w_.final_norm, w_.final_norm_bias, x, h);
  ops_.embed(rows, x, hidden);  // row gather
}

void Qwen3MoeModel::reduce_norm(const Tensor& partial, const Tensor& w, const Tensor& bias, const Tensor& out,
                                const Tensor& residual, std::optional<StaticQuant> quant) {
  const float eps = config_.rms_norm_eps;
  if (comm_.world_size() > 1 && comm_.all_reduce_rms_norm({partial, residual, w, bias, eps, out, quant})) return;
  comm_.all_reduce_sum(partial);
  if (quant) ops_.rms_norm_quant(partial, w, bias, eps, quant->scale, quant->offset, out, residual);
  else ops_.rms_norm(partial, w, bias, eps, out, residual);
}

void Qwen3MoeModel::logits(const Tensor& hidden, const Tensor& logits) { linear(hidden, w_.lm_head, logits); }

}  // namespace rotor
