// engine/runner/step_inputs.h — the plain data of a runner step: the work list (SeqWork), its
// results (SeqResult), the runner's sizes (RunnerOptions), the host arrays a step is flattened
// into (StepInputs, built by prepare_step on any thread, touching no device state) and a step
// whose device work is queued (LaunchedStep). A token not known at prepare time — the one the
// previous step is still sampling — is a kPlaceholderToken. A step with grammar bitmasks
// (structured outputs) names the rows they limit; the masks themselves are given to the
// runner once the step's forward is queued (ModelRunner::launch_sampling).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/sampling_params.h"
#include "core/token_logprobs.h"
#include "kernels/decode_plan.h"
#include "model/weight_prefetch.h"

namespace rotor {

constexpr int32_t kPlaceholderToken = -1;

// One sequence's share of a step.
struct SeqWork {
  std::span<const int32_t> tokens;       // new tokens: a prompt chunk or the last sampled token
  int num_computed = 0;                  // tokens of this sequence already in the KV cache
  std::span<const int32_t> block_table;  // KV blocks covering num_computed + tokens.size() tokens
  bool sample = false;                   // draw the next token after the last new token
  bool prompt_argmax = false;            // also return the argmax after every new token
  bool return_logits = false;            // return the logits of the sampling row (f32 [V], after penalties and masks)
  SamplingParams params;                 // temperature, top-k/p, min-p, penalties, logprobs, prompt_logprobs
  uint64_t seed = 0;                     // the request's random stream
  int64_t counter = 0;                   // index of the token drawn in that stream
  // With penalties: the request's prompt and the tokens it generated so far (the last may be
  // a placeholder: then it is the same token as the placeholder in `tokens`). With
  // params.prompt_logprobs, the prompt too: each new prompt token's row gives the log-prob of
  // the prompt token after it.
  std::span<const int32_t> prompt_tokens;
  std::span<const int32_t> output_tokens;
  std::span<const int32_t> masked_tokens;  // may not be sampled this step (min_tokens)
  bool token_bitmask = false;            // a grammar bitmask limits the draw (StepInputs::bitmask_rows)
};

struct SeqResult {
  int32_t token = -1;                    // sampled token (when sample)
  std::vector<int32_t> argmax;           // per new token (prompt_argmax, or prompt log-probs asked)
  std::vector<float> logits;             // [V] (when return_logits)
  std::optional<TokenLogprobs> logprobs; // when sample and params.logprobs is set
  // params.prompt_logprobs: for each new token followed by a prompt token, in order, that
  // token's log-prob and the params.prompt_logprobs best at its position.
  std::vector<TokenLogprobs> prompt_logprobs;
};

enum class KvCacheDtype : uint8_t { Auto, BFloat16, Fp8E4M3 };

struct RunnerOptions {
  int max_num_tokens = 2048;             // new tokens per step
  int max_num_seqs = 64;                 // sequences per step
  int max_model_len = 4096;              // longest context
  int block_size = 16;
  int num_blocks = 0;                    // KV blocks (per layer); the least with gpu_memory_utilization
  // > 0 (GPU only): the KV cache takes what is left of this share of the GPU's memory once
  // weights, activations and scratch are placed (vLLM's --gpu-memory-utilization).
  double gpu_memory_utilization = 0.0;
  // The KV cache's elements (--kv-cache-dtype): the backend's activation dtype, bf16 (the same
  // on a GPU; on the CPU a bf16 cache instead of f32) or e4m3 with per-layer scales: the
  // checkpoint's (ModelWeights::k_scale / v_scale), else 1; with calculate_kv_scales
  // (--calculate-kv-scales) computed by the first step with prompt tokens from the k and v it
  // writes (LayerKVCache::calculate_scales), the checkpoint's ignored.
  KvCacheDtype kv_cache_dtype = KvCacheDtype::Auto;
  bool calculate_kv_scales = false;
  // Decode steps (every sequence one new token, sampled) replay CUDA graphs captured at
  // start-up for padded batch sizes (cudagraph_mode FULL_DECODE_ONLY); GPU only.
  bool cuda_graphs = false;
  std::vector<int> graph_batch_sizes;    // empty: 1, 2, 4, 8, then multiples of 8 up to max_num_seqs
  // Decode attention's splits: a plan per step from the context lengths (kernels/decode_plan.h)
  // or the backend's fixed splits; by default the backend's choice (the GPU plans, the CPU does
  // not), ROTOR_DECODE_SPLITS=plan|fixed overrides it.
  DecodeSplitOptions decode_splits = decode_split_options_from_env();
  // The L2 weight prefetch of small decode steps (model/weight_prefetch.h; none by default).
  WeightPrefetch weight_prefetch;
  // Most top log-probs (and prompt log-probs) a step asks for; -1: not known.
  int max_logprobs = -1;
  // At start-up, set aside every sampling buffer a step within these limits can use (log-probs
  // up to max_logprobs, penalty lists of max_model_len tokens a sequence, masks of the whole
  // vocabulary), so that no step grows one: a growth waits for the GPU. The prefill lane's
  // runners do (one sequence a step: a few MiB); see docs/prefill-lane.md.
  bool reserve_sampling = false;
};

// The host-side inputs of one step (plain arrays), built by ModelRunner::prepare().
struct StepInputs {
  int num_seqs = 0, num_tokens = 0, num_decode = 0, max_query_len = 0, max_seq_len = 0;
  std::vector<int32_t> ids, positions, slots, query_start, seq_lens, rows;
  int table_width = 1;                   // block_tables is [num_seqs, table_width]
  std::vector<int32_t> block_tables;
  // Rows asked back: [0, num_sample) sample rows (work index sample_seq[i]), then the new
  // tokens of each sequence with prompt_argmax or prompt log-probs (work index argmax_seq[i],
  // argmax_count[i] rows, of which the first prompt_lp_count[i] have a next prompt token).
  int num_sample = 0;
  std::vector<int> sample_seq, argmax_seq, argmax_count, prompt_lp_count, prompt_lp_k;  // prompt_lp_k: -1 none
  std::vector<int32_t> targets;          // [R] per row: the prompt token after it (0 where none)
  int prompt_top_k = -1;                 // most top log-probs a prompt row asks for; -1: none asked
  std::vector<bool> return_logits;       // per sample row
  bool decode_only = false;              // every sequence decodes one sampled token, nothing else
  // Sampling of the sample rows.
  std::vector<float> temperature, top_p, min_p, repetition, presence, frequency;
  std::vector<int32_t> top_k;
  std::vector<int64_t> seed, counter;
  bool any_penalty = false, any_mask = false;
  std::vector<int32_t> prompt_tokens, prompt_start, output_tokens, output_start, mask_ids, mask_start;
  std::vector<int> num_logprobs;         // per sample row, -1 = none
  int max_logprobs = -1;
  // Grammar bitmasks (structured outputs): the sample rows that have one, in order. Their
  // masks, [bitmask_rows.size(), ceil(vocab / 32)] u32 (bit t: token t allowed), go to
  // ModelRunner::launch_sampling once launch() has queued the forward, so on a GPU the host
  // writes them while the device runs it. Such steps never replay decode graphs.
  std::vector<int32_t> bitmask_rows;
  // Placeholder tokens: their index in ids and (or -1) in output_tokens, by work index;
  // source_row >= 0: filled on the device from that sample row of the previous launched step.
  struct Placeholder {
    int seq;
    int ids_index;
    int output_index;
    int source_row = -1;
  };
  std::vector<Placeholder> placeholders;

  // Sets the placeholder token(s) of work[seq].
  void set_token(int seq, int32_t token);
  // The placeholder token(s) of work[seq] are what the previous launch() sampled in its
  // sample row `row` (its i-th sampling sequence in work order); copied on the device.
  void set_previous_row(int seq, int row);
};

// A step whose device work is queued (ModelRunner::launch); ModelRunner::wait gives its results.
struct LaunchedStep {
  int slot = -1;                         // staging set in use
  int num_sample = 0, num_rows = 0;
  std::vector<int> sample_seq, argmax_seq, argmax_count, num_logprobs, prompt_lp_count, prompt_lp_k;
  int max_logprobs = -1, prompt_top_k = -1;
  std::vector<int32_t> targets;          // of the prompt rows' log-probs (when prompt_top_k >= 0)
  std::vector<SeqResult> out;            // by work index; logits rows already copied
  bool awaits_bitmasks = false;          // forward queued; sampling waits for launch_sampling
};

// Checks the work against the options and flattens it: decodes first, then prefill chunks.
StepInputs prepare_step(std::span<const SeqWork> work, const RunnerOptions& options, int vocab_size);

}  // namespace rotor
