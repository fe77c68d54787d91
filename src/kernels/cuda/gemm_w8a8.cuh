// kernels/cuda/gemm_w8a8.cuh — the W8A8 dense GEMM (ops.h's gemm_w8a8): exact int8 x int8 sums
// and the static or dynamic dequantisation epilogue, in the CPU's arithmetic. Few rows
// (decode) run mma.sync tiles that stream the weights with K split over a thread-block
// cluster (split by a rule of N, K and the SM count only); many rows run Hopper wgmma tiles,
// or mma.sync tiles when `wgmma` is off (the fallback; results are the same bits).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// Where a dense W8A8 GEMM's [M, N] result goes and its epilogue (ops.h's gemm_w8a8).
struct W8A8Out {
  void* out;                  // [M, N] bf16 or f32, row stride ldo (elements)
  int64_t ldo;
  bool out_f32;
  bool pairs;                 // columns n, n + 1 (n even) may be stored as one 4- or 8-byte word
  bool dynamic;               // W8A8Dynamic: acc * weight_scale[n] * x_scales[m]
  const float* deq_scale;     // static [N]: (acc + quant_bias[n]) * deq_scale[n]
  const int32_t* quant_bias;  // static [N] or null (0)
  const float* weight_scale;  // dynamic [N]
  const float* x_scales;      // dynamic [M]
  int M, N;
};

struct W8A8Gemm {
  const int8_t* x;  // [M, K] contiguous
  const int8_t* w;  // [N, K] contiguous
  W8A8Out out;      // destination and epilogue (out.M = M, out.N = N)
  int M, N, K;      // K a multiple of 16
};

// Rows up to which the split-K mma.sync tiles run (above: 128-row tiles).
constexpr int kW8A8SmallRows = 256;

// No scratch memory (capturable in a CUDA graph).
// A small-M tile's K splits keep at least kMinSplitBytes of K each (512: faster than 256 or 128
// at the TP-8 rank's 8 and 32 rows on an H100, docs/perf-log.md 2026-12-06 06:22). early: each
// small-M block prefetches its W rows into L2 before pdl_wait (ROTOR_EARLY_LOADS=1).
// wgmma_cols: rows above kW8A8SmallRows on wgmma blocks of that many W rows (256 or 128); 0,
// on mma.sync 128 x 128 tiles (the same bits every way).
constexpr int kMinSplitBytes = 512;
cudaError_t gemm_w8a8(const W8A8Gemm& g, int wgmma_cols, int num_sms, bool early, cudaStream_t stream);

}  // namespace rotor::cuda
