// engine/kv_cache_sizing.h — how many KV blocks an engine gets. --kv-cache-memory-bytes sets
// the KV cache size directly (vLLM's flag of that name). Without it the CPU backend takes
// kDefaultCpuKvCacheBytes (as vLLM's VLLM_CPU_KVCACHE_SPACE default of 4 GiB), and a GPU
// takes --gpu-memory-utilization of its memory minus what weights, activations and scratch
// hold (the ModelRunner measures that once they are placed: RunnerOptions).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace rotor {

constexpr int64_t kDefaultCpuKvCacheBytes = int64_t{4} << 30;

// The KV cache size in bytes when it is fixed up front: the flag, else the CPU default;
// 0 for a GPU without the flag (sized by the runner from --gpu-memory-utilization).
int64_t fixed_kv_cache_bytes(int64_t kv_cache_memory_bytes, Device device);

// Blocks of block_bytes in kv_cache_bytes; throws rotor::Error, naming the flags, when they
// cannot hold one request of max_model_len tokens.
int kv_cache_num_blocks(int64_t kv_cache_bytes, int64_t block_bytes, int block_size, int max_model_len);

}  // namespace rotor
