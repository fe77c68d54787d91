// engine/runner/model_runner.h — ModelRunner: turns one step's plain-data work list into
// batch metadata on the device, runs the model through the paged KV cache it owns, and
// samples. One runner per tensor-parallel rank; it knows nothing of requests or scheduling.
// On a GPU the metadata goes up from page-locked staging in asynchronous copies, decode
// steps can replay CUDA graphs captured at start-up, and the step waits for the device only
// to read the sampled ids back.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "core/sampling_params.h"
#include "engine/runner/cuda_graph.h"
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
  int num_blocks = 0;                    // KV blocks (per layer); the least with gpu_memory_utilization
  // > 0 (GPU only): the KV cache takes what is left of this share of the GPU's memory once
  // weights, activations and scratch are placed (vLLM's --gpu-memory-utilization).
  double gpu_memory_utilization = 0.0;
  // Decode steps (every sequence one new token, sampled) replay CUDA graphs captured at
  // start-up for padded batch sizes (cudagraph_mode FULL_DECODE_ONLY); GPU only.
  bool cuda_graphs = false;
  std::vector<int> graph_batch_sizes;    // empty: 1, 2, 4, 8, then multiples of 8 up to max_num_seqs
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

  // Runs one step; results in the order of `work`.
  std::vector<SeqResult> execute(std::span<const SeqWork> work);

 private:
  // Where each metadata field lives in the staging and device buffers (same layout).
  struct Layout {
    size_t ids, positions, slots, query_start, seq_lens, block_tables, rows, temperature, top_k, top_p, min_p, seed,
        counter, bytes;
  };
  // Typed views of the host staging buffer.
  template <typename T>
  T* host(size_t offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(meta_host_.data()) + offset);
  }
  Tensor device(size_t offset, DType dtype, Shape shape) const;
  void size_kv_cache();
  // Writes decode rows [from, to) as padding (token 0 at position 0, no KV write, context 1).
  void write_padding(int from, int to);
  // Uploads the used part of each field: T tokens, S sequences, R hidden rows.
  void upload_metadata(int T, int S, int R);
  AttentionBatch batch_view(int T, int S) const;
  // Forward, logits and sampling of R rows, all queued on the device. logit_rows: (row,
  // destination) pairs whose logits are copied back.
  void device_step(const AttentionBatch& b, int R, const std::vector<std::pair<int, float*>>& logit_rows);
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
  Buffer meta_host_, meta_dev_, sampled_host_;
  OwnedTensor hidden_, logits_, sampled_;
  std::vector<std::pair<int, std::unique_ptr<CudaGraph>>> graphs_;  // (batch size, graph), ascending
};

}  // namespace rotor
