// kernels/cuda/qk_norm_rope.cuh — split the fused QKV rows, per-head RMSNorm of q and k
// (f32), NeoX RoPE from the f32 cos|sin table, q to q_out and k, v into the paged cache (bf16,
// or e4m3 of x / scale with the layer's K and V scales, first computed from the rows written
// when asked: max|k| / 200, max|v| / 100, as the CPU op).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

struct QkNormRopeArgs {
  const void* qkv;            // [T, (Hq + 2 Hkv) * hd] bf16, row stride qkv_stride
  int64_t qkv_stride;
  const void* q_norm_w;       // [hd] bf16
  const void* k_norm_w;       // [hd] bf16
  float eps;
  const float* rope;          // [max_pos, hd]: cos in [:hd/2], sin in [hd/2:]
  int max_pos;
  const int32_t* positions;   // [T]
  const int32_t* slots;       // [T] block * block_size + offset; < 0 = do not write
  void* k_cache;              // [num_blocks, Hkv, block_size, hd] bf16, or e4m3 when kv_scales is set
  void* v_cache;
  float* kv_scales;           // e4m3 cache: [2] f32 (K's, V's); nullptr: bf16 cache
  bool calculate_scales;      // e4m3 cache: set kv_scales from this call's written rows first
  int64_t num_slots;          // num_blocks * block_size
  int block_size;
  void* q_out;                // [T, Hq, hd] bf16 (row stride q_stride)
  int64_t q_stride;
  int T, Hq, Hkv, hd;         // hd a multiple of 64, at most 256
};

cudaError_t qk_norm_rope(const QkNormRopeArgs& a, cudaStream_t stream);

}  // namespace rotor::cuda
