// model/qwen3_moe/model.h — the Qwen3-MoE architecture: its checkpoint layout (weights.cpp)
// and its forward pass on one tensor-parallel rank (model.cpp), batched over the paged KV cache.
#pragma once
#include <memory>
#include <vector>

#include "model/linear.h"
#include "model/model.h"

namespace rotor {
namespace qwen3_moe {

void visit_weights(const ModelConfig& config, ModelWeights& w, WeightVisitor& visitor);
std::unique_ptr<Model> make_model(const ModelConfig& config, const ModelWeights& weights, Ops& ops,
                                  Communicator& comm, const ModelLimits& limits);

class Qwen3MoeModel final : public Model {
 public:
  Qwen3MoeModel(const ModelConfig& config, const ModelWeights& weights, Ops& ops, Communicator& comm,
                const ModelLimits& limits);

  const ModelConfig& config() const override { return config_; }
  void embed(const Tensor& ids, const AttentionBatch& batch) override;
  void layer(int l, const AttentionBatch& batch, const LayerKVCache& kv) override;
  void finish(const AttentionBatch& batch, const Tensor& rows, const Tensor& hidden) override;
  void logits(const Tensor& hidden, const Tensor& logits) override;

 private:
  ModelConfig config_;
  const ModelWeights& w_;
  Ops& ops_;
  Communicator& comm_;
  int64_t q_heads_, kv_heads_;   // this rank's (w_.shard)
  ModelLimits limits_;
  LinearFront linear_;
  OwnedTensor rope_;             // [max_positions, hd] f32: cos | sin (model/rope.h, YaRN included)
  // Activations, [max_tokens, ...] in ops.act_dtype() unless noted. Between layers the
  // residual stream is residual_ plus the sum over ranks of moe_out_ (this rank's partial sum
  // of the experts), which the next norm adds in one reduction (LinearFront::reduce_rms_norm),
  // except before layer 0.
  OwnedTensor residual_, x_, qkv_, q_, attn_, o_, router_logits_ /* f32 */, topk_w_ /* f32 */, topk_ids_ /* i32 */,
      moe_out_;
};

}  // namespace qwen3_moe
}  // namespace rotor
