// engine/runner/kv_cache.h — KvCache: one rank's paged KV cache (per layer K and V [blocks,
// kv_heads, block_size, head_dim] in one buffer, in the backend's activation dtype or e4m3
// with per-layer K and V scales on the device), and how many blocks fit the device's memory
// under --gpu-memory-utilization.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "engine/runner/step_inputs.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace rotor {

// --kv-cache-dtype: auto, bfloat16 (or bf16), fp8 or fp8_e4m3; anything else, fp8_e5m2
// included, throws rotor::Error saying what rotor takes.
KvCacheDtype parse_kv_cache_dtype(const std::string& kv_cache_dtype);

class KvCache {
 public:
  KvCache() = default;
  // num_blocks blocks of `dtype` (kv_dtype(): the activation dtype, bf16 or e4m3); zeroed: filled with zeros (padding rows of decode
  // graphs read block 0). FP8: scales [num_layers] per K and V (empty: all 1).
  KvCache(Ops& ops, const KVCacheShape& shape, DType dtype, int block_size, int num_blocks, bool zeroed,
          const std::vector<float>& k_scales = {}, const std::vector<float>& v_scales = {});

  // The element type of a cache of `d` on `ops`.
  static DType kv_dtype(const Ops& ops, KvCacheDtype d) {
    return d == KvCacheDtype::Fp8E4M3 ? DType::F8E4M3 : d == KvCacheDtype::BFloat16 ? DType::BF16 : ops.act_dtype();
  }

  // The same blocks without owning them (this cache must outlive the view): another lane's
  // runner on the same GPU writes and reads them too.
  KvCache view() const;

  std::span<const LayerKVCache> layers() const { return layers_; }
  // The same layers asking qk_norm_rope to compute their scales (FP8 only).
  std::vector<LayerKVCache> layers_computing_scales() const;
  int num_blocks() const { return num_blocks_; }

  // The blocks that fit what is left of `utilization` of the device's memory once everything
  // already allocated is counted (vLLM's --gpu-memory-utilization), split evenly between the
  // `sharers` ranks whose caches go on this device (same-device ranks, each counting after all
  // of them placed their weights); throws rotor::Error when that is fewer than `at_least` or
  // the backend has no memory budget.
  static int blocks_that_fit(Ops& ops, const KVCacheShape& shape, DType dtype, int block_size, double utilization,
                             int at_least, int sharers = 1);

 private:
  Buffer buffer_;
  Buffer scales_;                       // FP8: [num_layers, 2] f32 (K's, V's)
  std::vector<LayerKVCache> layers_;
  int num_blocks_ = 0;
};

}  // namespace rotor
