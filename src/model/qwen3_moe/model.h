// model/qwen3_moe/model.h — the Qwen3-MoE forward pass, written once against kernels/ops.h
// and comm/communicator.h: batched (many sequences at different positions), through the
// paged KV cache, on whichever backend `ops` is.
#pragma once
#include <optional>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/rope.h"
#include "model/weights.h"

namespace rotor {

class Qwen3MoeModel {
 public:
  // max_tokens: most new tokens in one forward; max_rows: most hidden rows asked back;
  // max_positions: size of the RoPE table (the longest context served).
  Qwen3MoeModel(const ModelConfig& config, const ModelWeights& weights, Ops& ops, Communicator& comm, int max_tokens,
                int max_rows, int max_positions);

  const ModelConfig& config() const { return config_; }
  int num_kv_heads_local() const { return kv_heads_; }

  // Runs every layer over the batch's new tokens ids [T] i32, writing k/v into `kv` (one
  // cache per layer), and returns in hidden [N, H] the final-normed rows rows [N] i32.
  void forward(const Tensor& ids, const AttentionBatch& batch, std::span<const LayerKVCache> kv, const Tensor& rows,
               const Tensor& hidden);
  // logits [n, V] f32 of final-normed hidden rows [n, H].
  void logits(const Tensor& hidden, const Tensor& logits);

 private:
  // out = x W^T for any weight kind: quantized ones quantise x into the scratch first.
  void linear(const Tensor& x, const LinearWeight& w, const Tensor& out);
  // A reduction point: residual += sum over ranks of `partial`, then out = the norm of the
  // residual (int8 with quant): the communicator's fused form where it has one, else
  // all_reduce_sum + the norm op.
  void reduce_norm(const Tensor& partial, const Tensor& w, const Tensor& bias, const Tensor& out,
                   const Tensor& residual, std::optional<StaticQuant> quant = std::nullopt);
  // A [m, k] i8 view of the quantisation scratch.
  Tensor quant_scratch(int64_t m, int64_t k) const;

  ModelConfig config_;
  const ModelWeights& w_;
  Ops& ops_;
  Communicator& comm_;
  int q_heads_, kv_heads_;       // per rank
  int max_tokens_, max_rows_;
  OwnedTensor rope_;              // [max_positions, hd] f32: cos | sin
  // Activations, [max_tokens, ...] in ops.act_dtype() unless noted.
  OwnedTensor residual_, x_, qkv_, q_, attn_, o_, router_logits_ /* f32 */, topk_w_ /* f32 */, topk_ids_ /* i32 */,
      moe_out_;
  // W8A8: per layer, whether q/k/v are static-quantized with one shared input scale and offset
  // (then the input norm writes int8 directly); the int8 activations [rows, max K] and the
  // per-token scales [rows] f32 of quantized linear layers (allocated only for W8A8 weights).
  std::vector<bool> qkv_fused_quant_;
  OwnedTensor xq_, xq_scales_;
};

}  // namespace rotor
