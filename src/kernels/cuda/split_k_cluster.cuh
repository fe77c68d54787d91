// kernels/cuda/split_k_cluster.cuh — the dense GEMM's output stage (bias, bf16/f32 store)
// and its K-split reduction through a thread-block cluster (sm_90): the blocks that split K
// for one output tile are one cluster; each holds its f32 partial tile in its own shared
// memory, and each sums a disjoint slice of the tile over the peers' shared memory in split
// order (v = 0; v += p[0]; v += p[1]; ...), adds the bias and stores.
#pragma once
#include <cooperative_groups.h>

#include "kernels/cuda/common.cuh"

namespace rotor::cuda {

// Where a dense GEMM's [M, N] result goes.
struct DenseOut {
  void* out;  // [M, N] bf16 or f32, row stride ldo
  int64_t ldo;
  bool out_f32;
  const void* bias;  // [N] or null
  bool bias_f32;
  int M, N;

  __device__ __forceinline__ void store(int m, int n, float v) const {
    if (bias) v += bias_f32 ? static_cast<const float*>(bias)[n] : __bfloat162float(static_cast<const bf16*>(bias)[n]);
    if (out_f32)
      static_cast<float*>(out)[m * ldo + n] = v;
    else
      static_cast<bf16*>(out)[m * ldo + n] = __float2bfloat16_rn(v);
  }
};

constexpr int kMaxClusterSplits = 8;  // the portable cluster size

// Row stride (floats) of a BN-wide f32 partial tile in shared memory: the pad of 8 keeps the
// mma fragments' float2 stores free of bank conflicts and rows 16-byte aligned.
template <int BN>
constexpr int split_tile_ld() {
  return BN + 8;
}

// tile: this block's [BM, split_tile_ld<BN>()] f32 partial (shared memory) of the output tile
// at (m0, n0). Every thread of every block of the cluster calls this (the cluster barriers),
// with the cluster spanning the splits of K and nothing else (at most kMaxClusterSplits).
template <int BM, int BN, int THREADS>
__device__ __forceinline__ void cluster_reduce_store(float* tile, const DenseOut& o, int m0, int n0) {
  namespace cg = cooperative_groups;
  constexpr int kLd = split_tile_ld<BN>(), kVecs = BN / 4;
  static_assert(BN % 4 == 0, "tile columns come in float4s");
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every partial is in its block's shared memory
  const int splits = static_cast<int>(cluster.num_blocks()), rank = static_cast<int>(cluster.block_rank());
  const int total = min(BM, o.M - m0) * kVecs;
  for (int i = rank * THREADS + static_cast<int>(threadIdx.x); i < total; i += splits * THREADS) {
    const int r = i / kVecs, c = (i % kVecs) * 4;
    float4 p[kMaxClusterSplits];
#pragma unroll
    for (int s = 0; s < kMaxClusterSplits; ++s)
      if (s < splits)  // the rank clamped: the compiler may compute the mapping ahead of the test
        p[s] = *reinterpret_cast<const float4*>(cluster.map_shared_rank(tile, min(s, splits - 1)) + r * kLd + c);
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int s = 0; s < kMaxClusterSplits; ++s)
      if (s < splits) {
        v[0] += p[s].x;
        v[1] += p[s].y;
        v[2] += p[s].z;
        v[3] += p[s].w;
      }
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (n0 + c + e < o.N) o.store(m0 + r, n0 + c + e, v[e]);
  }
  cluster.sync();  // no block leaves (freeing its shared memory) while a peer still reads it
}

}  // namespace rotor::cuda
