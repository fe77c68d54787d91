// engine/kv_cache_sizing.cpp — KV cache bytes to blocks.
#include "engine/kv_cache_sizing.h"

#include <algorithm>
#include <limits>

#include "core/check.h"

namespace rotor {

int64_t fixed_kv_cache_bytes(int64_t kv_cache_memory_bytes, Device device) {
  ROTOR_CHECK(kv_cache_memory_bytes >= 0, "--kv-cache-memory-bytes must not be negative");
  if (kv_cache_memory_bytes > 0) return kv_cache_memory_bytes;
  return device.is_cpu() ? kDefaultCpuKvCacheBytes : 0;
}

int kv_cache_num_blocks(int64_t kv_cache_bytes, int64_t block_bytes, int block_size, int max_model_len) {
  ROTOR_CHECK(kv_cache_bytes > 0 && block_bytes > 0, "KV cache of {} bytes, {} bytes per block", kv_cache_bytes,
              block_bytes);
  const int64_t blocks = std::min<int64_t>(kv_cache_bytes / block_bytes, std::numeric_limits<int>::max());
  const int64_t needed = (static_cast<int64_t>(max_model_len) + block_size - 1) / block_size;
  ROTOR_CHECK(blocks >= needed,
              "a KV cache of {} bytes holds {} tokens ({} blocks of {} tokens, {} bytes each), fewer than "
              "--max-model-len {}: raise --kv-cache-memory-bytes to at least {} or lower --max-model-len",
              kv_cache_bytes, blocks * block_size, blocks, block_size, block_bytes, max_model_len, needed * block_bytes);
  return static_cast<int>(blocks);
}

}  // namespace rotor
