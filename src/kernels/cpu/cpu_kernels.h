// kernels/cpu/cpu_kernels.h — the CPU reference ops as free functions (cpu_ops.cpp wires
// them into the Ops interface), with OpenMP. Their arguments have passed the op's contract
// (kernels/op_contract.h, checked by Ops's front); they check only what the data says (ids and
// positions in range) and what the CPU needs beyond the contract.
#pragma once
#include "core/check.h"
#include "kernels/ops.h"

namespace rotor::cpu {

// Element conversion helpers for float-like dtypes (F32, BF16, F16, F8E4M3 unscaled).
float load_f32(const void* p, DType dtype, int64_t i);
void store_f32(void* p, DType dtype, int64_t i, float v);
// dst[0, n) = src[0, n) as f32.
void row_to_f32(const void* src, DType dtype, int64_t n, float* dst);

void embed(const Tensor& ids, const Tensor& table, const Tensor& out);
void embed_shard(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out);
void rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
              const Tensor& residual);
void qk_norm_rope(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                  const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                  const Tensor& q_out);
// Attention of sequences [seq_begin, seq_end); q/out rows start at that range's first token.
void attention(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, int seq_begin,
               int seq_end, float scale, const Tensor& out);
// Decode rows [0, batch.num_decode_seqs) by batch.decode_plan's splits, merged by log-sum-exp.
void attention_decode_planned(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                              const Tensor& out);
void gemm(const Tensor& x, const LinearWeight& w, const Tensor& out);
// One thread's GEMM of contiguous f32 rows (used inside already-parallel loops).
void gemm_serial(const float* x, int64_t m, const LinearWeight& w, float* out);
// W8A8 activation quantisation of one f32 row (docs in ops.h); per-token returns the scale.
void quant_row_static(const float* x, int64_t n, float scale, float offset, int8_t* out);
float quant_row_per_token(const float* x, int64_t n, int8_t* out);
void quant_static(const Tensor& x, float scale, float offset, const Tensor& out);
void quant_per_token(const Tensor& x, const Tensor& out, const Tensor& scales);
void rms_norm_quant(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                    const Tensor& out, const Tensor& residual);
void gemm_w8a8(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out);
// One thread's int8 GEMM of contiguous rows x_q [m, K] (x_scales [m] for W8A8Dynamic) into out [m, N].
void gemm_w8a8_serial(const int8_t* x_q, const float* x_scales, int64_t m, const LinearWeight& w, float* out);
void moe_route(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
               const Tensor& topk_ids);
void moe_experts(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                 const ExpertWeights& experts, const Tensor& out);
void fill_random(const Tensor& t, uint64_t seed, float mean, float std);
void sample(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids);
void apply_penalties(const Tensor& logits, const PenaltyBatch& penalties);
void mask_tokens(const Tensor& logits, const Tensor& ids, const Tensor& start);
void apply_token_bitmask(const Tensor& logits, const Tensor& bitmask, const Tensor& rows);
void logprobs(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob, const Tensor& token_rank,
              const Tensor& top_ids, const Tensor& top_logprobs);
void copy_tokens(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index);

}  // namespace rotor::cpu
