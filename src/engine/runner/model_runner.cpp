// engine/runner/model_runner.cpp — a rank's step: placeholders resolved, metadata staged in a
// slot and uploaded, placeholder fills on the device, forward, sampling, results copied down,
// event (launch; with grammar bitmasks the sampling on in launch_sampling); the wait for them
// (wait); KV cache sizing; decode graphs.
#include "engine/runner/model_runner.h"

#include <algorithm>

#include "core/check.h"
#include "core/log.h"

namespace rotor {

size_t ModelRunner::kv_block_bytes(const ModelConfig& c, const ShardSpec& shard, int block_size, DType kv_dtype) {
  return kv_cache_shape(c, shard).block_bytes(block_size, kv_dtype);
}

ModelRunner::ModelRunner(Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights,
                         RunnerOptions opt)
    : ModelRunner(Unsized{}, ops, comm, config, std::move(weights), std::move(opt)) {
  allocate_kv_cache(kv_blocks_fit());
  warm_up_graphs();
  capture_graphs();
}

ModelRunner::ModelRunner(Unsized, Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights,
                         RunnerOptions opt)
    : ops_(ops), comm_(comm), config_(config), weights_(std::move(weights)), opt_(std::move(opt)) {
  ROTOR_CHECK(opt_.block_size > 0 && opt_.max_num_seqs > 0 && opt_.max_num_tokens > 0 && opt_.max_model_len > 0,
              "runner: sizes must be positive");
  ROTOR_CHECK(opt_.num_blocks > 0 || opt_.gpu_memory_utilization > 0, "runner: no KV blocks");
  // Hidden rows asked back: one per sampling sequence plus every new token for prompt argmax.
  max_rows_ = opt_.max_num_tokens + opt_.max_num_seqs;
  model_ = make_model(config_, weights_, ops_, comm_, {opt_.max_num_tokens, max_rows_, opt_.max_model_len});
  model_->set_weight_prefetch(opt_.weight_prefetch);
  max_blocks_per_seq_ = (opt_.max_model_len + opt_.block_size - 1) / opt_.block_size;
  const ShardSpec& shard = weights_.shard;
  split_params_ = ops_.decode_split_params(static_cast<int>(shard.q_heads.size),
                                           kv_cache_shape(config_, shard).kv_heads, config_.head_dim,
                                           opt_.kv_cache_dtype == KvCacheDtype::Fp8E4M3);
  plan_splits_ = opt_.decode_splits.plans(split_params_);
  if (plan_splits_) {
    if (opt_.decode_splits.min_chunk > 0) split_params_.min_chunk = opt_.decode_splits.min_chunk;
    // A longer longest split only: the backend sizes its launches by its own (fewer items).
    ROTOR_CHECK(opt_.decode_splits.max_chunk == 0 || opt_.decode_splits.max_chunk >= split_params_.max_chunk,
                "runner: ROTOR_DECODE_SPLIT_MAX={} is below the backend's longest split, {} tokens",
                opt_.decode_splits.max_chunk, split_params_.max_chunk);
    if (opt_.decode_splits.max_chunk > 0) split_params_.max_chunk = opt_.decode_splits.max_chunk;
    ROTOR_CHECK(split_params_.min_chunk <= split_params_.max_chunk,
                "runner: decode splits of at least {} tokens, but at most {} (ROTOR_DECODE_SPLIT_MIN, _MAX)",
                split_params_.min_chunk, split_params_.max_chunk);
    if (shard.rank == 0)
      ROTOR_LOG_INFO("decode attention: a split plan per step: {} items fill the device, "
                     "splits of {}..{} tokens",
                     split_params_.target_items, split_params_.min_chunk, split_params_.max_chunk);
  }
  batch_ = std::make_unique<InputBatch>(
      ops_, opt_.max_num_tokens, opt_.max_num_seqs, max_rows_, max_blocks_per_seq_, opt_.block_size,
      plan_splits_ ? decode_plan_max_items(split_params_, opt_.max_num_seqs, opt_.max_model_len) : 0);
  sampler_ = std::make_unique<Sampler>(ops_, max_rows_, opt_.max_num_seqs, config_.vocab_size);
  if (opt_.reserve_sampling) sampler_->reserve_limits(opt_.max_logprobs, opt_.max_model_len);
  for (Slot& sl : slots_) sl.done = ops_.make_event();
  hidden_ = OwnedTensor(ops_.allocator(), ops_.act_dtype(), {max_rows_, config_.hidden_size});

  OpLimits lim;
  lim.max_tokens = opt_.max_num_tokens;
  lim.max_seqs = opt_.max_num_seqs;
  lim.max_model_len = opt_.max_model_len;
  lim.hidden = config_.hidden_size;
  lim.q_heads = static_cast<int>(shard.q_heads.size);
  lim.head_dim = config_.head_dim;
  lim.num_experts = static_cast<int>(shard.experts.size);
  lim.top_k = config_.num_experts_per_tok;
  lim.moe_inter = static_cast<int>(shard.expert_inter.size);
  lim.vocab = config_.vocab_size;
  ops_.reserve(lim);
}

ModelRunner::~ModelRunner() = default;

int ModelRunner::kv_blocks_fit(int sharers) {
  if (opt_.gpu_memory_utilization <= 0) return opt_.num_blocks;
  return KvCache::blocks_that_fit(ops_, kv_cache_shape(config_, weights_.shard),
                                  KvCache::kv_dtype(ops_, opt_.kv_cache_dtype), opt_.block_size,
                                  opt_.gpu_memory_utilization, opt_.num_blocks, sharers);
}

void ModelRunner::allocate_kv_cache(int num_blocks) {
  ROTOR_CHECK(num_blocks > 0 && kv_.num_blocks() == 0, "runner: KV cache of {} blocks", num_blocks);
  opt_.num_blocks = num_blocks;
  const bool fp8 = opt_.kv_cache_dtype == KvCacheDtype::Fp8E4M3, computed = fp8 && opt_.calculate_kv_scales;
  const bool from_checkpoint = fp8 && !computed && !weights_.k_scale.empty();
  kv_ = KvCache(ops_, kv_cache_shape(config_, weights_.shard), KvCache::kv_dtype(ops_, opt_.kv_cache_dtype),
                opt_.block_size, num_blocks, opt_.cuda_graphs, from_checkpoint ? weights_.k_scale : std::vector<float>{},
                from_checkpoint ? weights_.v_scale : std::vector<float>{});
  scales_pending_ = computed;
  if (fp8 && comm_.rank() == 0)
    ROTOR_LOG_INFO("KV cache: fp8 (e4m3) with per-layer K and V scales {}",
                   computed          ? "computed from the first prefill (--calculate-kv-scales)"
                   : from_checkpoint ? "from the checkpoint"
                                     : "of 1.0 (the checkpoint has none)");
}

void ModelRunner::share_kv_cache(const ModelRunner& owner) {
  ROTOR_CHECK(kv_.num_blocks() == 0 && owner.kv_.num_blocks() > 0, "runner: a shared KV cache replaces none");
  ROTOR_CHECK(owner.ops_.device() == ops_.device() && owner.opt_.kv_cache_dtype == opt_.kv_cache_dtype &&
                  owner.opt_.block_size == opt_.block_size && !opt_.calculate_kv_scales,
              "runner: a KV cache shared between lanes needs one GPU, dtype and block size (and no "
              "--calculate-kv-scales)");
  opt_.num_blocks = owner.opt_.num_blocks;
  kv_ = owner.kv_.view();
}

void ModelRunner::device_step(const AttentionBatch& b, int R) {
  const Tensor hidden = hidden_.tensor.rows(0, R);
  model_->forward(batch_->ids(b.num_tokens), b, kv_.layers(), batch_->rows(R), hidden);
  sampler_->first_logits(*model_, hidden, R);
  sampler_->sample(0, *model_, hidden, R, {}, nullptr, {});
}

int ModelRunner::plan_decodes(int slot, int S, int num_real, int max_len) const {
  if (!plan_splits_ || S == 0) return 0;
  return batch_->plan_decodes(slot, S, num_real, split_params_, decode_plan_max_items(split_params_, S, max_len));
}

void ModelRunner::reserve(const StepInputs& in) {
  if (slots_[next_slot_].busy.load(std::memory_order_acquire)) return;  // launch refuses the step
  sampler_->reserve(next_slot_, in, static_cast<int>(in.rows.size()));
}

AttentionBatch ModelRunner::graph_batch(int B) const {
  AttentionBatch b = batch_->view(B, B, max_blocks_per_seq_, plan_splits_);
  b.num_decode_seqs = B;
  b.max_query_len = 1;
  b.max_seq_len = opt_.max_model_len;
  return b;
}

void ModelRunner::warm_up_graphs() {
  if (!opt_.cuda_graphs) return;
  ROTOR_CHECK(kv_.num_blocks() > 0 && graphs_.empty() && !warmed_up_,
              "runner: graphs warmed up before the KV cache, or twice");
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
  StepInputs none;
  none.query_start = {0};
  batch_->stage(0, none, max_blocks_per_seq_);
  batch_->pad_decodes(0, 0, largest, max_blocks_per_seq_);
  batch_->upload(0, largest, largest, largest, max_blocks_per_seq_, {});
  plan_decodes(0, largest, 0, opt_.max_model_len);
  sampler_->pad(0, 0, largest);
  sampler_->upload(0, largest);
  device_step(graph_batch(largest), largest);
  ops_.synchronize();
  warmed_up_ = true;
}

void ModelRunner::capture_graphs() {
  if (!opt_.cuda_graphs) return;
  ROTOR_CHECK(warmed_up_ && graphs_.empty(), "runner: graphs captured before the warm-up step, or twice");
  for (int B : opt_.graph_batch_sizes) {
    const AttentionBatch b = graph_batch(B);
    graphs_.emplace_back(B, CudaGraph::capture(ops_, [&] { device_step(b, B); }));
  }
  ops_.synchronize();
}

LaunchedStep ModelRunner::launch(const StepInputs& in) {
  // Placeholders: a token set on the host, or a fill from the previous step's sampled ids.
  PlaceholderFills fills;
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
  ROTOR_CHECK(awaiting_slot_ < 0, "runner: a step launched while the one before awaits its bitmasks");
  const int slot_index = next_slot_;
  Slot& slot = slots_[slot_index];
  ROTOR_CHECK(!slot.busy.load(std::memory_order_acquire),
              "runner: a step launched while two earlier ones still await wait()");
  slot.busy.store(true, std::memory_order_relaxed);
  next_slot_ = (next_slot_ + 1) % kStagingSlots;

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
  batch_->stage(slot_index, in, width);
  sampler_->stage(slot_index, in, R);

  LaunchedStep st;
  st.slot = slot_index;
  st.num_sample = ns;
  st.num_rows = R;
  st.sample_seq = in.sample_seq;
  st.argmax_seq = in.argmax_seq;
  st.argmax_count = in.argmax_count;
  st.num_logprobs = in.num_logprobs;
  st.max_logprobs = in.max_logprobs;
  st.prompt_lp_count = in.prompt_lp_count;
  st.prompt_lp_k = in.prompt_lp_k;
  st.prompt_top_k = in.prompt_top_k;
  if (in.prompt_top_k >= 0) st.targets = in.targets;
  st.out.resize(S);
  const Tensor& sampled = sampler_->sampled();
  const Tensor previous = sampled.rows(0, std::max(prev_num_sample_, 1));
  if (graph) {
    batch_->pad_decodes(slot_index, S, padded, width);
    sampler_->pad(slot_index, S, padded);
    batch_->upload(slot_index, padded, padded, padded, width, fills);
    plan_decodes(slot_index, padded, S, opt_.max_model_len);
    sampler_->upload(slot_index, padded);
    batch_->fill_placeholders(fills, previous, padded, Tensor{});
    graph->replay();
    finish_launch(st, nullptr);
    return st;
  }
  batch_->upload(slot_index, T, S, R, width, fills);
  sampler_->upload(slot_index, R);
  sampler_->upload_extras(slot_index, in);
  batch_->fill_placeholders(fills, previous, T,
                            sampler_->output_tokens(static_cast<int64_t>(in.output_tokens.size())));
  plan_decodes(slot_index, in.num_decode, in.num_decode, in.max_seq_len);
  AttentionBatch b = batch_->view(T, S, width, plan_splits_ && in.num_decode > 0);
  b.num_decode_seqs = in.num_decode;
  b.max_query_len = in.max_query_len;
  b.max_seq_len = in.max_seq_len;
  // With --calculate-kv-scales the first step that writes prompt tokens sets the scales.
  std::vector<LayerKVCache> computing;
  if (scales_pending_ && in.num_tokens > in.num_decode) {
    computing = kv_.layers_computing_scales();
    scales_pending_ = false;
  }
  const Tensor hidden = hidden_.tensor.rows(0, R);
  model_->forward(batch_->ids(T), b, computing.empty() ? kv_.layers() : std::span<const LayerKVCache>(computing),
                  batch_->rows(R), hidden);
  sampler_->first_logits(*model_, hidden, R);
  // Grammar bitmasks: the host writes them now, behind the queued forward (launch_sampling).
  st.awaits_bitmasks = !in.bitmask_rows.empty();
  if (st.awaits_bitmasks) awaiting_slot_ = slot_index;
  else queue_sampling(st, in, {});
  return st;
}

void ModelRunner::launch_sampling(LaunchedStep& st, const StepInputs& in, std::span<const uint32_t> bitmasks) {
  ROTOR_CHECK(st.awaits_bitmasks && st.slot == awaiting_slot_,
              "runner: launch_sampling for a step that does not await its bitmasks");
  const size_t words = (static_cast<size_t>(config_.vocab_size) + 31) / 32;
  ROTOR_CHECK(bitmasks.size() == in.bitmask_rows.size() * words, "runner: {} bitmask words for {} rows of {}",
              bitmasks.size(), in.bitmask_rows.size(), words);
  st.awaits_bitmasks = false;
  awaiting_slot_ = -1;
  queue_sampling(st, in, bitmasks);
}

void ModelRunner::queue_sampling(LaunchedStep& st, const StepInputs& in, std::span<const uint32_t> bitmasks) {
  std::vector<std::pair<int, float*>> logit_rows;
  for (int i = 0; i < st.num_sample; ++i)
    if (in.return_logits[i]) {
      SeqResult& res = st.out[in.sample_seq[i]];
      res.logits.resize(config_.vocab_size);
      logit_rows.emplace_back(i, res.logits.data());
    }
  sampler_->sample(st.slot, *model_, hidden_.tensor.rows(0, st.num_rows), st.num_rows, logit_rows, &in, bitmasks);
  finish_launch(st, &in);
}

void ModelRunner::finish_launch(LaunchedStep& st, const StepInputs* in) {
  prev_num_sample_ = st.num_sample;
  prev_slot_ = st.slot;
  sampler_->copy_down(st.slot, st.num_rows, in);
  slots_[st.slot].done->record();
}

std::vector<SeqResult> ModelRunner::wait(LaunchedStep& st) {
  ROTOR_CHECK(!st.awaits_bitmasks, "runner: a step waited for before its bitmasks were given (launch_sampling)");
  Slot& slot = slots_[st.slot];
  slot.done->wait();
  comm_.check();
  std::vector<SeqResult> out = std::move(st.out);
  sampler_->read(st.slot, st, out);
  slot.busy.store(false, std::memory_order_release);
  return out;
}

const int32_t* ModelRunner::previous_sampled() {
  ROTOR_CHECK(awaiting_slot_ >= 0, "runner: previous_sampled() while no step awaits its bitmasks");
  ROTOR_CHECK(prev_slot_ >= 0, "runner: no step was launched before this one");
  // Its slot is not reused before the step after the one awaiting its bitmasks.
  slots_[prev_slot_].done->wait();
  return sampler_->drawn(prev_slot_);
}

}  // namespace rotor
