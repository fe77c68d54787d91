// model/quantize/calibration.cpp — batch metadata for the calibration sequences (all prefill,
// consecutive KV blocks) and the layer pieces of the float forward on the CPU ops.
#include "model/quantize/calibration.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "model/qwen3_moe/model.h"

namespace rotor {

FloatLinear::FloatLinear(const std::vector<double>& w, int64_t n, int64_t k, const std::vector<double>& b) {
  weight = OwnedTensor(cpu_allocator(), DType::F32, {n, k});
  for (int64_t i = 0; i < n * k; ++i) weight.tensor.data<float>()[i] = static_cast<float>(w[i]);
  lw.weight = weight.tensor;
  if (!b.empty()) {
    bias = OwnedTensor(cpu_allocator(), DType::F32, {n});
    for (int64_t i = 0; i < n; ++i) bias.tensor.data<float>()[i] = static_cast<float>(b[i]);
    lw.bias = bias.tensor;
  }
}

CalibrationForward::CalibrationForward(Ops& ops, const ModelConfig& c, std::vector<std::vector<int32_t>> seqs)
    : ops_(ops), c_(c) {
  ROTOR_CHECK(!seqs.empty(), "calibration: no sequences");
  constexpr int kBlock = 16;
  const int S = static_cast<int>(seqs.size());
  int max_len = 0, blocks = 0;
  for (const auto& s : seqs) {
    ROTOR_CHECK(!s.empty(), "calibration: an empty sequence");
    for (int32_t id : s)
      ROTOR_CHECK(id >= 0 && id < c.vocab_size, "calibration: token {} outside the vocabulary ({})", id, c.vocab_size);
    max_len = std::max(max_len, static_cast<int>(s.size()));
    blocks += (static_cast<int>(s.size()) + kBlock - 1) / kBlock;
    ids_.insert(ids_.end(), s.begin(), s.end());
  }
  T_ = static_cast<int64_t>(ids_.size());
  const int max_blocks = (max_len + kBlock - 1) / kBlock;
  Allocator& a = cpu_allocator();
  positions_ = OwnedTensor(a, DType::I32, {T_});
  slots_ = OwnedTensor(a, DType::I32, {T_});
  query_start_ = OwnedTensor(a, DType::I32, {S + 1});
  seq_lens_ = OwnedTensor(a, DType::I32, {S});
  block_tables_ = OwnedTensor(a, DType::I32, {S, max_blocks});
  int64_t t = 0;
  int block = 0;
  query_start_.tensor.data<int32_t>()[0] = 0;
  for (int s = 0; s < S; ++s) {
    const int len = static_cast<int>(seqs[s].size()), first = block;
    for (int b = 0; b < max_blocks; ++b)
      block_tables_.tensor.data<int32_t>()[s * max_blocks + b] = b * kBlock < len ? block++ : 0;
    for (int p = 0; p < len; ++p, ++t) {
      positions_.tensor.data<int32_t>()[t] = p;
      slots_.tensor.data<int32_t>()[t] = first * kBlock + p;
    }
    seq_lens_.tensor.data<int32_t>()[s] = len;
    query_start_.tensor.data<int32_t>()[s + 1] = static_cast<int32_t>(t);
  }
  batch_.num_tokens = static_cast<int>(T_);
  batch_.num_seqs = S;
  batch_.num_decode_seqs = 0;
  batch_.max_query_len = max_len;
  batch_.max_seq_len = max_len;
  batch_.block_size = kBlock;
  batch_.positions = positions_.tensor;
  batch_.slot_mapping = slots_.tensor;
  batch_.query_start = query_start_.tensor;
  batch_.seq_lens = seq_lens_.tensor;
  batch_.block_tables = block_tables_.tensor;

  const int64_t H = c.hidden_size, hd = c.head_dim;
  h_ = OwnedTensor(a, DType::F32, {T_, H});
  x_ = OwnedTensor(a, DType::F32, {T_, H});
  qkv_ = OwnedTensor(a, DType::F32, {T_, c.qkv_size()});
  q_ = OwnedTensor(a, DType::F32, {T_, c.num_heads, hd});
  attn_ = OwnedTensor(a, DType::F32, {T_, c.q_size()});
  moe_ = OwnedTensor(a, DType::F32, {T_, H});
  std::fill_n(moe_.tensor.data<float>(), T_ * H, 0.0f);
  k_cache_ = OwnedTensor(a, DType::F32, {blocks, c.num_kv_heads, kBlock, hd});
  v_cache_ = OwnedTensor(a, DType::F32, {blocks, c.num_kv_heads, kBlock, hd});
  const std::vector<float> rope = rope_table(max_len, static_cast<int>(hd), c.rope_theta, c.rope_scaling);
  rope_ = OwnedTensor(a, DType::F32, {max_len, hd});
  std::copy(rope.begin(), rope.end(), rope_.tensor.data<float>());
  expert_tokens_.resize(c.num_experts);
  expert_weights_.resize(c.num_experts);
}

const Tensor& CalibrationForward::norm(const std::vector<float>& w, const std::vector<float>& b) {
  const int64_t H = c_.hidden_size;
  Tensor wt(const_cast<float*>(w.data()), DType::F32, {H});
  Tensor bt = b.empty() ? Tensor{} : Tensor(const_cast<float*>(b.data()), DType::F32, {H});
  ops_.rms_norm(h_.tensor, wt, bt, c_.rms_norm_eps, x_.tensor, Tensor{});
  return x_.tensor;
}

const Tensor& CalibrationForward::attention(const Tensor& x, const LinearWeight& q, const LinearWeight& k,
                                            const LinearWeight& v, const Tensor& q_norm, const Tensor& k_norm) {
  ops_.gemm(x, q, qkv_.tensor.narrow(1, 0, c_.q_size()));
  ops_.gemm(x, k, qkv_.tensor.narrow(1, c_.q_size(), c_.kv_size()));
  ops_.gemm(x, v, qkv_.tensor.narrow(1, c_.q_size() + c_.kv_size(), c_.kv_size()));
  const LayerKVCache cache{k_cache_.tensor, v_cache_.tensor};
  ops_.qk_norm_rope(qkv_.tensor, q_norm, k_norm, c_.rms_norm_eps, rope_.tensor, batch_, cache, q_.tensor);
  ops_.attention_prefill(q_.tensor, cache, batch_, 1.0f / std::sqrt(static_cast<float>(c_.head_dim)), attn_.tensor);
  return attn_.tensor;
}

const Tensor& CalibrationForward::linear(const Tensor& x, const LinearWeight& w) {
  y_ = OwnedTensor(cpu_allocator(), DType::F32, {x.size(0), w.out_features()});
  ops_.gemm(x, w, y_.tensor);
  return y_.tensor;
}

void CalibrationForward::add_to_residual(const Tensor& y) {
  float* h = h_.tensor.data<float>();
  const float* d = y.data<float>();
  for (int64_t i = 0; i < h_.tensor.numel(); ++i) h[i] += d[i];
}

void CalibrationForward::route(const Tensor& logits) {
  const int k = c_.num_experts_per_tok;
  OwnedTensor w(cpu_allocator(), DType::F32, {T_, k}), ids(cpu_allocator(), DType::I32, {T_, k});
  ops_.moe_route(logits, k, c_.norm_topk_prob, w.tensor, ids.tensor);
  for (auto& v : expert_tokens_) v.clear();
  for (auto& v : expert_weights_) v.clear();
  for (int64_t t = 0; t < T_; ++t)
    for (int j = 0; j < k; ++j) {
      const int e = ids.tensor.data<int32_t>()[t * k + j];
      expert_tokens_[e].push_back(t);
      expert_weights_[e].push_back(w.tensor.data<float>()[t * k + j]);
    }
}

void CalibrationForward::expert(const Tensor& x, int e, const LinearWeight& gate, const LinearWeight& up,
                                const LinearWeight& down) {
  const std::vector<int64_t>& rows = expert_tokens_[e];
  if (rows.empty()) return;
  const int64_t n = static_cast<int64_t>(rows.size()), H = c_.hidden_size, I = gate.out_features();
  Allocator& a = cpu_allocator();
  OwnedTensor xs(a, DType::F32, {n, H}), g(a, DType::F32, {n, I}), u(a, DType::F32, {n, I}), d(a, DType::F32, {n, H});
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(x.data<float>() + rows[i] * H, H, xs.tensor.data<float>() + i * H);
  ops_.gemm(xs.tensor, gate, g.tensor);
  ops_.gemm(xs.tensor, up, u.tensor);
  float* gp = g.tensor.data<float>();
  const float* up_ = u.tensor.data<float>();
  for (int64_t i = 0; i < n * I; ++i) gp[i] = gp[i] / (1.0f + std::exp(-gp[i])) * up_[i];
  ops_.gemm(g.tensor, down, d.tensor);
  for (int64_t i = 0; i < n; ++i) {
    float* m = moe_.tensor.data<float>() + rows[i] * H;
    const float* dr = d.tensor.data<float>() + i * H;
    for (int64_t k = 0; k < H; ++k) m[k] += expert_weights_[e][i] * dr[k];
  }
}

void CalibrationForward::finish_moe() {
  add_to_residual(moe_.tensor);
  std::fill_n(moe_.tensor.data<float>(), moe_.tensor.numel(), 0.0f);
}

std::vector<int64_t> CalibrationForward::last_rows() const {
  std::vector<int64_t> r;
  for (int s = 0; s < batch_.num_seqs; ++s) r.push_back(query_start_.tensor.data<int32_t>()[s + 1] - 1);
  return r;
}

}  // namespace rotor
