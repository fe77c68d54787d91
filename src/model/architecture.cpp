// model/architecture.cpp — the table of architectures by model_type, and the generic entry
// points that dispatch through it (visit_weights, make_model, Model::forward).
#include "model/architecture.h"

#include "core/check.h"
#include "model/qwen3_moe/model.h"

namespace rotor {
namespace {

constexpr Architecture kArchitectures[] = {
    {"qwen3_moe", qwen3_moe::visit_weights, qwen3_moe::make_model},
};

}  // namespace

const Architecture& find_architecture(const std::string& model_type) {
  for (const Architecture& a : kArchitectures)
    if (model_type == a.model_type) return a;
  ROTOR_FAIL("unsupported model_type '{}' (rotor serves qwen3_moe)", model_type);
}

void visit_weights(const ModelConfig& config, ModelWeights& w, WeightVisitor& visitor) {
  find_architecture(config.model_type).visit_weights(config, w, visitor);
}

std::unique_ptr<Model> make_model(const ModelConfig& config, const ModelWeights& weights, Ops& ops,
                                  Communicator& comm, const ModelLimits& limits) {
  const ShardSpec& s = weights.shard;
  ROTOR_CHECK(s.rank == comm.rank() && s.world_size == comm.world_size(),
              "the weights are rank {} of {}, the communicator rank {} of {}", s.rank, s.world_size, comm.rank(),
              comm.world_size());
  return find_architecture(config.model_type).make_model(config, weights, ops, comm, limits);
}

KVCacheShape kv_cache_shape(const ModelConfig& config, const ShardSpec& shard) {
  return {config.num_layers, static_cast<int>(shard.kv_heads.size), config.head_dim};
}

void Model::forward(const Tensor& ids, const AttentionBatch& batch, std::span<const LayerKVCache> kv,
                    const Tensor& rows, const Tensor& hidden) {
  ROTOR_CHECK(static_cast<int>(kv.size()) == config().num_layers, "forward: {} KV caches for {} layers", kv.size(),
              config().num_layers);
  embed(ids, batch);
  for (size_t l = 0; l < kv.size(); ++l) layer(static_cast<int>(l), batch, kv[l]);
  finish(batch, rows, hidden);
}

}  // namespace rotor
