// model/shard.h — ShardSpec: what one tensor-parallel rank holds of a model, computed once
// from the config, the rank and the world size. The loaders, dummy weights and the model read
// per-rank sizes from here and nowhere else.
#pragma once
#include <cstdint>
#include <string>

#include "model/config.h"

namespace rotor {

// Elements [begin, begin + size) of one dimension.
struct Slice {
  int64_t begin = 0;
  int64_t size = 0;
  int64_t end() const { return begin + size; }
  bool operator==(const Slice&) const = default;
};

struct ShardSpec {
  int rank = 0;
  int world_size = 1;
  Slice q_heads;          // attention heads of this rank (of num_heads)
  // KV heads of this rank (of num_kv_heads). When world_size exceeds num_kv_heads each KV head
  // is replicated on world_size / num_kv_heads consecutive ranks: rank r holds head
  // r / kv_replicas (size 1), which is the head its q heads read.
  Slice kv_heads;
  int kv_replicas = 1;
  // Routed experts: tensor parallelism holds every expert (experts = all) and a slice of each
  // one's intermediate dimension (expert_inter: rows of gate/up, columns of down). Expert
  // parallelism would hold whole experts (experts a slice, expert_inter all).
  Slice experts;
  Slice expert_inter;
  // Vocabulary rows of the embedding and of lm_head: ceil(V / world_size) per rank, the last
  // rank the rest.
  Slice vocab;

  // Throws rotor::Error naming the sizes when the model cannot be split this way.
  static ShardSpec make(const ModelConfig& config, int rank, int world_size);
  bool sharded() const { return world_size > 1; }
  // A row-parallel layer (o_proj, expert down) adds its bias (and W8A8 quant_bias) on this
  // rank only; the others' partial sums are all-reduced onto it.
  bool adds_row_parallel_bias() const { return rank == 0; }
  int64_t q_size(const ModelConfig& c) const { return q_heads.size * c.head_dim; }
  int64_t kv_size(const ModelConfig& c) const { return kv_heads.size * c.head_dim; }
  std::string str() const;
};

}  // namespace rotor
