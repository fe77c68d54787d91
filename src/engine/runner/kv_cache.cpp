// engine/runner/kv_cache.cpp — the --kv-cache-dtype values, KV cache sizing from the device's
// free memory, allocation, the FP8 cache's scales and the per-layer views.
#include "engine/runner/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"

namespace rotor {

KvCacheDtype parse_kv_cache_dtype(const std::string& d) {
  if (d == "fp8" || d == "fp8_e4m3") return KvCacheDtype::Fp8E4M3;
  if (d == "bfloat16" || d == "bf16") return KvCacheDtype::BFloat16;
  ROTOR_CHECK(d != "fp8_e5m2",
              "--kv-cache-dtype fp8_e5m2: rotor's FP8 KV cache is e4m3 (--kv-cache-dtype fp8 or fp8_e4m3), not e5m2");
  ROTOR_CHECK(d == "auto", "--kv-cache-dtype must be auto, bfloat16, fp8 or fp8_e4m3 (got '{}')", d);
  return KvCacheDtype::Auto;
}

int KvCache::blocks_that_fit(Ops& ops, const KVCacheShape& shape, DType dtype, int block_size, double utilization,
                             int at_least, int sharers) {
  ROTOR_CHECK(utilization > 0 && utilization <= 1.0, "--gpu-memory-utilization must be in (0, 1], got {}",
              utilization);
  size_t free_b = 0, total_b = 0;
  ROTOR_CHECK(ops.memory_info(&free_b, &total_b), "--gpu-memory-utilization needs a GPU backend");
  const size_t block_bytes = shape.block_bytes(block_size, dtype);
  const double budget = (utilization * static_cast<double>(total_b) - static_cast<double>(total_b - free_b)) /
                        std::max(sharers, 1);
  const int fit = budget > 0 ? static_cast<int>(budget / static_cast<double>(block_bytes)) : 0;
  ROTOR_CHECK(fit >= std::max(at_least, 1),
              "--gpu-memory-utilization {}: {:.2f} GiB of {:.1f} GiB are in use, leaving room for {} KV blocks "
              "({} needed){}",
              utilization, (total_b - free_b) / 1073741824.0, total_b / 1073741824.0, fit, std::max(at_least, 1),
              sharers > 1 ? fmt::format(" for each of the {} ranks on this GPU", sharers) : "");
  return fit;
}

KvCache::KvCache(Ops& ops, const KVCacheShape& shape, DType dtype, int block_size, int num_blocks, bool zeroed,
                 const std::vector<float>& k_scales, const std::vector<float>& v_scales)
    : num_blocks_(num_blocks) {
  const bool fp8 = dtype == DType::F8E4M3;
  ROTOR_CHECK(fp8 || dtype == ops.act_dtype() || dtype == DType::BF16, "KV cache: dtype {} on a backend of {} activations",
              dtype_name(dtype), dtype_name(ops.act_dtype()));
  Allocator& a = ops.allocator();
  buffer_ = Buffer(a, shape.block_bytes(block_size, dtype) * num_blocks);
  // Zeros (mean 0, std 0). Without graphs nothing reads a slot before writing it, so the cache
  // is left as allocated.
  if (zeroed)
    ops.fill_random(
        Tensor(buffer_.data(), dtype, {static_cast<int64_t>(buffer_.size() / dtype_size(dtype))}, a.device()), 0,
        0.0f, 0.0f);
  float* scales = nullptr;
  if (fp8) {
    const size_t L = static_cast<size_t>(shape.num_layers);
    ROTOR_CHECK((k_scales.empty() && v_scales.empty()) || (k_scales.size() == L && v_scales.size() == L),
                "KV cache: {} K and {} V scales for {} layers", k_scales.size(), v_scales.size(), L);
    std::vector<float> host(2 * L, 1.0f);
    for (size_t l = 0; l < L && !k_scales.empty(); ++l) {
      host[2 * l] = k_scales[l];
      host[2 * l + 1] = v_scales[l];
    }
    scales_ = Buffer(a, host.size() * sizeof(float));
    a.copy(scales_.data(), host.data(), host.size() * sizeof(float));
    scales = static_cast<float*>(scales_.data());
  }
  const int64_t layer_elems = static_cast<int64_t>(num_blocks) * shape.kv_heads * block_size * shape.head_dim;
  char* base = static_cast<char*>(buffer_.data());
  const Shape kv_shape{num_blocks, shape.kv_heads, block_size, shape.head_dim};
  for (int l = 0; l < shape.num_layers; ++l) {
    LayerKVCache c;
    c.k = Tensor(base + (2 * l) * layer_elems * dtype_size(dtype), dtype, kv_shape, a.device());
    c.v = Tensor(base + (2 * l + 1) * layer_elems * dtype_size(dtype), dtype, kv_shape, a.device());
    if (fp8) c.scales = Tensor(scales + 2 * l, DType::F32, {2}, a.device());
    layers_.push_back(c);
  }
}

KvCache KvCache::view() const {
  KvCache v;
  v.layers_ = layers_;
  v.num_blocks_ = num_blocks_;
  return v;
}

std::vector<LayerKVCache> KvCache::layers_computing_scales() const {
  std::vector<LayerKVCache> out(layers_.begin(), layers_.end());
  for (LayerKVCache& c : out) c.calculate_scales = c.fp8();
  return out;
}

}  // namespace rotor
