// model/weights.h — ModelWeights: every tensor of a model as views (into an mmap'd checkpoint,
// into owned host buffers, or into device buffers after upload), the shard of the model they
// hold, and whatever owns that memory; WeightVisitor: the walk over those tensors by
// checkpoint name and slice, which each architecture writes once (model/architecture.h) and
// the loaders, dummy weights, upload and the quantizer share.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/shard.h"

namespace rotor {

class Checkpoint;

// One decoder layer. Fields an architecture does not use stay undefined (empty).
struct LayerWeights {
  Tensor input_norm;                  // [H]
  Tensor input_norm_bias;             // [H] optional (W8A8 smoothing shift)
  Tensor post_norm;                   // [H]
  Tensor post_norm_bias;              // [H] optional
  Tensor q_norm, k_norm;              // [hd]
  std::vector<LinearWeight> qkv;      // parts writing consecutive columns of the [T, qkv_size] output
  LinearWeight qkv_fused;             // optional: the parts stacked [qkv_size, H], one GEMM (model/stack_qkv.h);
                                      // qkv are then views of its row blocks
  LinearWeight o_proj;                // [H, Hq*hd] (this rank's columns)
  LinearWeight router;                // mlp.gate [E, H]
  ExpertWeights experts;
};

struct ModelWeights {
  Tensor embed;                       // [V, H] (this rank's vocabulary rows)
  Tensor final_norm;                  // [H]
  Tensor final_norm_bias;             // [H] optional
  LinearWeight lm_head;               // [V, H] (the embedding when tied)
  std::vector<LayerWeights> layers;
  std::string quantization;           // "" (float weights) or "w8a8"
  ShardSpec shard;                    // which rank's slices these are
  // An FP8 KV cache's per-layer scales from the checkpoint (model/kv_scales.h); empty: none.
  std::vector<float> k_scale, v_scale;

  // Owners of the memory the views point into.
  std::shared_ptr<Checkpoint> checkpoint;
  std::vector<Buffer> owned;

  // The same views without the owners (this object must outlive the copy).
  ModelWeights views() const;
};

// A plain tensor (norm weight, embedding) of a checkpoint and the rows this rank holds.
struct TensorSpec {
  std::string name;                   // checkpoint name
  Shape shape;                        // in the checkpoint
  Slice rows;                         // of dimension 0 (all of them unless split)
  bool optional = false;              // may be absent: then left undefined
  const char* output = nullptr;       // a norm's: the named intermediate (model.h) it writes
};

// A linear layer y = x W^T, W [out, in] in the checkpoint, and this rank's part of it.
struct LinearSpec {
  std::string prefix;                 // tensors prefix + ".weight", ".bias", ".deq_scale", ...
  int64_t out = 0, in = 0;
  Slice rows;                         // of out: column-parallel layers split it
  Slice cols;                         // of in: row-parallel layers split it
  // False on all ranks but one of a row-parallel layer: its bias (and W8A8 quant_bias) stays
  // undefined there, since the partial sums are all-reduced.
  bool adds_bias = true;
  bool quantizable = true;            // the quantizer may make it int8 (not the router, not lm_head)
  const char* input = nullptr;        // the named intermediate (model.h) it reads
  const Tensor* tied_to = nullptr;    // when the checkpoint lacks it: this tensor (tied embeddings)
  bool split() const { return rows.size != out || cols.size != in; }
};

// One layer's routed experts: expert e's projections are prefix.e.{gate, up, down}, gate and up
// [inter, hidden] split by rows, down [hidden, inter] split by columns.
struct ExpertsSpec {
  std::string prefix;                 // e.g. "model.layers.0.mlp.experts"
  std::string gate, up, down;         // e.g. "gate_proj", "up_proj", "down_proj"
  int64_t num_experts = 0, hidden = 0, inter = 0;  // E, H, I of the checkpoint
  Slice experts;                      // the experts this rank holds
  Slice inter_slice;                  // the part of each one's intermediate dimension
  bool adds_bias = true;              // as LinearSpec::adds_bias, for down
  LinearSpec gate_spec(int64_t e) const;
  LinearSpec up_spec(int64_t e) const;
  LinearSpec down_spec(int64_t e) const;
};

class WeightVisitor {
 public:
  virtual ~WeightVisitor() = default;
  // Before the tensors of one group: the model's own (layer -1), then each layer's.
  virtual void begin_group(int layer) { (void)layer; }
  virtual void tensor(Tensor& t, const TensorSpec& spec) = 0;
  virtual void linear(LinearWeight& w, const LinearSpec& spec) = 0;
  virtual void experts(ExpertWeights& e, const ExpertsSpec& spec) = 0;
};

// Every tensor of a linear layer with its checkpoint suffix ("weight", "bias", "deq_scale",
// "quant_bias", "weight_scale") and whether it is indexed by output channel.
template <typename F>
void for_each_tensor(LinearWeight& w, F&& f) {
  f(w.weight, "weight", false);
  f(w.bias, "bias", true);
  f(w.deq_scale, "deq_scale", true);
  f(w.quant_bias, "quant_bias", true);
  f(w.weight_scale, "weight_scale", true);
}

// Walks `w` with the visitor in the architecture's order (model/architecture.h), sizing
// w.layers for config.num_layers; slices from w.shard.
void visit_weights(const ModelConfig& config, ModelWeights& w, WeightVisitor& visitor);

// True when some linear layer of `w` outside the experts (which quantise inside
// Ops::moe_experts) is quantized.
bool has_quantized_linear(const ModelConfig& config, const ModelWeights& w);

// Loads a Hugging Face checkpoint: bf16/f32 (model*.safetensors, sharded or not) or, when the
// directory holds quant_model_description.json, W8A8 (quant_model_weight_w8a8*.safetensors;
// ../shared/docs/W8A8.md). Every tensor is checked for presence, dtype and shape against the
// config; only `shard`'s slices are kept, as zero-copy views (row-parallel slices are strided)
// except scales converted to f32.
ModelWeights load_weights(const ModelConfig& config, const std::filesystem::path& dir,
                          const ShardSpec& shard);

// Random weights of the right shapes for `shard`, made on ops' device, deterministic for a
// seed: linears ~ N(0, 1/in_features), embeddings ~ N(0, 1), norms ~ 1 + N(0, 0.01); experts
// stacked. bf16; with w8a8 the layers a W8A8 checkpoint quantises are int8 (q/k/v/o static
// with input scale 4/127, experts dynamic with stacked scales), quantised from such random
// float weights. Replicated tensors are the same on every rank; split ones are each rank's
// own draw (not slices of the unsharded model's).
ModelWeights dummy_weights(const ModelConfig& config, uint64_t seed, Ops& ops, const ShardSpec& shard,
                           bool w8a8 = false);

// Copies every tensor to the allocator's device (strided slices packed), experts stacked
// (ExpertWeights::w13 / w2, plus w13_scale / w2_scale for int8 experts).
ModelWeights upload_weights(const ModelConfig& config, const ModelWeights& host, Allocator& device);

// Host weights whose strided slices (row-parallel layers of a shard) are made contiguous in
// owned memory, for the CPU backend; everything else stays a view.
ModelWeights pack_weights(const ModelConfig& config, ModelWeights host);

}  // namespace rotor
