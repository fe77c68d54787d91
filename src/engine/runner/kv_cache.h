// engine/runner/kv_cache.h — KvCache: one rank's paged KV cache (per layer K and V [blocks,
// kv_heads, block_size, head_dim] in one buffer, in the backend's activation dtype), and how
// many blocks fit the device's memory under --gpu-memory-utilization.
#pragma once
#include <span>
#include <vector>

#include "core/buffer.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace rotor {

class KvCache {
 public:
  KvCache() = default;
  // num_blocks blocks; zeroed: filled with zeros (padding rows of decode graphs read block 0).
  KvCache(Ops& ops, const KVCacheShape& shape, int block_size, int num_blocks, bool zeroed);

  std::span<const LayerKVCache> layers() const { return layers_; }
  int num_blocks() const { return num_blocks_; }

  // The blocks that fit what is left of `utilization` of the device's memory once everything
  // already allocated is counted (vLLM's --gpu-memory-utilization); throws rotor::Error when
  // that is fewer than `at_least` or the backend has no memory budget.
  static int blocks_that_fit(Ops& ops, const KVCacheShape& shape, int block_size, double utilization, int at_least);

 private:
  Buffer buffer_;
  std::vector<LayerKVCache> layers_;
  int num_blocks_ = 0;
};

}  // namespace rotor
