// kernels/cuda/mma_gemm_i8.cuh — the int8 tensor-core GEMM core (mma.sync m16n8k32, s8 x s8
// -> s32) behind the W8A8 dense GEMM (gemm_w8a8.cu: decode rows, and any rows when Hopper's
// warpgroup MMA is turned off) and the W8A8 experts' mma tiles (moe_w8a8.cu): acc = A . W^T
// with A [rows, K] and W [N, K] int8, K contiguous, fed by ldmatrix from swizzled shared
// memory through a STAGES-deep cp.async pipeline over K in steps of 128 bytes. The shared
// layout and the fragment loads are mma_gemm.cuh's byte for byte (a row of 128 int8 is a row
// of 64 bf16, and a k32 int8 product reads the 32 bytes a k16 bf16 product reads).
//
// Integer sums are exact, so K splits (a dense tile's splits are one thread-block cluster and
// are summed in its shared memory), tile shapes and the rows around a row change no bit; the
// epilogues dequantise in double as the CPU does (w8a8_math.cuh), so outputs are the CPU's.
#pragma once
#include <cooperative_groups.h>

#include "kernels/cuda/gemm_w8a8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/split_k_cluster.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {

enum class Gemm8Mode {
  Dense,   // rows m of A; W one matrix; K split over blockIdx.z (the splits of a tile are one
           // cluster, gridDim.z <= kMaxClusterSplits); m tiles along x and n tiles along y (or
           // the reverse: Gemm8Args::n_fastest); out
  GateUp,  // MoE: rows are slots of the expert-sorted list (token = slot / topk); W = [gate; up]
           // of the tile's expert [2N, K]; h[row] = silu(gate) * up (f32), N = inter
  Down,    // MoE: rows of the requantised h; W = down of the tile's expert [N, K]; y[slot] (bf16)
};

// The dense epilogue (W8A8Out, gemm_w8a8.cuh) of output (m, n) from its exact sum.
__device__ __forceinline__ float w8a8_value(const W8A8Out& o, int m, int n, int acc) {
  return o.dynamic ? dequant_dynamic(acc, o.weight_scale[n], o.x_scales[m])
                   : dequant_static(acc, o.quant_bias ? o.quant_bias[n] : 0, o.deq_scale[n]);
}

