// engine/runner/model_runner.h — ModelRunner: turns one step's plain-data work list into
// batch metadata on the device, runs the model through the paged KV cache it owns, and
// samples (penalties, masks, log-probs included). One runner per tensor-parallel rank; it
// knows nothing of requests or scheduling. A step is prepare() (host arrays only, any thread),
// launch() (device work queued, no wait) and wait() (the sampled ids back). A token not known
// at prepare() time — the one the previous step is still sampling — is a kPlaceholderToken:
// set on the host (StepInputs::set_token) or, without waiting, filled on the device from the
// previous launched step's sampled ids (StepInputs::set_previous_row). On a GPU the metadata
// goes up from page-locked staging (two sets, so step N+1 is staged while step N runs) in
// asynchronous copies, decode steps can replay CUDA graphs captured at start-up, and a step
// waits for the device only to read its sampled ids back.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "core/sampling_params.h"
#include "core/token_logprobs.h"
#include "engine/runner/cuda_graph.h"
#include "kernels/ops.h"
#include "model/qwen3_moe/model.h"

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
  SamplingParams params;                 // temperature, top-k/p, min-p, penalties, logprobs
  uint64_t seed = 0;                     // the request's random stream
  int64_t counter = 0;                   // index of the token drawn in that stream
  // With penalties: the request's prompt and the tokens it generated so far (the last may be
  // a placeholder: then it is the same token as the placeholder in `tokens`).
  std::span<const int32_t> prompt_tokens;
  std::span<const int32_t> output_tokens;
  std::span<const int32_t> masked_tokens;  // may not be sampled this step (min_tokens)
  bool token_bitmask = false;            // a grammar bitmask limits the draw (StepInputs::fill_bitmasks)
};

struct SeqResult {
  int32_t token = -1;                    // sampled token (when sample)
  std::vector<int32_t> argmax;           // per new token (when prompt_argmax)
  std::vector<float> logits;             // [V] (when return_logits)
  std::optional<TokenLogprobs> logprobs; // when sample and params.logprobs is set
};

struct RunnerOptions {
  int max_num_tokens = 2048;             // new tokens per step
  int max_num_seqs = 64;                 // sequences per step
  int max_model_len = 4096;              // longest context
  int block_size = 16;
  int num_blocks = 0;                    // KV blocks (per layer); the least with gpu_memory_utilization
  // > 0 (GPU only): the KV cache takes what is left of this share of the GPU's memory once
  // weights, activations and scratch are placed (vLLM's --gpu-memory-utilization).
  double gpu_memory_utilization = 0.0;
  // Decode steps (every sequence one new token, sampled) replay CUDA graphs captured at
  // start-up for padded batch sizes (cudagraph_mode FULL_DECODE_ONLY); GPU only.
  bool cuda_graphs = false;
  std::vector<int> graph_batch_sizes;    // empty: 1, 2, 4, 8, then multiples of 8 up to max_num_seqs
};

// The host-side inputs of one step (plain arrays), built by ModelRunner::prepare().
struct StepInputs {
  int num_seqs = 0, num_tokens = 0, num_decode = 0, max_query_len = 0, max_seq_len = 0;
  std::vector<int32_t> ids, positions, slots, query_start, seq_lens, rows;
  int table_width = 1;                   // block_tables is [num_seqs, table_width]
  std::vector<int32_t> block_tables;
  // Rows asked back: [0, num_sample) sample rows (work index sample_seq[i]), then the new
  // tokens of each prompt_argmax sequence (work index argmax_seq[i], argmax_count[i] rows).
  int num_sample = 0;
  std::vector<int> sample_seq, argmax_seq, argmax_count;
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
  // Grammar bitmasks (structured outputs): the sample rows that have one, and the function
  // that writes them, [bitmask_rows.size(), ceil(vocab / 32)] u32, bit t = token t allowed.
  // launch() calls it once the forward is queued (on a GPU the host fills them while the
  // device runs the forward, the tokens of the step before included: previous_sampled()).
  std::vector<int32_t> bitmask_rows;
  std::function<void(std::span<uint32_t>)> fill_bitmasks;
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
  std::vector<int> sample_seq, argmax_seq, argmax_count, num_logprobs;
  int max_logprobs = -1;
  std::vector<SeqResult> out;            // by work index; logits rows already copied
};

class ModelRunner {
 public:
  ModelRunner(Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights, RunnerOptions options);
  ~ModelRunner();

  // The options in force (num_blocks as sized; graph_batch_sizes as captured).
  const RunnerOptions& options() const { return opt_; }
  const ModelConfig& config() const { return config_; }
  // The KV cache, one K/V pair per layer (benchmarks fill it to fake long contexts).
  std::span<const LayerKVCache> kv_cache() const { return kv_; }
  // Bytes of KV cache one block takes over all layers (K and V).
  static size_t kv_block_bytes(const ModelConfig& config, int kv_heads, int block_size, DType kv_dtype);
  // The same for this model on a backend and tensor-parallel rank.
  static size_t kv_block_bytes(Ops& ops, Communicator& comm, const ModelConfig& config, int block_size);

