// model/model.h — Model: one architecture's forward pass on one tensor-parallel rank, written
// once against kernels/ops.h and comm/communicator.h, batched over the paged KV cache; and
// make_model, the factory keyed on config.model_type (model/architecture.h). The runner calls
// forward() and logits(); the quantizer's calibration drives the same layers one at a time
// and reads named intermediates through the activation callback.
#pragma once
#include <functional>
#include <memory>
#include <span>

#include "comm/communicator.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/shard.h"
#include "model/weight_prefetch.h"
#include "model/weights.h"

namespace rotor {

// Sizes of the activation buffers a model sets aside.
struct ModelLimits {
  int max_tokens = 0;       // new tokens in one forward
  int max_rows = 0;         // hidden rows asked back by one forward
  int max_positions = 0;    // the longest context (RoPE tables)
};

// The paged KV cache of one rank: per layer K and V [blocks, kv_heads, block_size, head_dim].
struct KVCacheShape {
  int num_layers = 0;
  int kv_heads = 0;         // this rank's
  int head_dim = 0;
  // Bytes of one block over all layers, K and V.
  size_t block_bytes(int block_size, DType dtype) const {
    return static_cast<size_t>(num_layers) * 2 * kv_heads * block_size * head_dim * dtype_size(dtype);
  }
};
KVCacheShape kv_cache_shape(const ModelConfig& config, const ShardSpec& shard);

// Named intermediates, as llama.cpp's cb(cur, name, il): the tensor (on the backend's device,
// valid during the call), its name and its layer (-1 outside the layers). Names an
// architecture reports: "attn_in" (the residual stream entering the layer's attention norm),
// "attn_norm" (the attention's input, when it is float), "attn_out"
// (o_proj's input), "ffn_norm" (the router's and experts' input), "ffn_out" (the experts'
// output: this rank's partial sum, reduced by the next norm), "result_norm" (the final-normed rows asked back).
using ActivationCallback = std::function<void(const Tensor& t, const char* name, int layer)>;

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;

  // Embeds the batch's new tokens ids [T] i32 into the residual stream.
  virtual void embed(const Tensor& ids, const AttentionBatch& batch) = 0;
  // Layer l over the residual stream, writing the step's k/v into `kv` (layer l's cache).
  virtual void layer(int l, const AttentionBatch& batch, const LayerKVCache& kv) = 0;
  // The final norm; hidden [N, H] gets the final-normed rows rows [N] i32.
  virtual void finish(const AttentionBatch& batch, const Tensor& rows, const Tensor& hidden) = 0;
  // logits [n, V] f32 of final-normed hidden rows [n, H] (the whole vocabulary on every rank).
  virtual void logits(const Tensor& hidden, const Tensor& logits) = 0;

  // embed, every layer with its cache (kv has one per layer), finish.
  void forward(const Tensor& ids, const AttentionBatch& batch, std::span<const LayerKVCache> kv, const Tensor& rows,
               const Tensor& hidden);

  // Called with every named intermediate from now on (nullptr: none).
  void set_activation_callback(ActivationCallback cb) { callback_ = std::move(cb); }
  // The L2 weight prefetch from now on (none by default).
  void set_weight_prefetch(const WeightPrefetch& p) { prefetch_ = p; }

 protected:
  void report(const Tensor& t, const char* name, int layer) const {
    if (callback_ && t.defined()) callback_(t, name, layer);
  }
  // The prefetch's shares for this batch's step: all zero unless every token is a decode and
  // there are at most its max_batch.
  WeightPrefetch prefetch_for(const AttentionBatch& b) const {
    const bool on = prefetch_.any() && b.num_decode_seqs == b.num_tokens && b.num_tokens <= prefetch_.max_batch;
    return on ? prefetch_ : WeightPrefetch{};
  }

 private:
  ActivationCallback callback_;
  WeightPrefetch prefetch_;
};

// The model of config.model_type over weights (of weights.shard: comm's rank and world size).
std::unique_ptr<Model> make_model(const ModelConfig& config, const ModelWeights& weights, Ops& ops,
                                  Communicator& comm, const ModelLimits& limits);

}  // namespace rotor
