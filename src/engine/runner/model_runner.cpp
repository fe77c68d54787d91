// engine/runner/model_runner.cpp — a step's host arrays (prepare), batch metadata (staged in
// one of two page-locked sets, copied up asynchronously), placeholder fills on the device,
// forward, logits, penalties, masks, sampling and log-probs of one step (launch), the wait for
// its sampled ids (wait); KV cache sizing; decode graphs.
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

size_t ModelRunner::kv_block_bytes(Ops& ops, Communicator& comm, const ModelConfig& c, int block_size) {
  // KV heads per rank as Qwen3MoeModel splits them (replicated when fewer than ranks).
  return kv_block_bytes(c, std::max(1, c.num_kv_heads / comm.world_size()), block_size, ops.act_dtype());
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
  layout_.fill_ids_src = field(S * 4);
  layout_.fill_ids_dst = field(S * 4);
  layout_.fill_out_src = field(S * 4);
  layout_.fill_out_dst = field(S * 4);
  layout_.bytes = off;
  Allocator& a = ops_.allocator();
  bitmask_words_ = (config_.vocab_size + 31) / 32;
  const size_t bitmask_bytes = S * (static_cast<size_t>(bitmask_words_) + 1) * 4;
  for (Slot& sl : slots_) {
    sl.meta = Buffer(ops_.host_allocator(), layout_.bytes);
    sl.sampled = Buffer(ops_.host_allocator(), R * 4);
    sl.bitmask = Buffer(ops_.host_allocator(), bitmask_bytes);
    sl.done = ops_.make_event();
  }
  bitmask_dev_ = Buffer(ops_.allocator(), bitmask_bytes);
  meta_dev_ = Buffer(a, layout_.bytes);
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
  // Zeros (mean 0, std 0): padding rows of a decode graph read block 0 (nothing else reads
  // a slot before writing it, so without graphs the cache is left as allocated).
  if (opt_.cuda_graphs)
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

AttentionBatch ModelRunner::batch_view(int T, int S, int table_width) const {
  AttentionBatch b;
  b.block_size = opt_.block_size;
  b.num_tokens = T;
  b.num_seqs = S;
  b.positions = device(layout_.positions, DType::I32, {T});
  b.slot_mapping = device(layout_.slots, DType::I32, {T});
  b.query_start = device(layout_.query_start, DType::I32, {S + 1});
  b.seq_lens = device(layout_.seq_lens, DType::I32, {S});
  b.block_tables = device(layout_.block_tables, DType::I32, {S, table_width});
  return b;
}

Tensor ModelRunner::fit(OwnedTensor& t, DType dtype, int64_t n) {
  if (!t.tensor.defined() || t.tensor.numel() < n) {
    ops_.synchronize();  // earlier steps may still use the old buffer
    t = OwnedTensor(ops_.allocator(), dtype, {std::max<int64_t>(n, 256)});
  }
  return t.tensor.rows(0, n);
}

void ModelRunner::write_padding(const Buffer& meta, int from, int to) {
  int32_t* qs = at<int32_t>(meta, layout_.query_start);
  for (int k = from; k < to; ++k) {
    at<int32_t>(meta, layout_.ids)[k] = 0;
    at<int32_t>(meta, layout_.positions)[k] = 0;
    at<int32_t>(meta, layout_.slots)[k] = -1;
    qs[k + 1] = qs[k] + 1;
    at<int32_t>(meta, layout_.seq_lens)[k] = 1;
    at<int32_t>(meta, layout_.block_tables)[static_cast<size_t>(k) * max_blocks_per_seq_] = 0;
    at<int32_t>(meta, layout_.rows)[k] = k;
    at<float>(meta, layout_.temperature)[k] = 0.0f;
    at<int32_t>(meta, layout_.top_k)[k] = 0;
    at<float>(meta, layout_.top_p)[k] = 1.0f;
    at<float>(meta, layout_.min_p)[k] = 0.0f;
    at<int64_t>(meta, layout_.seed)[k] = 0;
    at<int64_t>(meta, layout_.counter)[k] = 0;
  }
}

void ModelRunner::upload_metadata(const Buffer& meta, int T, int S, int R, int table_width, const Fills& fills) {
  auto up = [&](size_t offset, size_t bytes) {
    ops_.copy_async(static_cast<char*>(meta_dev_.data()) + offset, static_cast<char*>(meta.data()) + offset, bytes);
  };
  auto put = [&](size_t offset, const std::vector<int32_t>& v) {
    std::copy(v.begin(), v.end(), at<int32_t>(meta, offset));
    up(offset, v.size() * 4);
  };
  up(layout_.ids, T * 4);
  up(layout_.positions, T * 4);
  up(layout_.slots, T * 4);
  up(layout_.query_start, (S + 1) * 4);
  up(layout_.seq_lens, S * 4);
  up(layout_.block_tables, static_cast<size_t>(S) * table_width * 4);
  up(layout_.rows, R * 4);
  up(layout_.temperature, R * 4);
  up(layout_.top_k, R * 4);
  up(layout_.top_p, R * 4);
  up(layout_.min_p, R * 4);
  up(layout_.seed, R * 8);
  up(layout_.counter, R * 8);
  put(layout_.fill_ids_src, fills.ids_src);
  put(layout_.fill_ids_dst, fills.ids_dst);
  put(layout_.fill_out_src, fills.out_src);
  put(layout_.fill_out_dst, fills.out_dst);
}

void ModelRunner::upload_extras(const StepInputs& in, Slot& slot) {
  const size_t ns = in.num_sample;
  size_t off = 0;
  auto field = [&](size_t bytes) {
    const size_t at = off;
    off = align16(off + bytes);
    return at;
  };
  ExtraLayout& e = extra_;
  e.repetition = field(ns * 4);
  e.presence = field(ns * 4);
  e.frequency = field(ns * 4);
  e.prompt_start = field((ns + 1) * 4);
  e.output_start = field((ns + 1) * 4);
  e.mask_start = field((ns + 1) * 4);
  e.prompt_tokens = field(in.prompt_tokens.size() * 4);
  e.output_tokens = field(in.output_tokens.size() * 4);
  e.mask_ids = field(in.mask_ids.size() * 4);
  e.bytes = off;
  // The slot's staging is free (its last step was waited for); the device copy may still be
  // read by the step in flight, so it is replaced only after the queued work.
  if (slot.extra.size() < e.bytes) slot.extra = Buffer(ops_.host_allocator(), e.bytes * 2);
  if (extra_dev_.size() < e.bytes) {
    ops_.synchronize();
    extra_dev_ = Buffer(ops_.allocator(), e.bytes * 2);
  }
  char* h = static_cast<char*>(slot.extra.data());
  auto put = [&](size_t offset, const auto& v) {
    std::copy(v.begin(), v.end(), reinterpret_cast<std::remove_cvref_t<decltype(v[0])>*>(h + offset));
  };
  put(e.repetition, in.repetition);
  put(e.presence, in.presence);
  put(e.frequency, in.frequency);
  put(e.prompt_start, in.prompt_start);
  put(e.output_start, in.output_start);
  put(e.mask_start, in.mask_start);
  put(e.prompt_tokens, in.prompt_tokens);
  put(e.output_tokens, in.output_tokens);
  put(e.mask_ids, in.mask_ids);
  ops_.copy_async(extra_dev_.data(), slot.extra.data(), e.bytes);
}

void ModelRunner::apply_bitmasks(const StepInputs& in, const Tensor& sample_logits) {
  const size_t n = in.bitmask_rows.size(), words = static_cast<size_t>(bitmask_words_);
  ROTOR_CHECK(in.fill_bitmasks, "runner: {} rows with a grammar bitmask but nothing to fill them", n);
  auto* bits = static_cast<uint32_t*>(launching_->bitmask.data());
  in.fill_bitmasks(std::span<uint32_t>(bits, n * words));
  // Rows after the largest bitmask block, in the staging and the device buffer alike.
  const size_t rows_at = static_cast<size_t>(opt_.max_num_seqs) * words * 4;
  std::copy(in.bitmask_rows.begin(), in.bitmask_rows.end(),
            reinterpret_cast<int32_t*>(static_cast<char*>(launching_->bitmask.data()) + rows_at));
  char* dev = static_cast<char*>(bitmask_dev_.data());
  ops_.copy_async(dev, bits, n * words * 4);
  ops_.copy_async(dev + rows_at, static_cast<char*>(launching_->bitmask.data()) + rows_at, n * 4);
  const auto N = static_cast<int64_t>(n);
  ops_.apply_token_bitmask(sample_logits, Tensor(dev, DType::I32, {N, bitmask_words_}, bitmask_dev_.device()),
                           Tensor(dev + rows_at, DType::I32, {N}, bitmask_dev_.device()));
}

const int32_t* ModelRunner::previous_sampled() {
  ROTOR_CHECK(prev_slot_ >= 0, "runner: no step was launched before this one");
  Slot& s = slots_[static_cast<size_t>(prev_slot_)];
  s.done->wait();
  return static_cast<const int32_t*>(s.sampled.data());
}

void ModelRunner::fill_placeholders(const Fills& f, int num_tokens, int num_output_tokens) {
  const Tensor sampled = sampled_.tensor.rows(0, std::max(prev_num_sample_, 1));
  auto index = [&](size_t offset, size_t n) { return device(offset, DType::I32, {static_cast<int64_t>(n)}); };
  if (!f.ids_src.empty())
    ops_.copy_tokens(sampled, index(layout_.fill_ids_src, f.ids_src.size()),
                     device(layout_.ids, DType::I32, {num_tokens}), index(layout_.fill_ids_dst, f.ids_dst.size()));
  if (!f.out_src.empty())
    ops_.copy_tokens(sampled, index(layout_.fill_out_src, f.out_src.size()),
                     Tensor(static_cast<char*>(extra_dev_.data()) + extra_.output_tokens, DType::I32,
                            {num_output_tokens}, extra_dev_.device()),
                     index(layout_.fill_out_dst, f.out_dst.size()));
}

void ModelRunner::device_step(const AttentionBatch& b, int R, const std::vector<std::pair<int, float*>>& logit_rows,
                              const StepInputs* in) {
  const Tensor hidden = hidden_.tensor.rows(0, R);
  model_->forward(device(layout_.ids, DType::I32, {b.num_tokens}), b, kv_, device(layout_.rows, DType::I32, {R}),
                  hidden);
  Allocator& a = ops_.allocator();
  auto extra = [&](size_t offset, DType dtype, int64_t n) {
    return Tensor(static_cast<char*>(extra_dev_.data()) + offset, dtype, {n}, a.device());
  };
  // Logits in chunks of up to max_num_seqs rows, each sampled with its rows' parameters. The
  // sample rows (at most max_num_seqs) are all in the first chunk: penalties and masks before
  // the draw, log-probs (of the raw logits) after it.
  for (int r0 = 0; r0 < R; r0 += opt_.max_num_seqs) {
    const int n = std::min(opt_.max_num_seqs, R - r0);
    const Tensor logits = logits_.tensor.rows(0, n);
    model_->logits(hidden.rows(r0, r0 + n), logits);
    const int ns = in && r0 == 0 ? in->num_sample : 0;
    const Tensor sample_logits = logits.rows(0, ns);
    const bool want_logprobs = ns > 0 && in->max_logprobs >= 0;
    Tensor raw = sample_logits;
    if (want_logprobs && (in->any_penalty || in->any_mask)) {
      raw = fit(raw_logits_, DType::F32, static_cast<int64_t>(ns) * config_.vocab_size).view({ns, config_.vocab_size});
      ops_.copy_async(raw.data(), sample_logits.data(), raw.nbytes());
    }
    if (ns > 0 && in->any_penalty) {
      const ExtraLayout& e = extra_;
      ops_.apply_penalties(sample_logits,
                           {extra(e.repetition, DType::F32, ns), extra(e.presence, DType::F32, ns),
                            extra(e.frequency, DType::F32, ns),
                            extra(e.prompt_tokens, DType::I32, static_cast<int64_t>(in->prompt_tokens.size())),
                            extra(e.prompt_start, DType::I32, ns + 1),
                            extra(e.output_tokens, DType::I32, static_cast<int64_t>(in->output_tokens.size())),
                            extra(e.output_start, DType::I32, ns + 1)});
    }
    if (ns > 0 && in->any_mask)
      ops_.mask_tokens(sample_logits, extra(extra_.mask_ids, DType::I32, static_cast<int64_t>(in->mask_ids.size())),
                       extra(extra_.mask_start, DType::I32, ns + 1));
    if (ns > 0 && !in->bitmask_rows.empty()) apply_bitmasks(*in, sample_logits);
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
    if (want_logprobs) {
      const int K = in->max_logprobs;
      Tensor top_ids, top_lp;
      if (K > 0) {
        top_ids = fit(top_ids_, DType::I32, static_cast<int64_t>(ns) * K).view({ns, K});
        top_lp = fit(top_logprobs_, DType::F32, static_cast<int64_t>(ns) * K).view({ns, K});
      }
      ops_.logprobs(raw, sampled_.tensor.rows(0, ns), fit(tok_logprob_, DType::F32, ns),
                    fit(tok_rank_, DType::I32, ns), top_ids, top_lp);
    }
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
  const Buffer& meta = slots_[0].meta;
  at<int32_t>(meta, layout_.query_start)[0] = 0;
  write_padding(meta, 0, largest);
  upload_metadata(meta, largest, largest, largest, max_blocks_per_seq_, {});
  for (int B : sizes) {
    AttentionBatch b = batch_view(B, B, max_blocks_per_seq_);
    b.num_decode_seqs = B;
    b.max_query_len = 1;
    b.max_seq_len = opt_.max_model_len;
    if (B == largest) device_step(b, B, {}, nullptr);
  }
  ops_.synchronize();
  for (int B : sizes) {
    AttentionBatch b = batch_view(B, B, max_blocks_per_seq_);
    b.num_decode_seqs = B;
    b.max_query_len = 1;
    b.max_seq_len = opt_.max_model_len;
    graphs_.emplace_back(B, CudaGraph::capture(ops_, [&] { device_step(b, B, {}, nullptr); }));
  }
  ops_.synchronize();
}

void StepInputs::set_token(int seq, int32_t token) {
  for (const Placeholder& p : placeholders) {
    if (p.seq != seq) continue;
    if (p.ids_index >= 0) ids[p.ids_index] = token;
    if (p.output_index >= 0) output_tokens[p.output_index] = token;
  }
}

void StepInputs::set_previous_row(int seq, int row) {
  for (Placeholder& p : placeholders)
    if (p.seq == seq) p.source_row = row;
}

StepInputs ModelRunner::prepare(std::span<const SeqWork> work) const {
  const int S = static_cast<int>(work.size());
  ROTOR_CHECK(S > 0 && S <= opt_.max_num_seqs, "runner: {} sequences in a step (at most {})", S, opt_.max_num_seqs);
  StepInputs in;
  in.num_seqs = S;
  // Decodes (one new token) first, then prefill chunks; stable so the batch order is kept.
  std::vector<int> order(S);
  std::iota(order.begin(), order.end(), 0);
  std::stable_partition(order.begin(), order.end(), [&](int i) { return work[i].tokens.size() == 1; });
  // Block tables as wide as the longest of this step (not max_model_len's), row-major.
  for (const SeqWork& w : work) in.table_width = std::max(in.table_width, static_cast<int>(w.block_table.size()));
  in.block_tables.assign(static_cast<size_t>(S) * in.table_width, 0);
  in.query_start.push_back(0);
  in.decode_only = true;
  for (int k = 0; k < S; ++k) {
    const SeqWork& w = work[order[k]];
    const int n = static_cast<int>(w.tokens.size());
    const int total = w.num_computed + n;
    ROTOR_CHECK(n > 0, "runner: a sequence with no new tokens");
    ROTOR_CHECK(total <= opt_.max_model_len, "runner: context {} exceeds max_model_len {}", total, opt_.max_model_len);
    ROTOR_CHECK(in.num_tokens + n <= opt_.max_num_tokens, "runner: more than {} tokens in a step", opt_.max_num_tokens);
    ROTOR_CHECK(static_cast<int64_t>(w.block_table.size()) * opt_.block_size >= total &&
                    static_cast<int>(w.block_table.size()) <= max_blocks_per_seq_,
                "runner: {} blocks cannot hold {} tokens", w.block_table.size(), total);
    if (n == 1) ++in.num_decode;
    in.decode_only &= n == 1 && w.sample && !w.prompt_argmax && !w.return_logits;
    for (int i = 0; i < n; ++i) {
      const int p = w.num_computed + i;
      const int32_t block = w.block_table[p / opt_.block_size];
      ROTOR_CHECK(block >= 0 && block < opt_.num_blocks, "runner: KV block {} out of range", block);
      if (w.tokens[i] == kPlaceholderToken) {
        in.placeholders.push_back({order[k], static_cast<int>(in.ids.size()), -1});
      } else {
        ROTOR_CHECK(w.tokens[i] >= 0 && w.tokens[i] < config_.vocab_size, "runner: token {} outside the vocabulary",
                    w.tokens[i]);
      }
      in.ids.push_back(w.tokens[i]);
      in.positions.push_back(p);
      in.slots.push_back(block * opt_.block_size + p % opt_.block_size);
    }
    in.num_tokens += n;
    std::copy(w.block_table.begin(), w.block_table.end(),
              in.block_tables.begin() + static_cast<size_t>(k) * in.table_width);
    in.query_start.push_back(in.num_tokens);
    in.seq_lens.push_back(total);
    in.max_query_len = std::max(in.max_query_len, n);
    in.max_seq_len = std::max(in.max_seq_len, total);
    if (w.sample) {
      in.rows.push_back(in.num_tokens - 1);
      in.sample_seq.push_back(order[k]);
    }
  }
  in.num_sample = static_cast<int>(in.rows.size());
  for (int k = 0; k < S; ++k)
    if (work[order[k]].prompt_argmax) {
      in.argmax_seq.push_back(order[k]);
      in.argmax_count.push_back(in.query_start[k + 1] - in.query_start[k]);
      for (int r = in.query_start[k]; r < in.query_start[k + 1]; ++r) in.rows.push_back(r);
    }

  // Sampling parameters, penalty token lists and masks of the sample rows.
  in.prompt_start.push_back(0);
  in.output_start.push_back(0);
  in.mask_start.push_back(0);
  for (int i = 0; i < in.num_sample; ++i) {
    const SeqWork& w = work[in.sample_seq[i]];
    const SamplingParams& p = w.params;
    in.temperature.push_back(p.temperature);
    in.top_p.push_back(p.top_p);
    in.min_p.push_back(p.min_p);
    in.top_k.push_back(p.top_k);
    in.seed.push_back(static_cast<int64_t>(w.seed));
    in.counter.push_back(w.counter);
    in.return_logits.push_back(w.return_logits);
    in.repetition.push_back(p.repetition_penalty);
    in.presence.push_back(p.presence_penalty);
    in.frequency.push_back(p.frequency_penalty);
    if (p.has_penalties()) {
      in.any_penalty = true;
      in.prompt_tokens.insert(in.prompt_tokens.end(), w.prompt_tokens.begin(), w.prompt_tokens.end());
      for (int32_t t : w.output_tokens) {
        if (t == kPlaceholderToken)
          in.placeholders.push_back({in.sample_seq[i], -1, static_cast<int>(in.output_tokens.size())});
        in.output_tokens.push_back(t);
      }
    }
    in.prompt_start.push_back(static_cast<int32_t>(in.prompt_tokens.size()));
    in.output_start.push_back(static_cast<int32_t>(in.output_tokens.size()));
    in.mask_ids.insert(in.mask_ids.end(), w.masked_tokens.begin(), w.masked_tokens.end());
    in.any_mask |= !w.masked_tokens.empty();
    in.mask_start.push_back(static_cast<int32_t>(in.mask_ids.size()));
    if (w.token_bitmask) in.bitmask_rows.push_back(i);
    const int nlp = p.logprobs ? *p.logprobs : -1;
    ROTOR_CHECK(nlp <= config_.vocab_size, "runner: {} logprobs of a {}-token vocabulary", nlp, config_.vocab_size);
    in.num_logprobs.push_back(nlp);
    in.max_logprobs = std::max(in.max_logprobs, nlp);
  }
  in.decode_only &= !in.any_penalty && !in.any_mask && in.max_logprobs < 0 && in.bitmask_rows.empty();
  return in;
}

LaunchedStep ModelRunner::launch(const StepInputs& in) {
  // Placeholders: a token set on the host, or a fill from the previous step's sampled ids.
  Fills fills;
  for (const StepInputs::Placeholder& p : in.placeholders) {
    if (p.source_row >= 0) {
      ROTOR_CHECK(p.source_row < prev_num_sample_,
                  "runner: the placeholder of sequence {} reads sample row {} of a step that sampled {}", p.seq,
                  p.source_row, prev_num_sample_);
      if (p.ids_index >= 0) {
        fills.ids_src.push_back(p.source_row);
        fills.ids_dst.push_back(p.ids_index);
      }
      if (p.output_index >= 0) {
        fills.out_src.push_back(p.source_row);
        fills.out_dst.push_back(p.output_index);
      }
      continue;
    }
    const int32_t t = p.ids_index >= 0 ? in.ids[p.ids_index] : in.output_tokens[p.output_index];
    ROTOR_CHECK(t >= 0 && t < config_.vocab_size, "runner: the placeholder token of sequence {} is {}", p.seq, t);
  }
  const int slot_index = next_slot_;
  Slot& slot = slots_[slot_index];
  ROTOR_CHECK(!slot.busy.load(std::memory_order_acquire),
              "runner: a step launched while two earlier ones still await wait()");
  slot.busy.store(true, std::memory_order_relaxed);
  next_slot_ = (next_slot_ + 1) % kSlots;
  const Buffer& meta = slot.meta;

  const int S = in.num_seqs, T = in.num_tokens, R = static_cast<int>(in.rows.size()), ns = in.num_sample;
  // A graph replays steps where every sequence decodes one sampled token and nothing else.
  CudaGraph* graph = nullptr;
  int padded = S;
  if (!graphs_.empty() && in.decode_only) {
    for (auto& [size, g] : graphs_)
      if (size >= S) {
        padded = size;
        graph = g.get();
        break;
      }
  }
  // Graphs were captured with max_model_len-wide block tables.
  const int width = graph ? max_blocks_per_seq_ : in.table_width;
  std::copy(in.ids.begin(), in.ids.end(), at<int32_t>(meta, layout_.ids));
  std::copy(in.positions.begin(), in.positions.end(), at<int32_t>(meta, layout_.positions));
  std::copy(in.slots.begin(), in.slots.end(), at<int32_t>(meta, layout_.slots));
  std::copy(in.query_start.begin(), in.query_start.end(), at<int32_t>(meta, layout_.query_start));
  std::copy(in.seq_lens.begin(), in.seq_lens.end(), at<int32_t>(meta, layout_.seq_lens));
  std::copy(in.rows.begin(), in.rows.end(), at<int32_t>(meta, layout_.rows));
  int32_t* tables = at<int32_t>(meta, layout_.block_tables);
  for (int k = 0; k < S; ++k)
    std::copy_n(in.block_tables.begin() + static_cast<size_t>(k) * in.table_width, in.table_width,
                tables + static_cast<size_t>(k) * width);
  // Sampling parameters of the sample rows; argmax rows are greedy.
  for (int r = 0; r < R; ++r) {
    const bool s = r < ns;
    at<float>(meta, layout_.temperature)[r] = s ? in.temperature[r] : 0.0f;
    at<int32_t>(meta, layout_.top_k)[r] = s ? in.top_k[r] : 0;
    at<float>(meta, layout_.top_p)[r] = s ? in.top_p[r] : 1.0f;
    at<float>(meta, layout_.min_p)[r] = s ? in.min_p[r] : 0.0f;
    at<int64_t>(meta, layout_.seed)[r] = s ? in.seed[r] : 0;
    at<int64_t>(meta, layout_.counter)[r] = s ? in.counter[r] : 0;
  }

  LaunchedStep st;
  st.slot = slot_index;
  st.num_sample = ns;
  st.num_rows = R;
  st.sample_seq = in.sample_seq;
  st.argmax_seq = in.argmax_seq;
  st.argmax_count = in.argmax_count;
  st.num_logprobs = in.num_logprobs;
  st.max_logprobs = in.max_logprobs;
  st.out.resize(S);
  if (graph) {
    write_padding(meta, S, padded);
    upload_metadata(meta, padded, padded, padded, width, fills);
    fill_placeholders(fills, padded, 0);
    graph->replay();
  } else {
    upload_metadata(meta, T, S, R, width, fills);
    if (in.any_penalty || in.any_mask) upload_extras(in, slot);
    fill_placeholders(fills, T, static_cast<int>(in.output_tokens.size()));
    AttentionBatch b = batch_view(T, S, width);
    b.num_decode_seqs = in.num_decode;
    b.max_query_len = in.max_query_len;
    b.max_seq_len = in.max_seq_len;
    std::vector<std::pair<int, float*>> logit_rows;
    for (int i = 0; i < ns; ++i)
      if (in.return_logits[i]) {
        SeqResult& res = st.out[in.sample_seq[i]];
        res.logits.resize(config_.vocab_size);
        logit_rows.emplace_back(i, res.logits.data());
      }
    launching_ = &slot;
    device_step(b, R, logit_rows, &in);
  }
  prev_num_sample_ = ns;
  prev_slot_ = slot_index;
  ops_.copy_async(slot.sampled.data(), sampled_.tensor.data(), static_cast<size_t>(R) * 4);
  if (!graph && ns > 0 && in.max_logprobs >= 0) {
    // Log-probs down into the slot: [ns] f32, [ns] i32, [ns, K] i32, [ns, K] f32.
    const size_t K = in.max_logprobs, bytes = ns * 8 + ns * K * 8;
    if (slot.results.size() < bytes) slot.results = Buffer(ops_.host_allocator(), bytes);
    char* h = static_cast<char*>(slot.results.data());
    ops_.copy_async(h, tok_logprob_.tensor.data(), ns * 4);
    ops_.copy_async(h + ns * 4, tok_rank_.tensor.data(), ns * 4);
    if (K > 0) {
      ops_.copy_async(h + ns * 8, top_ids_.tensor.data(), ns * K * 4);
      ops_.copy_async(h + ns * 8 + ns * K * 4, top_logprobs_.tensor.data(), ns * K * 4);
    }
  }
  slot.done->record();
  return st;
}

std::vector<SeqResult> ModelRunner::wait(LaunchedStep& st) {
  Slot& slot = slots_[st.slot];
  slot.done->wait();
  std::vector<SeqResult> out = std::move(st.out);
  const int ns = st.num_sample;
  const int32_t* drawn = static_cast<const int32_t*>(slot.sampled.data());
  for (int i = 0; i < ns; ++i) out[st.sample_seq[i]].token = drawn[i];
  for (size_t j = 0, r = ns; j < st.argmax_seq.size(); r += st.argmax_count[j], ++j)
    out[st.argmax_seq[j]].argmax.assign(drawn + r, drawn + r + st.argmax_count[j]);
  if (ns > 0 && st.max_logprobs >= 0) {
    const size_t K = st.max_logprobs;
    const char* h = static_cast<const char*>(slot.results.data());
    const float* lp = reinterpret_cast<const float*>(h);
    const int32_t* rank = reinterpret_cast<const int32_t*>(h + ns * 4);
    const int32_t* tid = reinterpret_cast<const int32_t*>(h + ns * 8);
    const float* tlp = reinterpret_cast<const float*>(h + ns * 8 + ns * K * 4);
    for (int i = 0; i < ns; ++i) {
      const int k = st.num_logprobs[i];
      if (k < 0) continue;
      TokenLogprobs t;
      t.token = drawn[i];
      t.logprob = lp[i];
      t.rank = rank[i];
      t.top_ids.assign(tid + i * K, tid + i * K + k);
      t.top_logprobs.assign(tlp + i * K, tlp + i * K + k);
      out[st.sample_seq[i]].logprobs = std::move(t);
    }
  }
  slot.busy.store(false, std::memory_order_release);
  return out;
}

}  // namespace rotor
