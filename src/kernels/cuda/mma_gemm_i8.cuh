// kernels/cuda/mma_gemm_i8.cuh — the int8 side of the mma.sync GEMM core (mma_gemm.cuh runs
// both element types in one kernel: the same tiles, shared-memory layout, fragment loads and
// pipeline; m16n8k32, s8 x s8 -> s32, where bf16 runs m16n8k16): its arguments (Gemm8Args), the
// dense epilogue (W8A8Out through w8a8_store2) and the K-split sum of i32 partials over a
// cluster. It backs the W8A8 dense GEMM (gemm_w8a8.cu: decode rows, and any rows when Hopper's
// warpgroup MMA is turned off) and the W8A8 experts' mma tiles (moe_w8a8.cu).
//
// Integer sums are exact, so K splits (a dense tile's splits are one thread-block cluster and
// are summed in its shared memory), tile shapes and the rows around a row change no bit; the
// epilogues dequantise in double as the CPU does (w8a8_math.cuh), so outputs are the CPU's.
#pragma once
#include <cooperative_groups.h>

#include "kernels/cuda/gemm_w8a8.cuh"
#include "kernels/cuda/split_k_cluster.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {

// The dense epilogue (W8A8Out, gemm_w8a8.cuh) of output (m, n) from its exact sum.
__device__ __forceinline__ float w8a8_value(const W8A8Out& o, int m, int n, int acc) {
  return o.dynamic ? dequant_dynamic(acc, o.weight_scale[n], o.x_scales[m])
                   : dequant_static(acc, o.quant_bias ? o.quant_bias[n] : 0, o.deq_scale[n]);
}

// Stores the dequantised v0, v1 as columns n and n + 1 of row m (n even, n < N, m < M): one
// word where the output's pairs allow it, else one at a time; n + 1 only where it is below N.
__device__ __forceinline__ void w8a8_put2(const W8A8Out& o, int m, int n, float v0, float v1) {
  const int64_t i = m * o.ldo + n;
  const bool second = n + 1 < o.N;
  if (second && o.pairs) {
    if (o.out_f32)
      *reinterpret_cast<float2*>(static_cast<float*>(o.out) + i) = make_float2(v0, v1);
    else
      *reinterpret_cast<__nv_bfloat162*>(static_cast<bf16*>(o.out) + i) = __floats2bfloat162_rn(v0, v1);
    return;
  }
  if (o.out_f32) {
    static_cast<float*>(o.out)[i] = v0;
    if (second) static_cast<float*>(o.out)[i + 1] = v1;
  } else {
    static_cast<bf16*>(o.out)[i] = __float2bfloat16_rn(v0);
    if (second) static_cast<bf16*>(o.out)[i + 1] = __float2bfloat16_rn(v1);
  }
}

// Stores columns n and n + 1 of row m from their exact sums (n even, m < M); columns >= N are
// left alone.
__device__ __forceinline__ void w8a8_store2(const W8A8Out& o, int m, int n, int acc0, int acc1) {
  if (n >= o.N) return;
  w8a8_put2(o, m, n, w8a8_value(o, m, n, acc0), n + 1 < o.N ? w8a8_value(o, m, n + 1, acc1) : 0.0f);
}

struct Gemm8Args {
  const int8_t* A;             // activations, row stride lda (bytes, a multiple of 16)
  int64_t lda;
  const int8_t* W;             // Dense: [N, K]; MoE: expert e at W + e * w_expert_stride
  int64_t w_expert_stride;
  int M, N, K;                 // K a multiple of 16
  // Dense
  int k_chunk;                 // K range of one blockIdx.z (a multiple of 128)
  bool n_fastest;              // blockIdx.x walks the n tiles (many rows: A tiles stay in L2)
  bool early;                  // the block's W rows into L2 before pdl_wait (prefetch_w_rows)
  W8A8Out out;
  // MoE
  const int32_t* sorted;       // [padded rows] slot t * topk + j of each row; -1 = padding
  const int32_t* tile_expert;  // [tiles] expert of each tile
  const int32_t* num_tiles;    // [1] tiles in use
  int topk;
  const float* a_scales;       // per-token scale of A's rows: GateUp [T] (by token), Down [padded rows]
  const float* w_scales;       // expert e's weight_scale [N] (GateUp: [2N]) at w_scales + e * ws_expert_stride
  int64_t ws_expert_stride;
  float* h;                    // GateUp: [padded rows, N] silu(gate) * up
  float* h_amax;               // GateUp: [padded rows, amax_parts] max |h| over each part's columns
  int amax_parts;              // GateUp: parts per row (gridDim.x * parts per block)
  bf16* y;                     // Down: [T * topk, N]
};

// The K-split partials of one dense output tile, summed over the cluster's shared memory (each
// block sums a disjoint slice of the tile; integer sums, so the order does not matter) and
// stored through the epilogue. tile: this block's [BM, split_tile_ld<BN>()] i32 partial.
template <int BM, int BN, int THREADS>
__device__ __forceinline__ void cluster_reduce_store_i32(int32_t* tile, const W8A8Out& o, int m0, int n0) {
  namespace cg = cooperative_groups;
  constexpr int kLd = split_tile_ld<BN>(), kVecs = BN / 4;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every partial is in its block's shared memory
  const int splits = static_cast<int>(cluster.num_blocks()), rank = static_cast<int>(cluster.block_rank());
  const int total = min(BM, o.M - m0) * kVecs;
  for (int i = rank * THREADS + static_cast<int>(threadIdx.x); i < total; i += splits * THREADS) {
    const int r = i / kVecs, c = (i % kVecs) * 4;
    int4 v = make_int4(0, 0, 0, 0);
    for (int s = 0; s < splits; ++s) {
      const int4 p = *reinterpret_cast<const int4*>(cluster.map_shared_rank(tile, s) + r * kLd + c);
      v.x += p.x;
      v.y += p.y;
      v.z += p.z;
      v.w += p.w;
    }
    w8a8_store2(o, m0 + r, n0 + c, v.x, v.y);
    w8a8_store2(o, m0 + r, n0 + c + 2, v.z, v.w);
  }
  cluster.sync();  // no block leaves (freeing its shared memory) while a peer still reads it
}

}  // namespace rotor::cuda
