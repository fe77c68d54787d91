// kernels/cuda/mma_gemm.cuh — the tensor-core GEMM core, bf16 and int8, behind the dense
// small-M paths (gemm.cu, gemm_w8a8.cu) and the MoE expert GEMMs of 16- and 64-row tiles
// (moe.cu, moe_w8a8.cu; 128-row tiles run on wgmma, moe_wgmma.cu and wgmma_gemm_i8.cu, with
// the same arguments): out = A . W^T with W [N, K] K-contiguous. bf16 multiplies on
// mma.m16n8k16 into f32 accumulators; int8 on mma.m16n8k32 into exact s32 sums (its arguments
// and epilogue pieces: mma_gemm_i8.cuh). Both are fed by ldmatrix from swizzled shared memory
// through a STAGES-deep cp.async pipeline over K in steps of 128 bytes (64 bf16, 128 int8): a
// row of 128 int8 is laid out as a row of 64 bf16, and a k32 int8 product reads the 32 bytes a
// k16 bf16 product reads, so one kernel with one addressing runs both; only the grid mapping
// of dense tiles and the epilogues differ. A dense GEMM with K split runs each output tile's
// splits as one thread-block cluster and sums them in shared memory (split_k_cluster.cuh).
//
// Every output element is the same sequence of mma k-steps (k = 0, 16, 32, ... over its K
// range) whatever the tile shape, the number of rows or the other rows in its tile, so a
// token's result does not depend on the batch it is in (decode graphs on and off agree).
#pragma once
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/mma_gemm_i8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/split_k_cluster.cuh"

