// engine/runner/model_runner.cpp — batch metadata (staged in host memory, copied up
// asynchronously), forward, logits and sampling of one step; KV cache sizing; decode graphs.
#include "engine/runner/model_runner.h"
#include "core/check.h"

#include <algorithm>
#include <numeric>

namespace rotor {
namespace {

size_t align16(size_t v) { return (v + 15) / 16 * 16; }

}  // namespace

size_t ModelRunner::kv_block_bytes(const ModelConfig& c, int kv_heads, int block_size, DType kv_dtype) {
  return static_cast<size_t>(c.num_layers) * 2 * kv_heads * block_size * c.head_dim * dtype_size(kv_dtype);
}

ModelRunner::ModelRunner(Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights,
                         RunnerOptions opt)
    : ops_(ops), comm_(comm), config_(config), weights_(std::move(weights)), opt_(std::move(opt)) {
  ROTOR_CHECK(opt_.block_size > 0 && opt_.max_num_seqs > 0 && opt_.max_num_tokens > 0 && opt_.max_model_len > 0,
              "runner: sizes must be positive");
  ROTOR_CHECK(opt_.num_blocks > 0 || opt_.gpu_memory_utilization > 0, "runner: no KV blocks");
  // Hidden rows asked back: one per sampling sequence plus every new token for prompt argmax.
  max_rows_ = opt_.max_num_tokens + opt_.max_num_seqs;
  model_ = std::make_unique<Qwen3MoeModel>(config_, weights_, ops_, comm_, opt_.max_num_tokens, max_rows_,
                                           opt_.max_model_len);
  max_blocks_per_seq_ = (opt_.max_model_len + opt_.block_size - 1) / opt_.block_size;

  // Metadata: one layout for the host staging buffer and its device copy.
  const size_t T = opt_.max_num_tokens, S = opt_.max_num_seqs, R = max_rows_;
  size_t off = 0;
  auto field = [&](size_t bytes) {
    const size_t at = off;
    off = align16(off + bytes);
    return at;
  };
  layout_.ids = field(T * 4);
  layout_.positions = field(T * 4);
  layout_.slots = field(T * 4);
  layout_.query_start = field((S + 1) * 4);
  layout_.seq_lens = field(S * 4);
  layout_.block_tables = field(S * max_blocks_per_seq_ * 4);
  layout_.rows = field(R * 4);
  layout_.temperature = field(R * 4);
  layout_.top_k = field(R * 4);
  layout_.top_p = field(R * 4);
  layout_.min_p = field(R * 4);
  layout_.seed = field(R * 8);
  layout_.counter = field(R * 8);
  layout_.bytes = off;
  Allocator& a = ops_.allocator();
  meta_host_ = Buffer(ops_.host_allocator(), layout_.bytes);
  meta_dev_ = Buffer(a, layout_.bytes);
  sampled_host_ = Buffer(ops_.host_allocator(), R * 4);
  hidden_ = OwnedTensor(a, ops_.act_dtype(), {max_rows_, config_.hidden_size});
  logits_ = OwnedTensor(a, DType::F32, {opt_.max_num_seqs, config_.vocab_size});
  sampled_ = OwnedTensor(a, DType::I32, {max_rows_});

  OpLimits lim;
  lim.max_tokens = opt_.max_num_tokens;
  lim.max_seqs = opt_.max_num_seqs;
  lim.max_model_len = opt_.max_model_len;
  lim.hidden = config_.hidden_size;
  lim.q_heads = config_.num_heads / comm_.world_size();
  lim.head_dim = config_.head_dim;
  lim.num_experts = config_.num_experts;
  lim.top_k = config_.num_experts_per_tok;
  lim.moe_inter = config_.moe_intermediate_size / comm_.world_size();
  lim.vocab = config_.vocab_size;
  ops_.reserve(lim);

  size_kv_cache();
  if (opt_.cuda_graphs) capture_graphs();
}

ModelRunner::~ModelRunner() = default;

void ModelRunner::size_kv_cache() {
  const DType kv_dtype = ops_.act_dtype();
  const int hkv = model_->num_kv_heads_local();
  const size_t block_bytes = kv_block_bytes(config_, hkv, opt_.block_size, kv_dtype);
  if (opt_.gpu_memory_utilization > 0) {
    ROTOR_CHECK(opt_.gpu_memory_utilization <= 1.0, "--gpu-memory-utilization must be in (0, 1], got {}",
                opt_.gpu_memory_utilization);
    size_t free_b = 0, total_b = 0;
    ROTOR_CHECK(ops_.memory_info(&free_b, &total_b), "--gpu-memory-utilization needs a GPU backend");
    const double budget = opt_.gpu_memory_utilization * static_cast<double>(total_b) -
                          static_cast<double>(total_b - free_b);
    const int fit = budget > 0 ? static_cast<int>(budget / static_cast<double>(block_bytes)) : 0;
    ROTOR_CHECK(fit >= std::max(opt_.num_blocks, 1),
                "--gpu-memory-utilization {}: {:.2f} GiB of {:.1f} GiB are in use, leaving room for {} KV blocks "
                "({} needed)",
                opt_.gpu_memory_utilization, (total_b - free_b) / 1073741824.0, total_b / 1073741824.0, fit,
                std::max(opt_.num_blocks, 1));
    opt_.num_blocks = fit;
  }
  Allocator& a = ops_.allocator();
  kv_buffer_ = Buffer(a, block_bytes * opt_.num_blocks);
  // Zeros (mean 0, std 0): padding rows of a decode graph read block 0.
  ops_.fill_random(Tensor(kv_buffer_.data(), kv_dtype, {static_cast<int64_t>(kv_buffer_.size() / dtype_size(kv_dtype))},
                          a.device()),
                   0, 0.0f, 0.0f);
  const int64_t layer_elems = static_cast<int64_t>(opt_.num_blocks) * hkv * opt_.block_size * config_.head_dim;
  char* base = static_cast<char*>(kv_buffer_.data());
  const Shape kv_shape{opt_.num_blocks, hkv, opt_.block_size, config_.head_dim};
  for (int l = 0; l < config_.num_layers; ++l) {
    LayerKVCache c;
    c.k = Tensor(base + (2 * l) * layer_elems * dtype_size(kv_dtype), kv_dtype, kv_shape, a.device());
    c.v = Tensor(base + (2 * l + 1) * layer_elems * dtype_size(kv_dtype), kv_dtype, kv_shape, a.device());
    kv_.push_back(c);
  }
}

Tensor ModelRunner::device(size_t offset, DType dtype, Shape shape) const {
  return Tensor(static_cast<char*>(meta_dev_.data()) + offset, dtype, shape, meta_dev_.device());
}

AttentionBatch ModelRunner::batch_view(int T, int S) const {
  AttentionBatch b;
  b.block_size = opt_.block_size;
  b.num_tokens = T;
  b.num_seqs = S;
  b.positions = device(layout_.positions, DType::I32, {T});
  b.slot_mapping = device(layout_.slots, DType::I32, {T});
  b.query_start = device(layout_.query_start, DType::I32, {S + 1});
  b.seq_lens = device(layout_.seq_lens, DType::I32, {S});
  b.block_tables = device(layout_.block_tables, DType::I32, {S, max_blocks_per_seq_});
  return b;
}

void ModelRunner::write_padding(int from, int to) {
  int32_t* qs = host<int32_t>(layout_.query_start);
  for (int k = from; k < to; ++k) {
    host<int32_t>(layout_.ids)[k] = 0;
    host<int32_t>(layout_.positions)[k] = 0;
    host<int32_t>(layout_.slots)[k] = -1;
    qs[k + 1] = qs[k] + 1;
    host<int32_t>(layout_.seq_lens)[k] = 1;
    host<int32_t>(layout_.block_tables)[static_cast<size_t>(k) * max_blocks_per_seq_] = 0;
    host<int32_t>(layout_.rows)[k] = k;
    host<float>(layout_.temperature)[k] = 0.0f;
    host<int32_t>(layout_.top_k)[k] = 0;
    host<float>(layout_.top_p)[k] = 1.0f;
    host<float>(layout_.min_p)[k] = 0.0f;
    host<int64_t>(layout_.seed)[k] = 0;
    host<int64_t>(layout_.counter)[k] = 0;
  }
}

void ModelRunner::upload_metadata(int T, int S, int R) {
  auto up = [&](size_t offset, size_t bytes) {
    ops_.copy_async(static_cast<char*>(meta_dev_.data()) + offset, static_cast<char*>(meta_host_.data()) + offset,
                    bytes);
  };
  up(layout_.ids, T * 4);
  up(layout_.positions, T * 4);
  up(layout_.slots, T * 4);
  up(layout_.query_start, (S + 1) * 4);
  up(layout_.seq_lens, S * 4);
  up(layout_.block_tables, static_cast<size_t>(S) * max_blocks_per_seq_ * 4);
  up(layout_.rows, R * 4);
  up(layout_.temperature, R * 4);
  up(layout_.top_k, R * 4);
  up(layout_.top_p, R * 4);
  up(layout_.min_p, R * 4);
  up(layout_.seed, R * 8);
  up(layout_.counter, R * 8);
}

void ModelRunner::device_step(const AttentionBatch& b, int R,
                              const std::vector<std::pair<int, float*>>& logit_rows) {
  const Tensor hidden = hidden_.tensor.rows(0, R);
  model_->forward(device(layout_.ids, DType::I32, {b.num_tokens}), b, kv_, device(layout_.rows, DType::I32, {R}),
                  hidden);
  // Logits in chunks of up to max_num_seqs rows, each sampled with its rows' parameters.
  for (int r0 = 0; r0 < R; r0 += opt_.max_num_seqs) {
    const int n = std::min(opt_.max_num_seqs, R - r0);
    const Tensor logits = logits_.tensor.rows(0, n);
    model_->logits(hidden.rows(r0, r0 + n), logits);
    SamplingBatch sb{device(layout_.temperature, DType::F32, {max_rows_}).rows(r0, r0 + n),
                     device(layout_.top_k, DType::I32, {max_rows_}).rows(r0, r0 + n),
                     device(layout_.top_p, DType::F32, {max_rows_}).rows(r0, r0 + n),
                     device(layout_.min_p, DType::F32, {max_rows_}).rows(r0, r0 + n),
                     device(layout_.seed, DType::I64, {max_rows_}).rows(r0, r0 + n),
                     device(layout_.counter, DType::I64, {max_rows_}).rows(r0, r0 + n)};
    ops_.sample(logits, sb, sampled_.tensor.rows(r0, r0 + n));
    for (const auto& [row, dst] : logit_rows)
      if (row >= r0 && row < r0 + n)
        ops_.copy_async(dst, logits.row_ptr(row - r0), static_cast<size_t>(config_.vocab_size) * sizeof(float));
  }
}

void ModelRunner::capture_graphs() {
  ROTOR_CHECK(!ops_.device().is_cpu(), "CUDA graphs (cudagraph_mode FULL_DECODE_ONLY) need a GPU backend");
  std::vector<int> sizes = opt_.graph_batch_sizes;
  if (sizes.empty()) {
    for (int s : {1, 2, 4}) sizes.push_back(s);
    for (int s = 8; s <= opt_.max_num_seqs; s += 8) sizes.push_back(s);
    sizes.push_back(opt_.max_num_seqs);
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  std::erase_if(sizes, [&](int s) { return s < 1 || s > opt_.max_num_seqs || s > opt_.max_num_tokens; });
  ROTOR_CHECK(!sizes.empty(), "no CUDA graph batch size fits max_num_seqs {}", opt_.max_num_seqs);
  opt_.graph_batch_sizes = sizes;
  // Padding rows for the largest size stand in for every captured batch; one eager run first
  // (module loading, library handles) outside capture.
  const int largest = sizes.back();
  host<int32_t>(layout_.query_start)[0] = 0;
  write_padding(0, largest);
  upload_metadata(largest, largest, largest);
  for (int B : sizes) {
    AttentionBatch b = batch_view(B, B);
    b.num_decode_seqs = B;
    b.max_query_len = 1;
    b.max_seq_len = opt_.max_model_len;
    if (B == largest) device_step(b, B, {});
  }
  ops_.synchronize();
  for (int B : sizes) {
    AttentionBatch b = batch_view(B, B);
    b.num_decode_seqs = B;
    b.max_query_len = 1;
    b.max_seq_len = opt_.max_model_len;
    graphs_.emplace_back(B, CudaGraph::capture(ops_, [&] { device_step(b, B, {}); }));
  }
  ops_.synchronize();
}

std::vector<SeqResult> ModelRunner::execute(std::span<const SeqWork> work) {
  const int S = static_cast<int>(work.size());
  ROTOR_CHECK(S > 0 && S <= opt_.max_num_seqs, "runner: {} sequences in a step (at most {})", S, opt_.max_num_seqs);
  // Decodes (one new token) first, then prefill chunks; stable so the batch order is kept.
  std::vector<int> order(S);
  std::iota(order.begin(), order.end(), 0);
  std::stable_partition(order.begin(), order.end(), [&](int i) { return work[i].tokens.size() == 1; });

  // A graph replays steps where every sequence decodes one sampled token and nothing else.
  CudaGraph* graph = nullptr;
  int padded = S;
  if (!graphs_.empty() && std::all_of(work.begin(), work.end(), [](const SeqWork& w) {
        return w.tokens.size() == 1 && w.sample && !w.prompt_argmax && !w.return_logits;
      })) {
    for (auto& [size, g] : graphs_)
      if (size >= S) {
        padded = size;
        graph = g.get();
        break;
      }
  }

  int32_t* ids = host<int32_t>(layout_.ids);
  int32_t* pos = host<int32_t>(layout_.positions);
  int32_t* slots = host<int32_t>(layout_.slots);
  int32_t* qs = host<int32_t>(layout_.query_start);
  int32_t* lens = host<int32_t>(layout_.seq_lens);
  int32_t* tables = host<int32_t>(layout_.block_tables);
  int32_t* rows = host<int32_t>(layout_.rows);
  AttentionBatch b;
  int T = 0, num_sample = 0, num_decode = 0, max_query = 0, max_len = 0;
  std::vector<int> sample_seq;  // work index of each sampling row
  qs[0] = 0;
  for (int k = 0; k < S; ++k) {
    const SeqWork& w = work[order[k]];
    const int n = static_cast<int>(w.tokens.size());
    const int total = w.num_computed + n;
    ROTOR_CHECK(n > 0, "runner: a sequence with no new tokens");
    ROTOR_CHECK(total <= opt_.max_model_len, "runner: context {} exceeds max_model_len {}", total, opt_.max_model_len);
    ROTOR_CHECK(T + n <= opt_.max_num_tokens, "runner: more than {} tokens in a step", opt_.max_num_tokens);
    ROTOR_CHECK(static_cast<int64_t>(w.block_table.size()) * opt_.block_size >= total &&
                    static_cast<int>(w.block_table.size()) <= max_blocks_per_seq_,
                "runner: {} blocks cannot hold {} tokens", w.block_table.size(), total);
    if (n == 1) ++num_decode;
    for (int i = 0; i < n; ++i) {
      const int p = w.num_computed + i;
      const int32_t block = w.block_table[p / opt_.block_size];
      ROTOR_CHECK(block >= 0 && block < opt_.num_blocks, "runner: KV block {} out of range", block);
      ROTOR_CHECK(w.tokens[i] >= 0 && w.tokens[i] < config_.vocab_size, "runner: token {} outside the vocabulary",
                  w.tokens[i]);
      ids[T] = w.tokens[i];
      pos[T] = p;
      slots[T] = block * opt_.block_size + p % opt_.block_size;
      ++T;
    }
    std::copy(w.block_table.begin(), w.block_table.end(), tables + static_cast<size_t>(k) * max_blocks_per_seq_);
    qs[k + 1] = T;
    lens[k] = total;
    max_query = std::max(max_query, n);
    max_len = std::max(max_len, total);
    if (w.sample) {
      rows[num_sample++] = T - 1;
      sample_seq.push_back(order[k]);
    }
  }
  std::vector<int> argmax_seq;  // work index of each sequence asking for prompt argmax, in row order
  int R = num_sample;
  for (int k = 0; k < S; ++k)
    if (work[order[k]].prompt_argmax) {
      argmax_seq.push_back(order[k]);
      for (int r = qs[k]; r < qs[k + 1]; ++r) rows[R++] = r;
    }
  // Sampling parameters of the sampling rows; argmax rows are greedy.
  for (int r = 0; r < R; ++r) {
    const SeqWork* w = r < num_sample ? &work[sample_seq[r]] : nullptr;
    host<float>(layout_.temperature)[r] = w ? w->params.temperature : 0.0f;
    host<int32_t>(layout_.top_k)[r] = w ? w->params.top_k : 0;
    host<float>(layout_.top_p)[r] = w ? w->params.top_p : 1.0f;
    host<float>(layout_.min_p)[r] = w ? w->params.min_p : 0.0f;
    host<int64_t>(layout_.seed)[r] = w ? static_cast<int64_t>(w->seed) : 0;
    host<int64_t>(layout_.counter)[r] = w ? w->counter : 0;
  }

  std::vector<SeqResult> out(S);
  if (graph) {
    write_padding(S, padded);
    upload_metadata(padded, padded, padded);
    graph->replay();
  } else {
    upload_metadata(T, S, R);
    b = batch_view(T, S);
    b.num_decode_seqs = num_decode;
    b.max_query_len = max_query;
    b.max_seq_len = max_len;
    std::vector<std::pair<int, float*>> logit_rows;
    for (int i = 0; i < num_sample; ++i)
      if (work[sample_seq[i]].return_logits) {
        SeqResult& res = out[sample_seq[i]];
        res.logits.resize(config_.vocab_size);
        logit_rows.emplace_back(i, res.logits.data());
      }
    device_step(b, R, logit_rows);
  }
  ops_.copy_async(sampled_host_.data(), sampled_.tensor.data(), static_cast<size_t>(R) * 4);
  ops_.synchronize();
  const int32_t* drawn = static_cast<const int32_t*>(sampled_host_.data());
  for (int i = 0; i < num_sample; ++i) out[sample_seq[i]].token = drawn[i];
  int r = num_sample;
  for (int idx : argmax_seq) {
    const int n = static_cast<int>(work[idx].tokens.size());
    out[idx].argmax.assign(drawn + r, drawn + r + n);
    r += n;
  }
  return out;
}

}  // namespace rotor
