// engine/runner/model_runner.h — ModelRunner: turns one step's plain-data work list into
// batch metadata on the device, runs the model through the paged KV cache it owns, and
// samples. One runner per tensor-parallel rank; it knows nothing of requests or scheduling.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "core/sampling_params.h"
#include "kernels/ops.h"
#include "model/qwen3_moe/model.h"

namespace rotor {

// One sequence's share of a step.
struct SeqWork {
  std::span<const int32_t> tokens;       // new tokens: a prompt chunk or the last sampled token
  int num_computed = 0;                  // tokens of this sequence already in the KV cache
  std::span<const int32_t> block_table;  // KV blocks covering num_computed + tokens.size() tokens
  bool sample = false;                   // draw the next token after the last new token
  bool prompt_argmax = false;            // also return the argmax after every new token
  bool return_logits = false;            // return the logits of the sampling row (f32 [V])
  SamplingParams params;
  uint64_t seed = 0;                     // the request's random stream
  int64_t counter = 0;                   // index of the token drawn in that stream
};

struct SeqResult {
  int32_t token = -1;                    // sampled token (when sample)
  std::vector<int32_t> argmax;           // per new token (when prompt_argmax)
  std::vector<float> logits;             // [V] (when return_logits)
};

struct RunnerOptions {
  int max_num_tokens = 2048;             // new tokens per step
  int max_num_seqs = 64;                 // sequences per step
  int max_model_len = 4096;              // longest context
  int block_size = 16;
  int num_blocks = 0;                    // KV blocks (per layer)
};

class ModelRunner {
 public:
  ModelRunner(Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights, RunnerOptions options);
  ~ModelRunner();

  const RunnerOptions& options() const { return opt_; }
  const ModelConfig& config() const { return config_; }
  // Bytes of KV cache one block takes over all layers (K and V).
  static size_t kv_block_bytes(const ModelConfig& config, int kv_heads, int block_size, DType kv_dtype);

  // Runs one step; results in the order of `work`.
  std::vector<SeqResult> execute(std::span<const SeqWork> work);

 private:
  Ops& ops_;
  Communicator& comm_;
  ModelConfig config_;
  ModelWeights weights_;
  RunnerOptions opt_;
  std::unique_ptr<Qwen3MoeModel> model_;
  Buffer kv_buffer_;
  std::vector<LayerKVCache> kv_;
  int max_blocks_per_seq_;
  // Device-side inputs, sized for the largest step.
  OwnedTensor ids_, positions_, slots_, query_start_, seq_lens_, block_tables_, rows_, hidden_, logits_, sampled_;
  OwnedTensor temperature_, top_k_, top_p_, min_p_, seed_, counter_;
};

}  // namespace rotor
