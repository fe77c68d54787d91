// kernels/cuda/mma_gemm.cuh — the tensor-core GEMM core behind the dense small-M path
// (gemm.cu) and the MoE expert GEMMs of 16- and 64-row tiles (moe.cu; 128-row tiles run on
// wgmma, moe_wgmma.cu, with the same arguments): out = A . W^T with W [N, K] K-contiguous,
// bf16 in, f32 accumulators, mma.m16n8k16 fed by ldmatrix from swizzled shared memory,
// a STAGES-deep cp.async pipeline over K in steps of 64. A dense GEMM with K split runs
// each output tile's splits as one thread-block cluster and sums them in shared memory
// (split_k_cluster.cuh).
//
// Every output element is the same sequence of mma k-steps (k = 0, 16, 32, ... over its K
// range) whatever the tile shape, the number of rows or the other rows in its tile, so a
// token's result does not depend on the batch it is in (decode graphs on and off agree).
#pragma once
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/split_k_cluster.cuh"

namespace rotor::cuda {

enum class GemmMode {
  Dense,   // rows m of A; W one matrix; K split over blockIdx.y, the splits of a tile one
           // cluster (gridDim.y <= kMaxClusterSplits); out
  GateUp,  // MoE: rows are slots of the expert-sorted list (token = slot / topk); W = [gate; up]
           // of the tile's expert [2N, K]; out h[row] = silu(gate) * up, N = inter
  Down,    // MoE: rows of h; W = down of the tile's expert [N, K]; out y[slot]
};

struct GemmArgs {
  const bf16* A;               // activations, row stride lda (elements)
  int64_t lda;
  const bf16* W;               // Dense: [N, K]; MoE: expert e at W + e * w_expert_stride
  int64_t w_expert_stride;
  int M, N, K;                 // K a multiple of 8
  // Dense
  int k_chunk;                 // K range of one blockIdx.y (a multiple of 64)
  void* out;                   // [M, N] bf16 or f32, row stride ldo
  int64_t ldo;
  bool out_f32;
  const void* bias;            // [N] or null
  bool bias_f32;
  // MoE
  const int32_t* sorted;       // [padded rows] slot t * topk + j of each row; -1 = padding
  const int32_t* tile_expert;  // [tiles] expert of each BM-row tile
  const int32_t* num_tiles;    // [1] tiles in use
  int topk;
  bf16* h;                     // GateUp output [padded rows, N]
  bf16* y;                     // Down output [T * topk, N]
};

template <int BM, int BN, int WM, int WN, int STAGES>
struct GemmTile {
  static constexpr int kThreads = WM * WN * 32;
  static constexpr int kBK = 64;                 // 8 chunks of 16 bytes per row
  static constexpr int kWarpRows = BM / WM, kWarpCols = BN / WN;
  static constexpr int kMT = kWarpRows / 16, kNT = kWarpCols / 8;
  static constexpr int kAIters = (BM * 8 + kThreads - 1) / kThreads;
  static constexpr int kWIters = (BN * 8 + kThreads - 1) / kThreads;
  static constexpr int kStageElems = (BM + BN) * kBK;
  static constexpr int kSmemBytes = STAGES * kStageElems * 2;
  static_assert(kWarpRows % 16 == 0 && kWarpCols % 16 == 0, "warp tile must be 16 x 16 multiples");
};

template <int BM, int BN, int WM, int WN, int STAGES, GemmMode MODE>
__global__ void __launch_bounds__(WM * WN * 32) mma_gemm_kernel(const GemmArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  using Tile = GemmTile<BM, BN, WM, WN, STAGES>;
  constexpr int kThreads = Tile::kThreads, kBK = Tile::kBK, kMT = Tile::kMT, kNT = Tile::kNT;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  bf16* smem = reinterpret_cast<bf16*>(smem_raw);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WN, wn = warp % WN;

  // ---- which rows of A and W this block reads ----
  int tile = 0, k_begin = 0, k_end = a.K, m0 = 0, n0 = 0;
  const bf16* W = a.W;
  if constexpr (MODE == GemmMode::Dense) {
    m0 = blockIdx.z * BM;
    n0 = blockIdx.x * BN;
    k_begin = blockIdx.y * a.k_chunk;
    k_end = min(a.K, k_begin + a.k_chunk);
  } else {
    tile = blockIdx.y;
    if (tile >= *a.num_tiles) return;
    W += static_cast<int64_t>(a.tile_expert[tile]) * a.w_expert_stride;
    n0 = blockIdx.x * (MODE == GemmMode::GateUp ? BN / 2 : BN);
  }

  const bf16* a_src[Tile::kAIters];
  bool a_ok[Tile::kAIters];
#pragma unroll
  for (int i = 0; i < Tile::kAIters; ++i) {
    const int idx = tid + i * kThreads, r = idx / 8;
    a_ok[i] = idx < BM * 8;
    int64_t row = 0;
    if constexpr (MODE == GemmMode::Dense) {
      a_ok[i] = a_ok[i] && m0 + r < a.M;
      row = m0 + r;
    } else {
      const int slot = a_ok[i] ? a.sorted[tile * BM + r] : -1;
      a_ok[i] = a_ok[i] && slot >= 0;
      row = MODE == GemmMode::GateUp ? slot / a.topk : static_cast<int64_t>(tile) * BM + r;
    }
    a_src[i] = a_ok[i] ? a.A + row * a.lda + (idx % 8) * 8 : a.A;
  }
  const bf16* w_src[Tile::kWIters];
  bool w_ok[Tile::kWIters];
#pragma unroll
  for (int i = 0; i < Tile::kWIters; ++i) {
    const int idx = tid + i * kThreads, j = idx / 8;
    int64_t row;
    bool ok = idx < BN * 8;
    if constexpr (MODE == GemmMode::GateUp) {
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
    w_src[i] = ok ? W + row * static_cast<int64_t>(a.K) + (idx % 8) * 8 : W;
  }

  auto load_stage = [&](int kt, int stage) {
    bf16* sa = smem + stage * Tile::kStageElems;
    bf16* sw = sa + BM * kBK;
    const int k0 = k_begin + kt * kBK;
#pragma unroll
    for (int i = 0; i < Tile::kAIters; ++i) {
      const int idx = tid + i * kThreads;
      if (idx < BM * 8) {
        const int r = idx / 8, c = idx % 8;
        const bool ok = a_ok[i] && k0 + c * 8 < k_end;
        cp_async16(sa + r * kBK + swz(r, c) * 8, ok ? a_src[i] + k0 : a.A, ok);
      }
    }
#pragma unroll
    for (int i = 0; i < Tile::kWIters; ++i) {
      const int idx = tid + i * kThreads;
      if (idx < BN * 8) {
        const int r = idx / 8, c = idx % 8;
        const bool ok = w_ok[i] && k0 + c * 8 < k_end;
        cp_async16(sw + r * kBK + swz(r, c) * 8, ok ? w_src[i] + k0 : W, ok);
      }
    }
  };

  float acc[kMT][kNT][4];
#pragma unroll
  for (int i = 0; i < kMT; ++i)
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

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
    const bf16* sa = smem + (kt % STAGES) * Tile::kStageElems;
    const bf16* sw = sa + BM * kBK;
#pragma unroll
    for (int kk = 0; kk < kBK / 16; ++kk) {
      uint32_t af[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        const int r = wm * Tile::kWarpRows + mt * 16 + lane % 16;
        ldmatrix_x4(af[mt], sa + r * kBK + swz(r, kk * 2 + lane / 16) * 8);
      }
#pragma unroll
      for (int np = 0; np < kNT / 2; ++np) {
        uint32_t b[4];
        const int r = wn * Tile::kWarpCols + np * 16 + lane % 8 + (lane / 16) * 8;
        ldmatrix_x4(b, sw + r * kBK + swz(r, kk * 2 + (lane / 8) % 2) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816(acc[mt][2 * np], af[mt], b[0], b[1]);
          mma_16816(acc[mt][2 * np + 1], af[mt], b[2], b[3]);
        }
      }
    }
  }
  cp_async_wait<0>();

  // ---- epilogue ----
  const DenseOut o{a.out, a.ldo, a.out_f32, a.bias, a.bias_f32, a.M, a.N};  // Dense
  if constexpr (MODE == GemmMode::Dense) {
    if (gridDim.y > 1) {  // K split: the partial tile to shared memory, summed over the cluster
      constexpr int kLd = split_tile_ld<BN>();
      static_assert(BM * kLd * 4 <= Tile::kSmemBytes, "the partial tile must fit the pipeline's shared memory");
      __syncthreads();  // every warp is done reading the pipeline's stages
      float* part = reinterpret_cast<float*>(smem_raw);
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int nt = 0; nt < kNT; ++nt) {
            const int r = wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;
            const int c = wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2;
            *reinterpret_cast<float2*>(part + r * kLd + c) =
                make_float2(acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
          }
      cluster_reduce_store<BM, BN, kThreads>(part, o, m0, n0);
      return;
    }
  }
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r = wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;  // row in the block tile
      if constexpr (MODE == GemmMode::Dense) {
        const int m = m0 + r;
        if (m >= a.M) continue;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int n = n0 + wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2 + e;
            if (n >= a.N) continue;
            o.store(m, n, acc[mt][nt][half * 2 + e]);
          }
      } else if constexpr (MODE == GemmMode::GateUp) {
        constexpr int kHalf = Tile::kWarpCols / 2;
        const int64_t row = static_cast<int64_t>(tile) * BM + r;
#pragma unroll
        for (int nt = 0; nt < kNT / 2; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int i_col = n0 + wn * kHalf + nt * 8 + (lane % 4) * 2 + e;
            if (i_col >= a.N) continue;
            const float g = acc[mt][nt][half * 2 + e], u = acc[mt][nt + kNT / 2][half * 2 + e];
            a.h[row * a.N + i_col] = __float2bfloat16_rn(g / (1.0f + expf(-g)) * u);
          }
      } else {
        const int slot = a.sorted[tile * BM + r];
        if (slot < 0) continue;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int n = n0 + wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2 + e;
            if (n < a.N) a.y[static_cast<int64_t>(slot) * a.N + n] = __float2bfloat16_rn(acc[mt][nt][half * 2 + e]);
          }
      }
    }
}

// Raises the kernel's dynamic shared memory limit once (before the first launch, which
// happens outside graph capture) and launches it; a dense GEMM with K split (grid.y > 1)
// as clusters of the grid.y splits of each output tile (with the PDL attribute too, as
// CUTLASS's cluster launcher does).
template <int BM, int BN, int WM, int WN, int STAGES, GemmMode MODE>
cudaError_t launch_mma_gemm(const GemmArgs& a, dim3 grid, cudaStream_t stream) {
  using Tile = GemmTile<BM, BN, WM, WN, STAGES>;
  auto kernel = mma_gemm_kernel<BM, BN, WM, WN, STAGES, MODE>;
  const cudaError_t attr = raise_smem_limit(kernel, Tile::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return cudaSuccess;
  if (MODE != GemmMode::Dense || grid.y == 1) return launch(kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
  if (grid.y > kMaxClusterSplits) return cudaErrorInvalidValue;
  return launch_cluster(dim3(1, grid.y, 1), kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
}

}  // namespace rotor::cuda
