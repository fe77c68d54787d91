// engine/runner/kv_cache.cpp — KV cache sizing from the device's free memory, allocation and
// the per-layer views.
#include "engine/runner/kv_cache.h"

#include <algorithm>

#include "core/check.h"

namespace rotor {

int KvCache::blocks_that_fit(Ops& ops, const KVCacheShape& shape, int block_size, double utilization, int at_least) {
  ROTOR_CHECK(utilization > 0 && utilization <= 1.0, "--gpu-memory-utilization must be in (0, 1], got {}",
              utilization);
  size_t free_b = 0, total_b = 0;
  ROTOR_CHECK(ops.memory_info(&free_b, &total_b), "--gpu-memory-utilization needs a GPU backend");
  const size_t block_bytes = shape.block_bytes(block_size, ops.act_dtype());
  const double budget = utilization * static_cast<double>(total_b) - static_cast<double>(total_b - free_b);
  const int fit = budget > 0 ? static_cast<int>(budget / static_cast<double>(block_bytes)) : 0;
  ROTOR_CHECK(fit >= std::max(at_least, 1),
              "--gpu-memory-utilization {}: {:.2f} GiB of {:.1f} GiB are in use, leaving room for {} KV blocks "
              "({} needed)",
              utilization, (total_b - free_b) / 1073741824.0, total_b / 1073741824.0, fit, std::max(at_least, 1));
  return fit;
}

KvCache::KvCache(Ops& ops, const KVCacheShape& shape, int block_size, int num_blocks, bool zeroed)
    : num_blocks_(num_blocks) {
  const DType dtype = ops.act_dtype();
  Allocator& a = ops.allocator();
  buffer_ = Buffer(a, shape.block_bytes(block_size, dtype) * num_blocks);
  // Zeros (mean 0, std 0). Without graphs nothing reads a slot before writing it, so the cache
  // is left as allocated.
  if (zeroed)
    ops.fill_random(
        Tensor(buffer_.data(), dtype, {static_cast<int64_t>(buffer_.size() / dtype_size(dtype))}, a.device()), 0,
        0.0f, 0.0f);
  const int64_t layer_elems = static_cast<int64_t>(num_blocks) * shape.kv_heads * block_size * shape.head_dim;
  char* base = static_cast<char*>(buffer_.data());
  const Shape kv_shape{num_blocks, shape.kv_heads, block_size, shape.head_dim};
  for (int l = 0; l < shape.num_layers; ++l) {
    LayerKVCache c;
    c.k = Tensor(base + (2 * l) * layer_elems * dtype_size(dtype), dtype, kv_shape, a.device());
    c.v = Tensor(base + (2 * l + 1) * layer_elems * dtype_size(dtype), dtype, kv_shape, a.device());
    layers_.push_back(c);
  }
}

}  // namespace rotor
