// model/shard.cpp — the split of heads, experts and vocabulary over tensor-parallel ranks.
#include "model/shard.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"

namespace rotor {

ShardSpec ShardSpec::make(const ModelConfig& c, int rank, int world) {
  ROTOR_CHECK(world >= 1 && rank >= 0 && rank < world, "rank {} of a tensor-parallel world of {}", rank, world);
  ROTOR_CHECK(c.num_heads % world == 0, "tensor parallel {} does not divide {} attention heads", world, c.num_heads);
  ROTOR_CHECK(c.num_kv_heads % world == 0 || world % c.num_kv_heads == 0,
              "tensor parallel {} and {} KV heads: neither divides the other", world, c.num_kv_heads);
  ROTOR_CHECK(c.moe_intermediate_size % world == 0, "tensor parallel {} does not divide moe_intermediate_size {}",
              world, c.moe_intermediate_size);
  ROTOR_CHECK(c.vocab_size >= world, "tensor parallel {} over a vocabulary of {}", world, c.vocab_size);
  ShardSpec s;
  s.rank = rank;
  s.world_size = world;
  const int q = c.num_heads / world;
  s.q_heads = {int64_t{rank} * q, q};
  if (c.num_kv_heads >= world) {
    const int kv = c.num_kv_heads / world;
    s.kv_heads = {int64_t{rank} * kv, kv};
  } else {
    s.kv_replicas = world / c.num_kv_heads;
    s.kv_heads = {rank / s.kv_replicas, 1};
  }
  s.experts = {0, c.num_experts};
  const int64_t inter = c.moe_intermediate_size / world;
  s.expert_inter = {rank * inter, inter};
  const int64_t per = (int64_t{c.vocab_size} + world - 1) / world;
  const int64_t v0 = std::min<int64_t>(rank * per, c.vocab_size);
  s.vocab = {v0, std::min<int64_t>(per, c.vocab_size - v0)};
  ROTOR_CHECK(s.vocab.size > 0, "tensor parallel {}: rank {} would hold none of the {} vocabulary rows", world, rank,
              c.vocab_size);
  return s;
}

std::string ShardSpec::str() const {
  return fmt::format("rank {} of {}: q heads [{}, {}), KV heads [{}, {}) (x{} replicas), experts [{}, {}), "
                     "expert intermediate [{}, {}), vocab [{}, {})",
                     rank, world_size, q_heads.begin, q_heads.end(), kv_heads.begin, kv_heads.end(), kv_replicas,
                     experts.begin, experts.end(), expert_inter.begin, expert_inter.end(), vocab.begin, vocab.end());
}

}  // namespace rotor
