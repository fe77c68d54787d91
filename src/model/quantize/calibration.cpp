// model/quantize/calibration.cpp — batch metadata for the calibration sequences (all prefill,
// consecutive KV blocks), their embedding table, and the model driven layer by layer.
#include "model/quantize/calibration.h"

#include <algorithm>

#include "core/check.h"

namespace rotor {

FloatLinear::FloatLinear(const std::vector<double>& w, int64_t n, int64_t k, const std::vector<double>& b) {
  weight = OwnedTensor(cpu_allocator(), DType::F32, {n, k});
  for (int64_t i = 0; i < n * k; ++i) weight.tensor.data<float>()[i] = static_cast<float>(w[i]);
  lw.weight = weight.tensor;
  if (!b.empty()) {
    bias = float_vector(b);
    lw.bias = bias.tensor;
  }
}

OwnedTensor float_vector(const std::vector<double>& v) {
  OwnedTensor t(cpu_allocator(), DType::F32, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.tensor.data<float>());
  return t;
}

CalibrationForward::CalibrationForward(Ops& ops, const ModelConfig& c, std::vector<std::vector<int32_t>> seqs)
    : ops_(ops), c_(c), comm_(make_local_comm()) {
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

  // The embedding table holds the distinct calibration ids only; the model reads it through
  // their indices in it.
  const int64_t H = c.hidden_size, hd = c.head_dim;
  distinct_ = ids_;
  std::sort(distinct_.begin(), distinct_.end());
  distinct_.erase(std::unique(distinct_.begin(), distinct_.end()), distinct_.end());
  table_ = OwnedTensor(a, DType::F32, {static_cast<int64_t>(distinct_.size()), H});
  local_ids_ = OwnedTensor(a, DType::I32, {T_});
  for (int64_t i = 0; i < T_; ++i)
    local_ids_.tensor.data<int32_t>()[i] =
        static_cast<int32_t>(std::lower_bound(distinct_.begin(), distinct_.end(), ids_[i]) - distinct_.begin());
  x_ = OwnedTensor(a, DType::F32, {T_, H});
  k_cache_ = OwnedTensor(a, DType::F32, {blocks, c.num_kv_heads, kBlock, hd});
  v_cache_ = OwnedTensor(a, DType::F32, {blocks, c.num_kv_heads, kBlock, hd});

  weights_.shard = ShardSpec::make(c, 0, 1);
  weights_.embed = table_.tensor;
  weights_.layers.resize(c.num_layers);
  model_ = make_model(c, weights_, ops, *comm_, {static_cast<int>(T_), S, max_len});
}

CalibrationForward::~CalibrationForward() = default;

float* CalibrationForward::embedding_row(int32_t id) {
  const auto it = std::lower_bound(distinct_.begin(), distinct_.end(), id);
  if (it == distinct_.end() || *it != id) return nullptr;
  return static_cast<float*>(table_.tensor.row_ptr(it - distinct_.begin()));
}

void CalibrationForward::embed() { model_->embed(local_ids_.tensor, batch_); }

void CalibrationForward::layer(int l, LayerWeights weights, const ActivationCallback& cb) {
  weights_.layers[l] = std::move(weights);
  model_->set_activation_callback(cb);
  model_->layer(l, batch_, {k_cache_.tensor, v_cache_.tensor});
  model_->set_activation_callback(nullptr);
  weights_.layers[l] = LayerWeights{};
}

std::vector<float> CalibrationForward::last_hidden(const std::vector<double>& final_norm) {
  const OwnedTensor g = float_vector(final_norm);
  weights_.final_norm = g.tensor;
  const int S = batch_.num_seqs;
  OwnedTensor rows(cpu_allocator(), DType::I32, {S}), hidden(cpu_allocator(), DType::F32, {S, c_.hidden_size});
  for (int s = 0; s < S; ++s) rows.tensor.data<int32_t>()[s] = query_start_.tensor.data<int32_t>()[s + 1] - 1;
  model_->finish(batch_, rows.tensor, hidden.tensor);
  weights_.final_norm = Tensor{};
  return {hidden.tensor.data<float>(), hidden.tensor.data<float>() + hidden.tensor.numel()};
}

const Tensor& CalibrationForward::norm(const Tensor& h, const std::vector<double>& w, const std::vector<double>& b) {
  const OwnedTensor wt = float_vector(w), bt = b.empty() ? OwnedTensor{} : float_vector(b);
  ops_.rms_norm(h, wt.tensor, bt.tensor, c_.rms_norm_eps, x_.tensor, Tensor{});
  return x_.tensor;
}

}  // namespace rotor
