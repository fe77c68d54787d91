// kernels/ops.cpp — Ops's front: every op checks its arguments against its contract
// (op_contract.h), then runs the backend's implementation; the default implementation of the
// ops a backend may fuse (qk_norm_rope_attention_decode: its two ops in turn).
#include "kernels/ops.h"

#include "kernels/op_contract.h"

namespace rotor {

using namespace contract;

void Ops::embed(const Tensor& ids, const Tensor& table, const Tensor& out) {
  check_embed(device(), ids, table, out);
  embed_impl(ids, table, out);
}

void Ops::embed_shard(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) {
  check_embed_shard(device(), ids, table, first, out);
  embed_shard_impl(ids, table, first, out);
}

void Ops::rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                   const Tensor& residual) {
  check_rms_norm(device(), x, w, bias, out, residual);
  rms_norm_impl(x, w, bias, eps, out, residual);
}

void Ops::qk_norm_rope(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                       const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                       const Tensor& q_out) {
  check_qk_norm_rope(device(), qkv, q_norm_w, k_norm_w, rope_cos_sin, batch, cache, q_out);
  qk_norm_rope_impl(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, q_out);
}

void Ops::attention_decode(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                           const Tensor& out) {
  check_attention("attention_decode", true, device(), q, cache, batch, out);
  attention_decode_impl(q, cache, batch, scale, out);
}

void Ops::attention_prefill(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                            const Tensor& out) {
  check_attention("attention_prefill", false, device(), q, cache, batch, out);
  attention_prefill_impl(q, cache, batch, scale, out);
}

void Ops::qk_norm_rope_attention_decode(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                                        const Tensor& rope_cos_sin, const AttentionBatch& batch,
                                        const LayerKVCache& cache, float scale, const Tensor& q_scratch,
                                        const Tensor& out) {
  check_qk_norm_rope_attention_decode(device(), qkv, q_norm_w, k_norm_w, rope_cos_sin, batch, cache, q_scratch, out);
  qk_norm_rope_attention_decode_impl(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, scale, q_scratch, out);
}

void Ops::qk_norm_rope_attention_decode_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w,
                                             float eps, const Tensor& rope_cos_sin, const AttentionBatch& batch,
                                             const LayerKVCache& cache, float scale, const Tensor& q_scratch,
                                             const Tensor& out) {
  qk_norm_rope_impl(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, q_scratch);
  attention_decode_impl(q_scratch, cache, batch, scale, out);
}

void Ops::gemm(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  check_gemm(device(), x, w, out);
  gemm_impl(x, w, out);
}

void Ops::quant_static(const Tensor& x, float scale, float offset, const Tensor& out) {
  check_quant_static(device(), x, scale, offset, out);
  quant_static_impl(x, scale, offset, out);
}

void Ops::quant_per_token(const Tensor& x, const Tensor& out, const Tensor& scales) {
  check_quant_per_token(device(), x, out, scales);
  quant_per_token_impl(x, out, scales);
}

void Ops::rms_norm_quant(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                         const Tensor& out, const Tensor& residual) {
  check_rms_norm_quant(device(), x, w, bias, scale, offset, out, residual);
  rms_norm_quant_impl(x, w, bias, eps, scale, offset, out, residual);
}

void Ops::gemm_w8a8(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) {
  check_gemm_w8a8(device(), x_q, x_scales, w, out);
  gemm_w8a8_impl(x_q, x_scales, w, out);
}

void Ops::linear_w8a8_static(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out) {
  check_linear_w8a8_static(device(), x, w, xq, out);
  linear_w8a8_static_impl(x, w, xq, out);
}

void Ops::moe_route(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                    const Tensor& topk_ids) {
  check_moe_route(device(), logits, top_k, topk_weights, topk_ids);
  moe_route_impl(logits, top_k, renormalize, topk_weights, topk_ids);
}

void Ops::route_experts(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize, const Tensor& logits,
                        const Tensor& topk_weights, const Tensor& topk_ids) {
  check_route_experts(device(), x, router, top_k, logits, topk_weights, topk_ids);
  route_experts_impl(x, router, top_k, renormalize, logits, topk_weights, topk_ids);
}

void Ops::moe_experts(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                      const ExpertWeights& experts, const Tensor& out) {
  check_moe_experts(device(), x, topk_weights, topk_ids, experts, out);
  moe_experts_impl(x, topk_weights, topk_ids, experts, out);
}

void Ops::fill_random(const Tensor& t, uint64_t seed, float mean, float std) {
  check_fill_random(device(), t);
  fill_random_impl(t, seed, mean, std);
}

void Ops::sample(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) {
  check_sample(device(), logits, params, out_ids);
  sample_impl(logits, params, out_ids);
}

void Ops::apply_penalties(const Tensor& logits, const PenaltyBatch& penalties) {
  check_apply_penalties(device(), logits, penalties);
  apply_penalties_impl(logits, penalties);
}

void Ops::mask_tokens(const Tensor& logits, const Tensor& ids, const Tensor& start) {
  check_mask_tokens(device(), logits, ids, start);
  mask_tokens_impl(logits, ids, start);
}

void Ops::apply_token_bitmask(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) {
  check_apply_token_bitmask(device(), logits, bitmask, rows);
  apply_token_bitmask_impl(logits, bitmask, rows);
}

void Ops::logprobs(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                   const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) {
  check_logprobs(device(), logits, token_ids, token_logprob, token_rank, top_ids, top_logprobs);
  logprobs_impl(logits, token_ids, token_logprob, token_rank, top_ids, top_logprobs);
}

void Ops::copy_tokens(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index) {
  check_copy_tokens(device(), src, src_index, dst, dst_index);
  copy_tokens_impl(src, src_index, dst, dst_index);
}

}  // namespace rotor