  // Host-side preparation: checks the work and flattens it. Touches no device state.
  StepInputs prepare(std::span<const SeqWork> work) const;
  // Queues a prepared step on the device (every placeholder set or given a previous row)
  // without waiting for earlier steps. At most two launched steps may await wait(); launch
  // and wait may run on different threads (one launching, one waiting, each in step order).
  LaunchedStep launch(const StepInputs& in);
  // Waits for a launched step's sampled ids; results in the order of the work.
  std::vector<SeqResult> wait(LaunchedStep& step);
  // The sampled ids (by sample row) of the step launched before the one launching now,
  // waited for; for StepInputs::fill_bitmasks, on the launching thread.
  const int32_t* previous_sampled();
  // launch + wait.
  std::vector<SeqResult> run(const StepInputs& in) {
    LaunchedStep s = launch(in);
    return wait(s);
  }
  // prepare + run.
  std::vector<SeqResult> execute(std::span<const SeqWork> work) { return run(prepare(work)); }

 private:
  static constexpr int kSlots = 2;
  // Where each metadata field lives in the staging and device buffers (same layout).
  struct Layout {
    size_t ids, positions, slots, query_start, seq_lens, block_tables, rows, temperature, top_k, top_p, min_p, seed,
        counter, fill_ids_src, fill_ids_dst, fill_out_src, fill_out_dst, bytes;
  };
  // Penalties, masks and log-probs: where the step's lists live in extra staging / device memory.
  struct ExtraLayout {
    size_t repetition, presence, frequency, prompt_start, output_start, mask_start, prompt_tokens, output_tokens,
        mask_ids, bytes;
  };
  // One set of page-locked host buffers for a step in flight.
  struct Slot {
    Buffer meta, sampled, extra, results;  // staging up; sampled ids and log-probs down
    Buffer bitmask;                        // grammar bitmasks and their rows, staged up
    std::unique_ptr<DeviceEvent> done;     // recorded after the step's copies down
    std::atomic<bool> busy{false};         // launched and not yet waited for
  };
  // Placeholder fills of a step: (sampled row of the previous step, destination index).
  struct Fills {
    std::vector<int32_t> ids_src, ids_dst, out_src, out_dst;
  };
  // A typed view of a staging buffer at a layout offset.
  template <typename T>
  static T* at(const Buffer& b, size_t offset) {
    return reinterpret_cast<T*>(static_cast<char*>(b.data()) + offset);
  }
  Tensor device(size_t offset, DType dtype, Shape shape) const;
  void size_kv_cache();
  // Writes decode rows [from, to) of staging `meta` as padding (token 0 at position 0, no KV
  // write, context 1).
  void write_padding(const Buffer& meta, int from, int to);
  // Uploads the used part of each field of `meta`: T tokens, S sequences, R hidden rows, and
  // the placeholder fills.
  void upload_metadata(const Buffer& meta, int T, int S, int R, int table_width, const Fills& fills);
  AttentionBatch batch_view(int T, int S, int table_width) const;
  // Forward, logits and sampling of R rows, all queued on the device. logit_rows: (row,
  // destination) pairs whose logits are copied back. With `in`, its sample rows get their
  // penalties and masks before sampling and their log-probs after (extra_dev_ holds the data).
  void device_step(const AttentionBatch& b, int R, const std::vector<std::pair<int, float*>>& logit_rows,
                   const StepInputs* in);
  // Stages (in `slot`) and uploads the penalty and mask data of `in` into extra_dev_.
  void upload_extras(const StepInputs& in, Slot& slot);
  // Has the step's grammar bitmasks written (fill_bitmasks), uploads them and masks the logits.
  void apply_bitmasks(const StepInputs& in, const Tensor& sample_logits);
  // Copies the previous step's sampled ids into this step's placeholders (ids, output lists).
  void fill_placeholders(const Fills& fills, int num_tokens, int num_output_tokens);
  // A device tensor of at least n values, grown (after the queued work) when too small.
  Tensor fit(OwnedTensor& t, DType dtype, int64_t n);
  void capture_graphs();

  Ops& ops_;
  Communicator& comm_;
  ModelConfig config_;
  ModelWeights weights_;
  RunnerOptions opt_;
  std::unique_ptr<Qwen3MoeModel> model_;
  Buffer kv_buffer_;
  std::vector<LayerKVCache> kv_;
  int max_blocks_per_seq_ = 0, max_rows_ = 0;
  Layout layout_{};
  Buffer meta_dev_;
  OwnedTensor hidden_, logits_, sampled_;
  std::array<Slot, kSlots> slots_;
  int next_slot_ = 0;                    // launching thread
  int prev_num_sample_ = 0;              // sample rows of the last launched step (launching thread)
  int prev_slot_ = -1;                   // its staging set (launching thread)
  Slot* launching_ = nullptr;            // the staging set of the step being launched
  int bitmask_words_ = 0;                // ceil(vocab / 32)
  Buffer bitmask_dev_;                   // [max_num_seqs, words] u32 then [max_num_seqs] i32 rows
  ExtraLayout extra_{};
  Buffer extra_dev_;
  OwnedTensor raw_logits_, tok_logprob_, tok_rank_, top_ids_, top_logprobs_;
  std::vector<std::pair<int, std::unique_ptr<CudaGraph>>> graphs_;  // (batch size, graph), ascending
};

}  // namespace rotor