// Stores columns n and n + 1 of row m (n even, m < M); columns >= N are left alone.
__device__ __forceinline__ void w8a8_store2(const W8A8Out& o, int m, int n, int acc0, int acc1) {
  if (n >= o.N) return;
  const float v0 = w8a8_value(o, m, n, acc0);
  const int64_t i = m * o.ldo + n;
  if (n + 1 < o.N) {
    const float v1 = w8a8_value(o, m, n + 1, acc1);
    if (o.pairs) {
      if (o.out_f32)
        *reinterpret_cast<float2*>(static_cast<float*>(o.out) + i) = make_float2(v0, v1);
      else
        *reinterpret_cast<__nv_bfloat162*>(static_cast<bf16*>(o.out) + i) = __floats2bfloat162_rn(v0, v1);
      return;
    }
    if (o.out_f32)
      static_cast<float*>(o.out)[i + 1] = v1;
    else
      static_cast<bf16*>(o.out)[i + 1] = __float2bfloat16_rn(v1);
  }
  if (o.out_f32)
    static_cast<float*>(o.out)[i] = v0;
  else
    static_cast<bf16*>(o.out)[i] = __float2bfloat16_rn(v0);
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

template <int BM, int BN, int WM, int WN, int STAGES>
struct Gemm8Tile {
  static constexpr int kThreads = WM * WN * 32;
  static constexpr int kBK = 128;                // bytes (k values) per row per stage: 8 chunks
  static constexpr int kWarpRows = BM / WM, kWarpCols = BN / WN;
  static constexpr int kMT = kWarpRows / 16, kNT = kWarpCols / 8;
  static constexpr int kAIters = (BM * 8 + kThreads - 1) / kThreads;
  static constexpr int kWIters = (BN * 8 + kThreads - 1) / kThreads;
  static constexpr int kStageBytes = (BM + BN) * kBK;
  static constexpr int kSmemBytes = STAGES * kStageBytes;
  // GateUp: amax parts each block writes per row (one per warp column).
  static constexpr int kAmaxParts = WN;
  static_assert(kWarpRows % 16 == 0 && kWarpCols % 16 == 0, "warp tile must be 16 x 16 multiples");
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

template <int BM, int BN, int WM, int WN, int STAGES, Gemm8Mode MODE>
__global__ void __launch_bounds__(WM * WN * 32, 1) mma_gemm_i8_kernel(const Gemm8Args a) {
  pdl_wait();
  pdl_launch_dependents();
  using Tile = Gemm8Tile<BM, BN, WM, WN, STAGES>;
  constexpr int kThreads = Tile::kThreads, kBK = Tile::kBK, kMT = Tile::kMT, kNT = Tile::kNT;
  extern __shared__ __align__(128) uint8_t smem[];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WN, wn = warp % WN;

  // ---- which rows of A and W this block reads ----
  int tile = 0, k_begin = 0, k_end = a.K, m0 = 0, n0 = 0;
  const int8_t* W = a.W;
  const float* w_scales = a.w_scales;
  if constexpr (MODE == Gemm8Mode::Dense) {
    m0 = (a.n_fastest ? blockIdx.y : blockIdx.x) * BM;
    n0 = (a.n_fastest ? blockIdx.x : blockIdx.y) * BN;
    k_begin = blockIdx.z * a.k_chunk;
    k_end = min(a.K, k_begin + a.k_chunk);
  } else {
    tile = blockIdx.y;
    if (tile >= *a.num_tiles) return;
    const int e = a.tile_expert[tile];
    W += static_cast<int64_t>(e) * a.w_expert_stride;
    w_scales += static_cast<int64_t>(e) * a.ws_expert_stride;
    n0 = blockIdx.x * (MODE == Gemm8Mode::GateUp ? BN / 2 : BN);
  }

  const int8_t* a_src[Tile::kAIters];
  bool a_ok[Tile::kAIters];
#pragma unroll
  for (int i = 0; i < Tile::kAIters; ++i) {
    const int idx = tid + i * kThreads, r = idx / 8;
    a_ok[i] = idx < BM * 8;
    int64_t row = 0;
    if constexpr (MODE == Gemm8Mode::Dense) {
      a_ok[i] = a_ok[i] && m0 + r < a.M;
      row = m0 + r;
    } else {
      const int slot = a_ok[i] ? a.sorted[tile * BM + r] : -1;
      a_ok[i] = a_ok[i] && slot >= 0;
      row = MODE == Gemm8Mode::GateUp ? slot / a.topk : static_cast<int64_t>(tile) * BM + r;
    }
    a_src[i] = a_ok[i] ? a.A + row * a.lda + (idx % 8) * 16 : a.A;
  }
  const int8_t* w_src[Tile::kWIters];
  bool w_ok[Tile::kWIters];
#pragma unroll
  for (int i = 0; i < Tile::kWIters; ++i) {
    const int idx = tid + i * kThreads, j = idx / 8;
    int64_t row;
    bool ok = idx < BN * 8;
    if constexpr (MODE == Gemm8Mode::GateUp) {
      constexpr int kHalf = Tile::kWarpCols / 2;  // gate columns, then up columns, per warp
      const int wj = j % Tile::kWarpCols;
      const int i_col = n0 + (j / Tile::kWarpCols) * kHalf + wj % kHalf;
      ok = ok && i_col < a.N;
      row = wj < kHalf ? i_col : a.N + i_col;
    } else {
      ok = ok && n0 + j < a.N;
      row = n0 + j;
    }
    w_ok[i] = ok;
    w_src[i] = ok ? W + row * static_cast<int64_t>(a.K) + (idx % 8) * 16 : W;
  }

  auto load_stage = [&](int kt, int stage) {
    uint8_t* sa = smem + stage * Tile::kStageBytes;
    uint8_t* sw = sa + BM * kBK;
    const int k0 = k_begin + kt * kBK;
#pragma unroll
    for (int i = 0; i < Tile::kAIters; ++i) {
      const int idx = tid + i * kThreads;
      if (idx < BM * 8) {
        const int r = idx / 8, c = idx % 8;
        const bool ok = a_ok[i] && k0 + c * 16 < k_end;
        cp_async16(sa + r * kBK + swz(r, c) * 16, ok ? a_src[i] + k0 : a.A, ok);
      }
    }
#pragma unroll
    for (int i = 0; i < Tile::kWIters; ++i) {
      const int idx = tid + i * kThreads;
      if (idx < BN * 8) {
        const int r = idx / 8, c = idx % 8;
        const bool ok = w_ok[i] && k0 + c * 16 < k_end;
        cp_async16(sw + r * kBK + swz(r, c) * 16, ok ? w_src[i] + k0 : W, ok);
      }
    }
  };

  int acc[kMT][kNT][4];
#pragma unroll
  for (int i = 0; i < kMT; ++i)
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

  const int ktiles = k_end > k_begin ? (k_end - k_begin + kBK - 1) / kBK : 0;
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    if (kt + STAGES - 1 < ktiles) load_stage(kt + STAGES - 1, (kt + STAGES - 1) % STAGES);
    cp_async_commit();
    const uint8_t* sa = smem + (kt % STAGES) * Tile::kStageBytes;
    const uint8_t* sw = sa + BM * kBK;
#pragma unroll
    for (int kk = 0; kk < kBK / 32; ++kk) {
      uint32_t af[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        const int r = wm * Tile::kWarpRows + mt * 16 + lane % 16;
        ldmatrix_x4(af[mt], sa + r * kBK + swz(r, kk * 2 + lane / 16) * 16);
      }
#pragma unroll
      for (int np = 0; np < kNT / 2; ++np) {
        uint32_t b[4];
        const int r = wn * Tile::kWarpCols + np * 16 + lane % 8 + (lane / 16) * 8;
        ldmatrix_x4(b, sw + r * kBK + swz(r, kk * 2 + (lane / 8) % 2) * 16);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16832_s8(acc[mt][2 * np], af[mt], b[0], b[1]);
          mma_16832_s8(acc[mt][2 * np + 1], af[mt], b[2], b[3]);
        }
      }
    }
  }
  cp_async_wait<0>();

  // ---- epilogue ----
  if constexpr (MODE == Gemm8Mode::Dense) {
    if (gridDim.z > 1) {  // K split: the partial tile to shared memory, summed over the cluster
      constexpr int kLd = split_tile_ld<BN>();
      static_assert(BM * kLd * 4 <= Tile::kSmemBytes, "the partial tile must fit the pipeline's shared memory");
      __syncthreads();  // every warp is done reading the pipeline's stages
      int32_t* part = reinterpret_cast<int32_t*>(smem);
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int nt = 0; nt < kNT; ++nt) {
            const int r = wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;
            const int c = wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2;
            *reinterpret_cast<int2*>(part + r * kLd + c) = make_int2(acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
          }
      cluster_reduce_store_i32<BM, BN, kThreads>(part, a.out, m0, n0);
      return;
    }
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int m = m0 + wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;
        if (m >= a.M) continue;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
          w8a8_store2(a.out, m, n0 + wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2, acc[mt][nt][half * 2],
                      acc[mt][nt][half * 2 + 1]);
      }
  } else if constexpr (MODE == Gemm8Mode::GateUp) {
    // Every lane runs the quad reductions (padding rows hold zeros and store nothing).
    constexpr int kHalf = Tile::kWarpCols / 2;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int r = wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;  // row in the block tile
        const int64_t row = static_cast<int64_t>(tile) * BM + r;
        const int slot = a.sorted[row];
        const float xs = slot >= 0 ? a.a_scales[slot / a.topk] : 0.0f;
        float amax = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kNT / 2; ++nt) {
          const int i_col = n0 + wn * kHalf + nt * 8 + (lane % 4) * 2;  // N is a multiple of 8
          if (i_col >= a.N) continue;
          float v[2];
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float g = dequant_dynamic(acc[mt][nt][half * 2 + e], w_scales[i_col + e], xs);
            const float u = dequant_dynamic(acc[mt][nt + kNT / 2][half * 2 + e], w_scales[a.N + i_col + e], xs);
            v[e] = silu_mul(g, u);
            amax = fmaxf(amax, fabsf(v[e]));
          }
          if (slot >= 0) *reinterpret_cast<float2*>(a.h + row * a.N + i_col) = make_float2(v[0], v[1]);
        }
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
        if (slot >= 0 && lane % 4 == 0) a.h_amax[row * a.amax_parts + blockIdx.x * WN + wn] = amax;
      }
  } else {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int64_t row = static_cast<int64_t>(tile) * BM + wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;
        const int slot = a.sorted[row];
        if (slot < 0) continue;
        const float hs = a.a_scales[row];
        bf16* y = a.y + static_cast<int64_t>(slot) * a.N;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) {
          const int n = n0 + wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2;  // N is a multiple of 8
          if (n >= a.N) continue;
          *reinterpret_cast<__nv_bfloat162*>(y + n) =
              __floats2bfloat162_rn(dequant_dynamic(acc[mt][nt][half * 2], w_scales[n], hs),
                                    dequant_dynamic(acc[mt][nt][half * 2 + 1], w_scales[n + 1], hs));
        }
      }
  }
}

// Raises the kernel's shared-memory limit (once per device) and launches it; a dense GEMM with
// K split (grid.z > 1) as clusters of the grid.z splits of each output tile.
template <int BM, int BN, int WM, int WN, int STAGES, Gemm8Mode MODE>
cudaError_t launch_mma_gemm_i8(const Gemm8Args& a, dim3 grid, cudaStream_t stream) {
  using Tile = Gemm8Tile<BM, BN, WM, WN, STAGES>;
  auto kernel = mma_gemm_i8_kernel<BM, BN, WM, WN, STAGES, MODE>;
  const cudaError_t attr = raise_smem_limit(kernel, Tile::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return cudaSuccess;
  if (MODE != Gemm8Mode::Dense || grid.z == 1) return launch(kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
  if (grid.z > kMaxClusterSplits) return cudaErrorInvalidValue;
  return launch_cluster(dim3(1, 1, grid.z), kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
}

}  // namespace rotor::cuda