namespace rotor::cuda {

enum class GemmMode {
  Dense,   // rows m of A; W one matrix; K split over a grid axis (bf16: blockIdx.y, int8:
           // blockIdx.z), the splits of a tile one cluster (at most kMaxClusterSplits); out
  GateUp,  // MoE: rows are slots of the expert-sorted list (token = slot / topk); W = [gate; up]
           // of the tile's expert [2N, K]; out h[row] = silu(gate) * up, N = inter (bf16; int8:
           // dequantised, f32 h and the per-part row maxima for its requantisation)
  Down,    // MoE: rows of h (int8: requantised); W = down of the tile's expert [N, K]; out y[slot]
};

struct GemmArgs {
  const bf16* A;               // activations, row stride lda (elements)
  int64_t lda;
  const bf16* W;               // Dense: [N, K]; MoE: expert e at W + e * w_expert_stride
  int64_t w_expert_stride;
  int M, N, K;                 // K a multiple of 8
  // Dense
  int k_chunk;                 // K range of one blockIdx.y (a multiple of 64)
  bool early;                  // the block's W rows into L2 before pdl_wait (prefetch_w_rows)
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

// A block tile of BM rows x BN W rows of element T (bf16 or int8), WM x WN warps; rows of
// shared memory are 8 chunks of 16 bytes per stage.
template <typename T, int BM, int BN, int WM, int WN, int STAGES>
struct MmaTile {
  static constexpr bool kInt8 = std::is_same_v<T, int8_t>;
  static constexpr int kThreads = WM * WN * 32;
  static constexpr int kChunk = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte chunk
  static constexpr int kBK = 8 * kChunk;                          // K per stage
  static constexpr int kWarpRows = BM / WM, kWarpCols = BN / WN;
  static constexpr int kMT = kWarpRows / 16, kNT = kWarpCols / 8;
  static constexpr int kAIters = (BM * 8 + kThreads - 1) / kThreads;
  static constexpr int kWIters = (BN * 8 + kThreads - 1) / kThreads;
  static constexpr int kStageElems = (BM + BN) * kBK;
  static constexpr int kSmemBytes = STAGES * kStageElems * static_cast<int>(sizeof(T));
  // int8 GateUp: amax parts each block writes per row (one per warp column).
  static constexpr int kAmaxParts = WN;
  static_assert(kWarpRows % 16 == 0 && kWarpCols % 16 == 0, "warp tile must be 16 x 16 multiples");
};
template <int BM, int BN, int WM, int WN, int STAGES>
using GemmTile = MmaTile<bf16, BM, BN, WM, WN, STAGES>;
template <int BM, int BN, int WM, int WN, int STAGES>
using Gemm8Tile = MmaTile<int8_t, BM, BN, WM, WN, STAGES>;

// The arguments of each element type.
template <typename T>
using MmaArgs = std::conditional_t<std::is_same_v<T, int8_t>, Gemm8Args, GemmArgs>;

// One mma step: d += a . b over 16 bf16 (f32 sums) or 32 int8 (exact s32 sums) of k.
__device__ __forceinline__ void mma_step(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_16816(d, a, b0, b1);
}
__device__ __forceinline__ void mma_step(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_16832_s8(d, a, b0, b1);
}

// Two adjacent accumulators to shared memory in one store.
__device__ __forceinline__ void store_pair(float* p, float x, float y) {
  *reinterpret_cast<float2*>(p) = make_float2(x, y);
}
__device__ __forceinline__ void store_pair(int* p, int x, int y) { *reinterpret_cast<int2*>(p) = make_int2(x, y); }

// A dense block's W rows [n0, n0 + BN) over K [k_begin, k_end) into L2, up to
// kPrefetchRowBytes of each row, one bulk prefetch per row: before pdl_wait (a weight is never
// written during a forward), so the reads overlap the kernel before.
constexpr int kPrefetchRowBytes = 1024;
template <typename T, int BN, int THREADS>
__device__ __forceinline__ void prefetch_w_rows(const T* W, int n0, int N, int K, int k_begin, int k_end) {
  if (k_end <= k_begin) return;
  const uint32_t bytes = min(static_cast<uint32_t>((k_end - k_begin) * sizeof(T)), uint32_t{kPrefetchRowBytes});
  for (int j = threadIdx.x; j < BN && n0 + j < N; j += THREADS)
    prefetch_bulk_l2(W + static_cast<int64_t>(n0 + j) * K + k_begin, bytes);
}

template <typename T, int BM, int BN, int WM, int WN, int STAGES, GemmMode MODE>
__global__ void __launch_bounds__(WM* WN * 32, std::is_same_v<T, int8_t> ? 1 : 0)
    mma_gemm_kernel(const MmaArgs<T> a) {
  using Tile = MmaTile<T, BM, BN, WM, WN, STAGES>;
  using Acc = std::conditional_t<Tile::kInt8, int, float>;
  constexpr int kThreads = Tile::kThreads, kBK = Tile::kBK, kMT = Tile::kMT, kNT = Tile::kNT, kChunk = Tile::kChunk;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WN, wn = warp % WN;

  // ---- which rows of A and W this block reads ----
  int tile = 0, k_begin = 0, k_end = a.K, m0 = 0, n0 = 0;
  const T* W = a.W;
  [[maybe_unused]] const float* w_scales = nullptr;  // int8 MoE: the tile's expert's weight scales
  if constexpr (Tile::kInt8) w_scales = a.w_scales;
  if constexpr (MODE == GemmMode::Dense) {
    if constexpr (Tile::kInt8) {
      m0 = (a.n_fastest ? blockIdx.y : blockIdx.x) * BM;
      n0 = (a.n_fastest ? blockIdx.x : blockIdx.y) * BN;
      k_begin = blockIdx.z * a.k_chunk;
    } else {
      m0 = blockIdx.z * BM;
      n0 = blockIdx.x * BN;
      k_begin = blockIdx.y * a.k_chunk;
    }
    k_end = min(a.K, k_begin + a.k_chunk);
    if (a.early) prefetch_w_rows<T, BN, kThreads>(W, n0, a.N, a.K, k_begin, k_end);
  }
  pdl_wait();
  pdl_launch_dependents();
  if constexpr (MODE != GemmMode::Dense) {
    tile = blockIdx.y;
    if (tile >= *a.num_tiles) return;
    if constexpr (Tile::kInt8) {
      const int e = a.tile_expert[tile];
      W += static_cast<int64_t>(e) * a.w_expert_stride;
      w_scales += static_cast<int64_t>(e) * a.ws_expert_stride;
    } else {
      W += static_cast<int64_t>(a.tile_expert[tile]) * a.w_expert_stride;
    }
    n0 = blockIdx.x * (MODE == GemmMode::GateUp ? BN / 2 : BN);
  }

  const T* a_src[Tile::kAIters];
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
    a_src[i] = a_ok[i] ? a.A + row * a.lda + (idx % 8) * kChunk : a.A;
  }
  const T* w_src[Tile::kWIters];
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
    w_src[i] = ok ? W + row * static_cast<int64_t>(a.K) + (idx % 8) * kChunk : W;
  }

  auto load_stage = [&](int kt, int stage) {
    T* sa = smem + stage * Tile::kStageElems;
    T* sw = sa + BM * kBK;
    const int k0 = k_begin + kt * kBK;
#pragma unroll
    for (int i = 0; i < Tile::kAIters; ++i) {
      const int idx = tid + i * kThreads;
      if (idx < BM * 8) {
        const int r = idx / 8, c = idx % 8;
        const bool ok = a_ok[i] && k0 + c * kChunk < k_end;
        cp_async16(sa + r * kBK + swz(r, c) * kChunk, ok ? a_src[i] + k0 : a.A, ok);
      }
    }
#pragma unroll
    for (int i = 0; i < Tile::kWIters; ++i) {
      const int idx = tid + i * kThreads;
      if (idx < BN * 8) {
        const int r = idx / 8, c = idx % 8;
        const bool ok = w_ok[i] && k0 + c * kChunk < k_end;
        cp_async16(sw + r * kBK + swz(r, c) * kChunk, ok ? w_src[i] + k0 : W, ok);
      }
    }
  };

