// kernels/cpu/cpu_ops.cpp — the CPU backend: the Ops interface over the reference kernels.
#include <omp.h>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor {
namespace {

class CpuOps final : public Ops {
 public:
  explicit CpuOps(int num_threads) : num_threads_(num_threads) {}
  Device device() const override { return {}; }
  DType act_dtype() const override { return DType::F32; }
  Allocator& allocator() override { return cpu_allocator(); }
  void synchronize() override {}
  // OpenMP's thread count is a setting of the calling thread (its parallel regions).
  void make_current() override {
    if (num_threads_ > 0) omp_set_num_threads(num_threads_);
  }

 private:
  // The ops, their arguments checked by Ops's front.
  void embed_impl(const Tensor& ids, const Tensor& table, const Tensor& out) override { cpu::embed(ids, table, out); }
  void embed_shard_impl(const Tensor& ids, const Tensor& table, int64_t first, const Tensor& out) override {
    cpu::embed_shard(ids, table, first, out);
  }
  void rms_norm_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
                     const Tensor& residual) override {
    cpu::rms_norm(x, w, bias, eps, out, residual);
  }
  void qk_norm_rope_impl(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                         const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                         const Tensor& q_out) override {
    cpu::qk_norm_rope(qkv, q_norm_w, k_norm_w, eps, rope_cos_sin, batch, cache, q_out);
  }
  void attention_decode_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                             const Tensor& out) override {
    if (batch.decode_plan.defined()) cpu::attention_decode_planned(q, cache, batch, scale, out);
    else cpu::attention(q, cache, batch, 0, batch.num_decode_seqs, scale, out);
  }
  // A planned decode runs its (item, query head) pairs in parallel: up to 64 items give any
  // CPU's threads several each; splits as short as one tile, as long as the GPU's fixed ones.
  DecodeSplitParams decode_split_params(int, int, int, bool) const override { return {64, kDecodeSplitAlign, 2048}; }
  void attention_prefill_impl(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                              const Tensor& out) override {
    cpu::attention(q, cache, batch, batch.num_decode_seqs, batch.num_seqs, scale, out);
  }
  void gemm_impl(const Tensor& x, const LinearWeight& w, const Tensor& out) override { cpu::gemm(x, w, out); }
  void quant_static_impl(const Tensor& x, float scale, float offset, const Tensor& out) override {
    cpu::quant_static(x, scale, offset, out);
  }
  void quant_per_token_impl(const Tensor& x, const Tensor& out, const Tensor& scales) override {
    cpu::quant_per_token(x, out, scales);
  }
  void rms_norm_quant_impl(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                           const Tensor& out, const Tensor& residual) override {
    cpu::rms_norm_quant(x, w, bias, eps, scale, offset, out, residual);
  }
  void gemm_w8a8_impl(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) override {
    cpu::gemm_w8a8(x_q, x_scales, w, out);
  }
  // The two ops in sequence: their bits.
  void linear_w8a8_static_impl(const Tensor& x, const LinearWeight& w, const Tensor& xq, const Tensor& out) override {
    cpu::quant_static(x, w.input_scale, w.input_offset, xq);
    cpu::gemm_w8a8(xq, Tensor{}, w, out);
  }
  void moe_route_impl(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
                      const Tensor& topk_ids) override {
    cpu::moe_route(logits, top_k, renormalize, topk_weights, topk_ids);
  }
  // The two ops in sequence: their bits.
  void route_experts_impl(const Tensor& x, const LinearWeight& router, int top_k, bool renormalize,
                          const Tensor& logits, const Tensor& topk_weights, const Tensor& topk_ids) override {
    cpu::gemm(x, router, logits);
    cpu::moe_route(logits, top_k, renormalize, topk_weights, topk_ids);
  }
  void moe_experts_impl(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids,
                        const ExpertWeights& experts, const Tensor& out) override {
    cpu::moe_experts(x, topk_weights, topk_ids, experts, out);
  }
  void fill_random_impl(const Tensor& t, uint64_t seed, float mean, float std) override {
    cpu::fill_random(t, seed, mean, std);
  }
  void sample_impl(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) override {
    cpu::sample(logits, params, out_ids);
  }
  void apply_penalties_impl(const Tensor& logits, const PenaltyBatch& penalties) override {
    cpu::apply_penalties(logits, penalties);
  }
  void mask_tokens_impl(const Tensor& logits, const Tensor& ids, const Tensor& start) override {
    cpu::mask_tokens(logits, ids, start);
  }
  void apply_token_bitmask_impl(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) override {
    cpu::apply_token_bitmask(logits, bitmask, rows);
  }
  void logprobs_impl(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob,
                     const Tensor& token_rank, const Tensor& top_ids, const Tensor& top_logprobs) override {
    cpu::logprobs(logits, token_ids, token_logprob, token_rank, top_ids, top_logprobs);
  }
  void copy_tokens_impl(const Tensor& src, const Tensor& src_index, const Tensor& dst,
                        const Tensor& dst_index) override {
    cpu::copy_tokens(src, src_index, dst, dst_index);
  }

  int num_threads_;
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops(int num_threads) { return std::make_unique<CpuOps>(num_threads); }

}  // namespace rotor
