// kernels/op_contract.h — the one home of each op's argument contract (ops.h says what the ops
// compute; these say what they accept): shapes, dtypes, layouts and devices, checked once by
// Ops's front before any backend runs, with errors that name the op, the argument and the
// property. A backend checks only its own limits beyond these (the GPU's bf16 activations,
// alignment, head_dim 64/128, ...). The thread communicator's fused norm runs the CPU norm
// itself and checks its arguments here too.
#pragma once
#include "kernels/ops.h"

namespace rotor::contract {

// A linear layer's weight [N, K]: float (kind None) with unit-stride rows and an optional float
// bias [N]; or quantized: i8 contiguous, K small enough for exact i32 sums, and the scales of
// its kind.
void check_linear(const char* op, const LinearWeight& w, int64_t N, int64_t K, const Device& d);

void check_embed(const Device& d, const Tensor& ids, const Tensor& table, const Tensor& out);
void check_embed_shard(const Device& d, const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out);
void check_rms_norm(const Device& d, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                    const Tensor& residual);
void check_qk_norm_rope(const Device& d, const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w,
                        const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                        const Tensor& q_out);
// decode: q holds the batch's decode tokens; else its prefill tokens.
void check_attention(const char* op, bool decode, const Device& d, const Tensor& q, const LayerKVCache& cache,
                     const AttentionBatch& batch, const Tensor& out);
// qk_norm_rope's contract (q_scratch its q_out) and attention_decode's (q_scratch its q) on a
// batch of decode rows only.
void check_qk_norm_rope_attention_decode(const Device& d, const Tensor& qkv, const Tensor& q_norm_w,
                                         const Tensor& k_norm_w, const Tensor& rope_cos_sin,
                                         const AttentionBatch& batch, const LayerKVCache& cache,
                                         const Tensor& q_scratch, const Tensor& out);
void check_gemm(const Device& d, const Tensor& x, const LinearWeight& w, const Tensor& out);
void check_quant_static(const Device& d, const Tensor& x, float scale, float offset, const Tensor& out);
void check_quant_per_token(const Device& d, const Tensor& x, const Tensor& out, const Tensor& scales);
void check_rms_norm_quant(const Device& d, const Tensor& x, const Tensor& w, const Tensor& bias, float scale,
                          float offset, const Tensor& out, const Tensor& residual);
void check_linear_w8a8_static(const Device& d, const Tensor& x, const LinearWeight& w, const Tensor& xq,
                              const Tensor& out);
void check_gemm_w8a8(const Device& d, const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w,
                     const Tensor& out);
void check_moe_route(const Device& d, const Tensor& logits, int top_k, const Tensor& topk_weights,
                     const Tensor& topk_ids);
void check_route_experts(const Device& d, const Tensor& x, const LinearWeight& router, int top_k, const Tensor& logits,
                         const Tensor& topk_weights, const Tensor& topk_ids);
void check_moe_experts(const Device& d, const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                       const ExpertWeights& experts, const Tensor& out);
void check_fill_random(const Device& d, const Tensor& t);
void check_sample(const Device& d, const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids);
void check_apply_penalties(const Device& d, const Tensor& logits, const PenaltyBatch& penalties);
void check_mask_tokens(const Device& d, const Tensor& logits, const Tensor& ids, const Tensor& start);
void check_apply_token_bitmask(const Device& d, const Tensor& logits, const Tensor& bitmask, const Tensor& rows);
void check_logprobs(const Device& d, const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                    const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs);
void check_copy_tokens(const Device& d, const Tensor& src, const Tensor& src_index, const Tensor& dst,
                       const Tensor& dst_index);

}  // namespace rotor::contract
