// engine/runner/model_runner.cpp — batch metadata, forward, logits and sampling of one step.
#include "engine/runner/model_runner.h"
#include "core/check.h"

#include <algorithm>
#include <numeric>

namespace rotor {
namespace {

template <typename T>
void upload(Allocator& a, const Tensor& dst, const std::vector<T>& src) {
  ROTOR_CHECK(src.size() * sizeof(T) <= dst.nbytes(), "runner: {} values do not fit {}", src.size(), dst.str());
  a.copy(dst.data(), src.data(), src.size() * sizeof(T));
}

}  // namespace

size_t ModelRunner::kv_block_bytes(const ModelConfig& c, int kv_heads, int block_size, DType kv_dtype) {
  return static_cast<size_t>(c.num_layers) * 2 * kv_heads * block_size * c.head_dim * dtype_size(kv_dtype);
}

ModelRunner::ModelRunner(Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights,
                         RunnerOptions opt)
    : ops_(ops), comm_(comm), config_(config), weights_(std::move(weights)), opt_(opt) {
  ROTOR_CHECK(opt_.num_blocks > 0 && opt_.block_size > 0, "runner: no KV blocks");
  // Hidden rows asked back: one per sampling sequence plus every new token for prompt argmax.
  const int max_rows = opt_.max_num_tokens + opt_.max_num_seqs;
  model_ = std::make_unique<Qwen3MoeModel>(config_, weights_, ops_, comm_, opt_.max_num_tokens, max_rows,
                                           opt_.max_model_len);
  Allocator& a = ops_.allocator();
  const DType kv_dtype = ops_.act_dtype();
  const int hkv = model_->num_kv_heads_local();
  kv_buffer_ = Buffer(a, kv_block_bytes(config_, hkv, opt_.block_size, kv_dtype) * opt_.num_blocks);
  const int64_t layer_elems = static_cast<int64_t>(opt_.num_blocks) * hkv * opt_.block_size * config_.head_dim;
  char* base = static_cast<char*>(kv_buffer_.data());
  const Shape kv_shape{opt_.num_blocks, hkv, opt_.block_size, config_.head_dim};
  for (int l = 0; l < config_.num_layers; ++l) {
    LayerKVCache c;
    c.k = Tensor(base + (2 * l) * layer_elems * dtype_size(kv_dtype), kv_dtype, kv_shape, a.device());
    c.v = Tensor(base + (2 * l + 1) * layer_elems * dtype_size(kv_dtype), kv_dtype, kv_shape, a.device());
    kv_.push_back(c);
  }
  max_blocks_per_seq_ = (opt_.max_model_len + opt_.block_size - 1) / opt_.block_size;
  const int T = opt_.max_num_tokens, S = opt_.max_num_seqs;
  ids_ = OwnedTensor(a, DType::I32, {T});
  positions_ = OwnedTensor(a, DType::I32, {T});
  slots_ = OwnedTensor(a, DType::I32, {T});
  query_start_ = OwnedTensor(a, DType::I32, {S + 1});
  seq_lens_ = OwnedTensor(a, DType::I32, {S});
  block_tables_ = OwnedTensor(a, DType::I32, {S, max_blocks_per_seq_});
  rows_ = OwnedTensor(a, DType::I32, {max_rows});
  hidden_ = OwnedTensor(a, ops_.act_dtype(), {max_rows, config_.hidden_size});
  logits_ = OwnedTensor(a, DType::F32, {S, config_.vocab_size});
  sampled_ = OwnedTensor(a, DType::I32, {S});
  temperature_ = OwnedTensor(a, DType::F32, {S});
  top_k_ = OwnedTensor(a, DType::I32, {S});
  top_p_ = OwnedTensor(a, DType::F32, {S});
  min_p_ = OwnedTensor(a, DType::F32, {S});
  seed_ = OwnedTensor(a, DType::I64, {S});
  counter_ = OwnedTensor(a, DType::I64, {S});
}

ModelRunner::~ModelRunner() = default;

std::vector<SeqResult> ModelRunner::execute(std::span<const SeqWork> work) {
  const int S = static_cast<int>(work.size());
  ROTOR_CHECK(S > 0 && S <= opt_.max_num_seqs, "runner: {} sequences in a step (at most {})", S, opt_.max_num_seqs);
  // Decodes (one new token) first, then prefill chunks; stable so the batch order is kept.
  std::vector<int> order(S);
  std::iota(order.begin(), order.end(), 0);
  std::stable_partition(order.begin(), order.end(), [&](int i) { return work[i].tokens.size() == 1; });

  AttentionBatch b;
  b.block_size = opt_.block_size;
  std::vector<int32_t> ids, pos, slots, qstart{0}, lens, tables(static_cast<size_t>(S) * max_blocks_per_seq_, 0);
  std::vector<int32_t> rows;        // hidden rows asked back: sampling rows, then argmax rows
  std::vector<int> sample_seq;      // work index of each sampling row
  for (int k = 0; k < S; ++k) {
    const SeqWork& w = work[order[k]];
    const int n = static_cast<int>(w.tokens.size());
    const int total = w.num_computed + n;
    ROTOR_CHECK(n > 0, "runner: a sequence with no new tokens");
    ROTOR_CHECK(total <= opt_.max_model_len, "runner: context {} exceeds max_model_len {}", total, opt_.max_model_len);
    ROTOR_CHECK(static_cast<int64_t>(w.block_table.size()) * opt_.block_size >= total &&
                    static_cast<int>(w.block_table.size()) <= max_blocks_per_seq_,
                "runner: {} blocks cannot hold {} tokens", w.block_table.size(), total);
    if (n == 1) ++b.num_decode_seqs;
    for (int i = 0; i < n; ++i) {
      const int p = w.num_computed + i;
      const int32_t block = w.block_table[p / opt_.block_size];
      ROTOR_CHECK(block >= 0 && block < opt_.num_blocks, "runner: KV block {} out of range", block);
      ids.push_back(w.tokens[i]);
      pos.push_back(p);
      slots.push_back(block * opt_.block_size + p % opt_.block_size);
    }
    std::copy(w.block_table.begin(), w.block_table.end(), tables.begin() + static_cast<size_t>(k) * max_blocks_per_seq_);
    qstart.push_back(qstart.back() + n);
    lens.push_back(total);
    b.max_query_len = std::max(b.max_query_len, n);
    b.max_seq_len = std::max(b.max_seq_len, total);
    if (w.sample) {
      rows.push_back(qstart.back() - 1);
      sample_seq.push_back(order[k]);
    }
  }
  const int T = static_cast<int>(ids.size());
  ROTOR_CHECK(T <= opt_.max_num_tokens, "runner: {} tokens in a step (at most {})", T, opt_.max_num_tokens);
  const int num_sample = static_cast<int>(rows.size());
  std::vector<int> argmax_seq;  // work index of each sequence asking for prompt argmax, in row order
  for (int k = 0; k < S; ++k)
    if (work[order[k]].prompt_argmax) {
      argmax_seq.push_back(order[k]);
      for (int r = qstart[k]; r < qstart[k + 1]; ++r) rows.push_back(r);
    }

  Allocator& a = ops_.allocator();
  b.num_tokens = T;
  b.num_seqs = S;
  upload(a, ids_.tensor, ids);
  upload(a, positions_.tensor, pos);
  upload(a, slots_.tensor, slots);
  upload(a, query_start_.tensor, qstart);
  upload(a, seq_lens_.tensor, lens);
  upload(a, block_tables_.tensor, tables);
  upload(a, rows_.tensor, rows);
  b.positions = positions_.tensor.rows(0, T);
  b.slot_mapping = slots_.tensor.rows(0, T);
  b.query_start = query_start_.tensor.rows(0, S + 1);
  b.seq_lens = seq_lens_.tensor.rows(0, S);
  b.block_tables = block_tables_.tensor.rows(0, S);
  const int R = static_cast<int>(rows.size());
  const Tensor hidden = hidden_.tensor.rows(0, R);
  model_->forward(ids_.tensor.rows(0, T), b, kv_, rows_.tensor.rows(0, R), hidden);

  std::vector<SeqResult> out(S);
  // Logits in chunks of up to max_num_seqs rows; sampling rows with their parameters,
  // argmax rows greedily.
  std::vector<float> temp, top_p, min_p;
  std::vector<int32_t> top_k, ids_out;
  std::vector<int64_t> seed, counter;
  std::vector<int32_t> drawn(R);
  for (int r0 = 0; r0 < R; r0 += opt_.max_num_seqs) {
    const int n = std::min(opt_.max_num_seqs, R - r0);
    temp.assign(n, 0.0f);
    top_p.assign(n, 1.0f);
    min_p.assign(n, 0.0f);
    top_k.assign(n, 0);
    seed.assign(n, 0);
    counter.assign(n, 0);
    for (int i = 0; i < n; ++i) {
      if (r0 + i >= num_sample) continue;
      const SeqWork& w = work[sample_seq[r0 + i]];
      temp[i] = w.params.temperature;
      top_p[i] = w.params.top_p;
      min_p[i] = w.params.min_p;
      top_k[i] = w.params.top_k;
      seed[i] = static_cast<int64_t>(w.seed);
      counter[i] = w.counter;
    }
    upload(a, temperature_.tensor, temp);
    upload(a, top_p_.tensor, top_p);
    upload(a, min_p_.tensor, min_p);
    upload(a, top_k_.tensor, top_k);
    upload(a, seed_.tensor, seed);
    upload(a, counter_.tensor, counter);
    SamplingBatch sb{temperature_.tensor.rows(0, n), top_k_.tensor.rows(0, n), top_p_.tensor.rows(0, n),
                     min_p_.tensor.rows(0, n),       seed_.tensor.rows(0, n),  counter_.tensor.rows(0, n)};
    const Tensor logits = logits_.tensor.rows(0, n);
    model_->logits(hidden.rows(r0, r0 + n), logits);
    ops_.sample(logits, sb, sampled_.tensor.rows(0, n));
    for (int i = 0; i < n && r0 + i < num_sample; ++i) {
      SeqResult& res = out[sample_seq[r0 + i]];
      if (!work[sample_seq[r0 + i]].return_logits) continue;
      res.logits.resize(config_.vocab_size);
      a.copy(res.logits.data(), logits.row_ptr(i), res.logits.size() * sizeof(float));
    }
    a.copy(drawn.data() + r0, sampled_.tensor.data(), n * sizeof(int32_t));
  }
  for (int i = 0; i < num_sample; ++i) out[sample_seq[i]].token = drawn[i];
  int r = num_sample;
  for (int idx : argmax_seq) {
    const int n = static_cast<int>(work[idx].tokens.size());
    out[idx].argmax.assign(drawn.begin() + r, drawn.begin() + r + n);
    r += n;
  }
  return out;
}

}  // namespace rotor