  Acc acc[kMT][kNT][4];
#pragma unroll
  for (int i = 0; i < kMT; ++i)
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = Acc(0);

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
    const T* sa = smem + (kt % STAGES) * Tile::kStageElems;
    const T* sw = sa + BM * kBK;
#pragma unroll
    for (int kk = 0; kk < kBK / (2 * kChunk); ++kk) {  // an mma step reads two chunks of a row
      uint32_t af[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        const int r = wm * Tile::kWarpRows + mt * 16 + lane % 16;
        ldmatrix_x4(af[mt], sa + r * kBK + swz(r, kk * 2 + lane / 16) * kChunk);
      }
#pragma unroll
      for (int np = 0; np < kNT / 2; ++np) {
        uint32_t b[4];
        const int r = wn * Tile::kWarpCols + np * 16 + lane % 8 + (lane / 16) * 8;
        ldmatrix_x4(b, sw + r * kBK + swz(r, kk * 2 + (lane / 8) % 2) * kChunk);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_step(acc[mt][2 * np], af[mt], b[0], b[1]);
          mma_step(acc[mt][2 * np + 1], af[mt], b[2], b[3]);
        }
      }
    }
  }
  cp_async_wait<0>();

  // ---- epilogue ----
  // bf16's dense output (bias, f32 or bf16 stores); int8's is a.out (dequantising stores).
  [[maybe_unused]] const auto o = [&] {
    if constexpr (Tile::kInt8)
      return 0;
    else
      return DenseOut{a.out, a.ldo, a.out_f32, a.bias, a.bias_f32, a.M, a.N};
  }();
  if constexpr (MODE == GemmMode::Dense) {
    // K split: the partial tile to shared memory, summed over the cluster.
    if ((Tile::kInt8 ? gridDim.z : gridDim.y) > 1) {
      constexpr int kLd = split_tile_ld<BN>();
      static_assert(BM * kLd * 4 <= Tile::kSmemBytes, "the partial tile must fit the pipeline's shared memory");
      __syncthreads();  // every warp is done reading the pipeline's stages
      Acc* part = reinterpret_cast<Acc*>(smem_raw);
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int nt = 0; nt < kNT; ++nt) {
            const int r = wm * Tile::kWarpRows + mt * 16 + lane / 4 + half * 8;
            const int c = wn * Tile::kWarpCols + nt * 8 + (lane % 4) * 2;
            store_pair(part + r * kLd + c, acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
          }
      if constexpr (Tile::kInt8)
        cluster_reduce_store_i32<BM, BN, kThreads>(part, a.out, m0, n0);
      else
        cluster_reduce_store<BM, BN, kThreads>(part, o, m0, n0);
      return;
    }
  }
  if constexpr (!Tile::kInt8) {
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
  } else {
    if constexpr (MODE == GemmMode::Dense) {
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
    } else if constexpr (MODE == GemmMode::GateUp) {
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
}

// Raises the kernel's dynamic shared memory limit once (before the first launch, which
// happens outside graph capture) and launches it; a dense GEMM with K split as clusters of
// the splits of each output tile (grid.y > 1 for bf16, grid.z > 1 for int8; with the PDL
// attribute too, as CUTLASS's cluster launcher does).
template <typename T, int BM, int BN, int WM, int WN, int STAGES, GemmMode MODE>
cudaError_t launch_mma_gemm(const MmaArgs<T>& a, dim3 grid, cudaStream_t stream) {
  using Tile = MmaTile<T, BM, BN, WM, WN, STAGES>;
  auto kernel = mma_gemm_kernel<T, BM, BN, WM, WN, STAGES, MODE>;
  const cudaError_t attr = raise_smem_limit(kernel, Tile::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return cudaSuccess;
  const unsigned splits = Tile::kInt8 ? grid.z : grid.y;
  if (MODE != GemmMode::Dense || splits == 1) return launch(kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
  if (splits > kMaxClusterSplits) return cudaErrorInvalidValue;
  const dim3 cluster = Tile::kInt8 ? dim3(1, 1, splits) : dim3(1, splits, 1);
  return launch_cluster(cluster, kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
}

}  // namespace rotor::cuda
