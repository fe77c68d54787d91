// model/quantize/calibration.h — the float forward pass over the calibration sequences, driven
// one layer (and one expert) at a time by the quantizer, so it never needs more than one
// layer's weights: the residual stream h [T, H] of every calibration token persists between
// calls. Runs on the CPU ops; one KV cache layer is reused by every layer.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/ops.h"
#include "model/config.h"

namespace rotor {

// An f32 linear layer made from a double matrix (and an optional bias), for the ops.
struct FloatLinear {
  OwnedTensor weight, bias;
  LinearWeight lw;
  FloatLinear(const std::vector<double>& w, int64_t n, int64_t k, const std::vector<double>& b = {});
};

class CalibrationForward {
 public:
  CalibrationForward(Ops& ops, const ModelConfig& config, std::vector<std::vector<int32_t>> sequences);

  int64_t tokens() const { return T_; }
  const std::vector<int32_t>& ids() const { return ids_; }  // [T] every token, sequences concatenated
  // h [T, H] f32, the residual stream; the embedding rows are written here first.
  const Tensor& residual() const { return h_.tensor; }
  // x [T, H] = rms_norm(h) * w (+ b); w, b f32 [H] (b empty = none).
  const Tensor& norm(const std::vector<float>& w, const std::vector<float>& b);
  // Attention of x through q/k/v (with their biases), QK-norm and RoPE: attn [T, Hq * hd].
  const Tensor& attention(const Tensor& x, const LinearWeight& q, const LinearWeight& k, const LinearWeight& v,
                          const Tensor& q_norm, const Tensor& k_norm);
  // y [T, N] = x W^T through a float linear layer (into a scratch buffer).
  const Tensor& linear(const Tensor& x, const LinearWeight& w);
  void add_to_residual(const Tensor& y);
  // Routing of x through the router logits [T, E]: top-k weights and ids.
  void route(const Tensor& router_logits);
  // Tokens routed to expert e and their weights.
  const std::vector<int64_t>& expert_tokens(int e) const { return expert_tokens_[e]; }
  const std::vector<float>& expert_weights(int e) const { return expert_weights_[e]; }
  // moe [T, H] += weight * down(silu(gate(x)) * up(x)) for the tokens routed to one expert.
  void expert(const Tensor& x, int e, const LinearWeight& gate, const LinearWeight& up, const LinearWeight& down);
  // h += moe, then moe = 0.
  void finish_moe();
  // Rows of the last token of each sequence.
  std::vector<int64_t> last_rows() const;

 private:
  Ops& ops_;
  ModelConfig c_;
  int64_t T_ = 0;
  std::vector<int32_t> ids_;
  OwnedTensor h_, x_, qkv_, q_, attn_, y_, moe_, rope_, k_cache_, v_cache_;
  OwnedTensor positions_, slots_, query_start_, seq_lens_, block_tables_;
  AttentionBatch batch_;
  std::vector<std::vector<int64_t>> expert_tokens_;
  std::vector<std::vector<float>> expert_weights_;
};

}  // namespace rotor
