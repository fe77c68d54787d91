// kernels/cuda/wgmma_gemm.cuh — the GEMM tile kernel on Hopper warpgroup MMA, bf16 and int8
// in one kernel, behind the bf16 experts' 128-row tiles (moe_wgmma.cu: GateUp, Down) and the
// W8A8 GEMMs of many rows (wgmma_gemm_i8.cu: Dense, GateUp, Down). Same arguments and modes
// as mma_gemm.cuh (GemmArgs / Gemm8Args, GemmMode).
//
// One block = one 128-row tile x BN W rows (GateUp: BN / 2 gate columns and the same BN / 2
// up columns; Dense and Down: BN output columns); two warpgroups, warpgroup g owning tile rows
// 64g..64g+63 with one m64nBN accumulator (BN / 2 per thread: f32 from k16 bf16 products,
// exact s32 from k32 int8 products). All 256 threads copy K-steps of 128 bytes (64 bf16 or 128
// int8: one 128-byte-swizzled panel of A [128 rows] and of W [BN rows]) with cp.async into a
// ring of stages, two K-steps ahead of the one being multiplied. BN = 256: 4 stages, one block
// an SM, each warpgroup keeping one K-step of products in flight while issuing the next.
// BN = 128 (int8 only): 3 stages, two blocks an SM, each K-step's products finished before the
// next barrier; one block's epilogue and first copies then run while the other multiplies.
//
// A warpgroup whose 64 rows are all padding issues no products (the other gets the tensor
// cores), and padding rows are never written. Every output element is the sum of its K
// products in k16 (bf16) or k32 (int8) steps from k = 0, as in mma_gemm; bf16 outputs are
// rounded once, int8 sums dequantised as the CPU does (w8a8_math.cuh), each block's column
// scales and biases staged once in shared memory (as doubles) while its first K-steps load, so
// the epilogue's loads are not a chain of global reads per output. bf16 rows (Down's, and the
// bf16 GateUp's h) go out through the ring (wgmma_store_rows) as whole rows a store instruction.
#pragma once
#include "kernels/cuda/mma_gemm.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace rotor::cuda {

// The tile of element T (bf16 or int8) and BN W rows a block.
template <typename T, int BN = 256>
struct WgmmaTile {
  static constexpr bool kInt8 = std::is_same_v<T, int8_t>;
  static_assert(BN == 256 || (BN == 128 && kInt8), "tiles of 256 W rows, or 128 in int8");
  static constexpr int kBM = 128;                               // tile rows: warpgroup g owns rows 64g..64g+63
  static constexpr int kBN = BN;                                // W rows per block
  static constexpr int kChunk = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte copy
  static constexpr int kBK = 8 * kChunk;                        // K values per step: one 128-byte panel row
  static constexpr int kStages = BN == 256 ? 4 : 3;
  static constexpr int kAhead = 2;                          // K-steps copied ahead of the one multiplied
  static constexpr int kInFlight = kStages - 1 - kAhead;    // product groups left running across a barrier
  static constexpr int kBlocksPerSm = BN == 256 ? 1 : 2;
  static constexpr int kThreads = 256;
  static constexpr int kABytes = kBM * 128, kWBytes = kBN * 128, kStageBytes = kABytes + kWBytes;
  static constexpr int kSmemBytes = kStages * kStageBytes + 1024;  // + room to align the ring to 1024
  static constexpr int kAIters = kBM * 8 / kThreads, kWIters = kBN * 8 / kThreads;  // 16-byte copies per thread
  static_assert(kABytes % 1024 == 0 && kStageBytes % 1024 == 0, "panels must stay 1024-byte aligned");
  static_assert(kBM * (kBN * 2 + 16) <= kStages * kStageBytes, "bf16 output rows fit the ring");
  static_assert(kAIters == 4 && kThreads == 2 * 128, "rows tid / 8 + 32 i: i < 2 are warpgroup 0's");
};

// One K-step's products of a panel row (32 bytes): d += a . b over 16 bf16 or 32 int8 of k.
__device__ __forceinline__ void wgmma_step(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  wgmma_m64n256k16_ss(d, desc_a, desc_b, 1);
}
__device__ __forceinline__ void wgmma_step(int (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  wgmma_m64n256k32_s8_ss(d, desc_a, desc_b, 1);
}
__device__ __forceinline__ void wgmma_step(int (&d)[64], uint64_t desc_a, uint64_t desc_b) {
  wgmma_m64n128k32_s8_ss(d, desc_a, desc_b, 1);
}

// bf16 output rows of COLS columns through shared memory (stage: the free ring, 128 rows of
// COLS bf16 + 16 bytes, so that a warp's pair stores of 8 rows x 4 columns fall in 32 banks).
// Each thread puts its pairs pair(j, half) (row 64 wg + 16 warp + lane / 4 + 8 half, columns
// 8 j + 2 (lane % 4) + {0, 1}, j < COLS / 8); then each warp sends its own 16 rows by 16-byte
// chunks, a row's COLS columns one store instruction (whole 32-byte sectors, where the pairs
// wrote half sectors), row r to dst(r) (nullptr: a padding row, not written), its columns below
// `valid` only.
template <int COLS, typename Pair, typename Dst>
__device__ __forceinline__ void wgmma_store_rows(uint8_t* stage, int wg, int valid, Pair pair, Dst dst) {
  constexpr int kRowBytes = COLS * 2 + 16;
  const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  const int rw = wg * 64 + warp * 16;  // the warp's first row
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    uint8_t* row = stage + (rw + lane / 4 + 8 * half) * kRowBytes + 4 * (lane % 4);
#pragma unroll
    for (int j = 0; j < COLS / 8; ++j) *reinterpret_cast<__nv_bfloat162*>(row + 16 * j) = pair(j, half);
  }
  __syncwarp();
#pragma unroll 4
  for (int i = 0; i < 16; ++i) {
    bf16* out = dst(rw + i);
    if (out == nullptr) continue;
#pragma unroll
    for (int c = 8 * lane; c < COLS; c += 256)
      if (c < valid)
        *reinterpret_cast<uint4*>(out + c) = *reinterpret_cast<const uint4*>(stage + (rw + i) * kRowBytes + 2 * c);
  }
}

// Down's rows: tile row r to y [slot, N] at column n0.
template <int BN, typename Pair>
__device__ __forceinline__ void wgmma_down_store(uint8_t* stage, bf16* y, int N, const int32_t* sorted, int wg,
                                                 int n0, Pair pair) {
  wgmma_store_rows<BN>(stage, wg, N - n0, pair, [&](int r) -> bf16* {
    const int slot = sorted[r];
    return slot < 0 ? nullptr : y + static_cast<int64_t>(slot) * N + n0;
  });
}

// The int8 tiles' per-column epilogue parameters, staged once a block in shared memory (the
// columns of its BN W rows): the scale as a double (Dense static: deq_scale; Dense dynamic and
// the experts: the weight scale) and the static quant bias (0 elsewhere). Columns past N hold 0.
template <int BN>
struct WgmmaI8Cols {
  double scale[BN];
  int32_t bias[BN];
};

// Stages entry t (0..BN-1) of cols for the block at columns n0 (GateUp: t < BN / 2 the gate
// column n0 + t, else the up column n0 + t - BN / 2). w_scales: the tile's expert's (MoE).
template <GemmMode MODE, int BN>
__device__ __forceinline__ void wgmma_i8_stage_col(WgmmaI8Cols<BN>& cols, const Gemm8Args& a, int n0,
                                                   const float* w_scales, int t) {
  double scale = 0.0;
  int32_t bias = 0;
  const int col = n0 + (MODE == GemmMode::GateUp ? t % (BN / 2) : t);
  if (col < a.N) {
    if constexpr (MODE == GemmMode::Dense) {
      const W8A8Out& o = a.out;
      scale = o.dynamic ? o.weight_scale[col] : o.deq_scale[col];
      bias = !o.dynamic && o.quant_bias != nullptr ? o.quant_bias[col] : 0;
    } else {
      scale = w_scales[MODE == GemmMode::GateUp && t >= BN / 2 ? a.N + col : col];
    }
  }
  cols.scale[t] = scale;
  cols.bias[t] = bias;
}

// The int8 tiles' epilogue of MODE for the calling consumer thread (warpgroup wg of the two that
// hold the tile's rows; its accumulator fragment acc, rows r0 = 64 wg + 16 warp + lane / 4 and
// r0 + 8, columns 8 j + 2 (lane % 4) + {0, 1}), with the column parameters from cols and the
// dequantisation of w8a8_math.cuh (the CPU's bits): Dense stores rows m0.. through a.out; GateUp
// (part: the block's gate-column block) writes f32 SiLU(gate) * up rows of h and their maxima;
// Down writes bf16 rows of y by slot. sorted: the tile's slots (MoE).
template <GemmMode MODE, int BN>
__device__ __forceinline__ void wgmma_i8_epilogue(const Gemm8Args& a, const int (&acc)[BN / 2],
                                                  const WgmmaI8Cols<BN>& cols, int wg, int tile, int m0, int n0,
                                                  const int32_t* sorted, int part, uint8_t* stage) {
  constexpr int kBN = BN, kBM = WgmmaTile<int8_t, BN>::kBM;
  const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  const int r0 = wg * 64 + warp * 16 + lane / 4, cq = 2 * (lane % 4);
  if constexpr (MODE == GemmMode::Dense) {
    const W8A8Out& o = a.out;
    const int m[2] = {m0 + r0, m0 + r0 + 8};
    if (o.dynamic) {
      double xs[2];
#pragma unroll
      for (int half = 0; half < 2; ++half) xs[half] = m[half] < a.M ? static_cast<double>(o.x_scales[m[half]]) : 0.0;
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
        const int col = 8 * j + cq;
        if (n0 + col >= a.N) continue;
        const double s0 = cols.scale[col], s1 = cols.scale[col + 1];
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          if (m[half] >= a.M) continue;
          w8a8_put2(o, m[half], n0 + col, dequant_dynamic_d(acc[4 * j + 2 * half], s0, xs[half]),
                    dequant_dynamic_d(acc[4 * j + 2 * half + 1], s1, xs[half]));
        }
      }
    } else {
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
        const int col = 8 * j + cq;
        if (n0 + col >= a.N) continue;
        const double s0 = cols.scale[col], s1 = cols.scale[col + 1];
        const long long b0 = cols.bias[col], b1 = cols.bias[col + 1];
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          if (m[half] >= a.M) continue;
          w8a8_put2(o, m[half], n0 + col,
                    __double2float_rn(__dmul_rn(static_cast<double>(acc[4 * j + 2 * half] + b0), s0)),
                    __double2float_rn(__dmul_rn(static_cast<double>(acc[4 * j + 2 * half + 1] + b1), s1)));
        }
      }
    }
  } else if constexpr (MODE == GemmMode::GateUp) {
    // Every lane runs the quad reductions (padding rows hold zeros and store nothing).
    int slot[2];
    double xs[2];
    float amax[2] = {0.0f, 0.0f};
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      slot[half] = sorted[r0 + 8 * half];
      xs[half] = slot[half] >= 0 ? static_cast<double>(a.a_scales[slot[half] / a.topk]) : 0.0;
    }
#pragma unroll
    for (int j = 0; j < kBN / 16; ++j) {  // gate column block j, its up block j + kBN / 16
      const int col = 8 * j + cq;
      if (n0 + col >= a.N) continue;  // N is a multiple of 8: col + 1 < N as well
      const double g0 = cols.scale[col], g1 = cols.scale[col + 1];
      const double u0 = cols.scale[kBN / 2 + col], u1 = cols.scale[kBN / 2 + col + 1];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int* ag = acc + 4 * j + 2 * half;
        const int* au = acc + 4 * (j + kBN / 16) + 2 * half;
        const float v0 = silu_mul(dequant_dynamic_d(ag[0], g0, xs[half]), dequant_dynamic_d(au[0], u0, xs[half]));
        const float v1 = silu_mul(dequant_dynamic_d(ag[1], g1, xs[half]), dequant_dynamic_d(au[1], u1, xs[half]));
        amax[half] = fmaxf(amax[half], fmaxf(fabsf(v0), fabsf(v1)));
        if (slot[half] >= 0)
          *reinterpret_cast<float2*>(a.h + (static_cast<int64_t>(tile) * kBM + r0 + 8 * half) * a.N + n0 + col) =
              make_float2(v0, v1);
      }
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float m = fmaxf(amax[half], __shfl_xor_sync(0xffffffffu, amax[half], 1));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
      if (slot[half] >= 0 && lane % 4 == 0)
        a.h_amax[(static_cast<int64_t>(tile) * kBM + r0 + 8 * half) * a.amax_parts + part] = m;
    }
  } else {
    double hs[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t row = static_cast<int64_t>(tile) * kBM + r0 + 8 * half;
      hs[half] = sorted[r0 + 8 * half] >= 0 ? static_cast<double>(a.a_scales[row]) : 0.0;
    }
    wgmma_down_store<BN>(stage, a.y, a.N, sorted, wg, n0, [&](int j, int half) {
      const int col = 8 * j + cq;
      return __floats2bfloat162_rn(dequant_dynamic_d(acc[4 * j + 2 * half], cols.scale[col], hs[half]),
                                   dequant_dynamic_d(acc[4 * j + 2 * half + 1], cols.scale[col + 1], hs[half]));
    });
  }
}

template <typename T, GemmMode MODE, int BN>
__global__ void __launch_bounds__(WgmmaTile<T, BN>::kThreads, WgmmaTile<T, BN>::kBlocksPerSm)
    wgmma_gemm_kernel(const MmaArgs<T> a) {
  pdl_wait();
  pdl_launch_dependents();
  using Tile = WgmmaTile<T, BN>;
  using Acc = std::conditional_t<Tile::kInt8, int, float>;
  constexpr int kBM = Tile::kBM, kBN = Tile::kBN, kBK = Tile::kBK, kChunk = Tile::kChunk;
  constexpr int kStages = Tile::kStages, kAhead = Tile::kAhead, kInFlight = Tile::kInFlight, kABytes = Tile::kABytes;
  constexpr int kStageBytes = Tile::kStageBytes, kAIters = Tile::kAIters, kWIters = Tile::kWIters;
  static_assert(Tile::kInt8 || MODE != GemmMode::Dense, "bf16 dense GEMMs run on mma_gemm or cuBLAS");
  extern __shared__ __align__(16) uint8_t smem_raw[];  // aligned to 1024 below
  const int tile = MODE == GemmMode::Dense ? 0 : blockIdx.y;
  if (MODE != GemmMode::Dense && tile >= *a.num_tiles) return;
  const uint32_t raw = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + ((1024 - (raw & 1023)) & 1023);  // stage s: A panel, then W panel
  const int tid = threadIdx.x, wg = tid / 128;
  const int c = tid % 8;  // the 16-byte chunk (k values kChunk c .. of a K-step) this thread copies
  const int m0 = MODE == GemmMode::Dense ? blockIdx.y * kBM : 0;
  const int n0 = blockIdx.x * (MODE == GemmMode::GateUp ? kBN / 2 : kBN);
  // MoE: [kBM] slots of this tile, and its expert's weights (int8: and weight scales).
  const int32_t* sorted = MODE == GemmMode::Dense ? nullptr : a.sorted + static_cast<int64_t>(tile) * kBM;
  const int e = MODE == GemmMode::Dense ? 0 : a.tile_expert[tile];
  const T* W = a.W + static_cast<int64_t>(e) * a.w_expert_stride;
  [[maybe_unused]] const float* w_scales = nullptr;
  if constexpr (Tile::kInt8) w_scales = a.w_scales + static_cast<int64_t>(e) * a.ws_expert_stride;

  // A: tile row r = tid / 8 + 32 i (Dense: row m0 + r; GateUp: x row slot / topk; Down: h row
  // tile * kBM + r).
  const T* a_src[kAIters];
  bool a_ok[kAIters];
#pragma unroll
  for (int i = 0; i < kAIters; ++i) {
    const int r = tid / 8 + 32 * i;
    int64_t row;
    if constexpr (MODE == GemmMode::Dense) {
      a_ok[i] = m0 + r < a.M;
      row = m0 + r;
    } else {
      const int slot = sorted[r];
      a_ok[i] = slot >= 0;
      row = MODE == GemmMode::GateUp ? slot / a.topk : static_cast<int64_t>(tile) * kBM + r;
    }
    a_src[i] = a_ok[i] ? a.A + row * a.lda + c * kChunk : a.A;
  }
  const bool active0 = __syncthreads_or(a_ok[0] || a_ok[1]);
  const bool active1 = __syncthreads_or(a_ok[2] || a_ok[3]);
  // This warpgroup has a real row; read from lane 0 so that ptxas sees a warp-uniform branch
  // around the products (else it serialises them).
  const bool active = __shfl_sync(0xffffffffu, wg == 0 ? active0 : active1, 0);

  // W: block row j = tid / 8 + 32 i. GateUp: j < kBN / 2 gate row n0 + j, else up row N + n0 + j - kBN / 2.
  const T* w_src[kWIters];
  bool w_ok[kWIters];
#pragma unroll
  for (int i = 0; i < kWIters; ++i) {
    const int j = tid / 8 + 32 * i;
    int64_t row;
    if constexpr (MODE == GemmMode::GateUp) {
      const int col = n0 + j % (kBN / 2);
      w_ok[i] = col < a.N;
      row = j < kBN / 2 ? col : a.N + col;
    } else {
      w_ok[i] = n0 + j < a.N;
      row = n0 + j;
    }
    w_src[i] = w_ok[i] ? W + row * a.K + c * kChunk : W;
  }

  auto load_stage = [&](int kt, int stage) {
    uint8_t* sa = smem + stage * kStageBytes;
    uint8_t* sw = sa + kABytes;
    const int k0 = kt * kBK;
    const bool k_ok = k0 + c * kChunk < a.K;  // K is a multiple of kChunk: a chunk is all in or all out
#pragma unroll
    for (int i = 0; i < kAIters; ++i) {
      const bool ok = a_ok[i] && k_ok;
      cp_async16(sa + swz128(tid / 8 + 32 * i, c), ok ? a_src[i] + k0 : a.A, ok);
    }
#pragma unroll
    for (int i = 0; i < kWIters; ++i) {
      const bool ok = w_ok[i] && k_ok;
      cp_async16(sw + swz128(tid / 8 + 32 * i, c), ok ? w_src[i] + k0 : W, ok);
    }
  };

  // Descriptors of stage 0, the first 32 bytes of k: this warpgroup's 64 A rows, and all kBN W rows.
  const uint64_t desc_a = wgmma_desc(smem + wg * 64 * 128, 0, 1024);
  const uint64_t desc_w = wgmma_desc(smem + kABytes, 0, 1024);

  Acc acc[kBN / 2];  // row 64 wg + 16 warp + lane / 4 + 8 (e / 2), column 8 j + 2 (lane % 4) + e % 2 at 4 j + e
#pragma unroll
  for (int i = 0; i < kBN / 2; ++i) acc[i] = Acc(0);

  const int ktiles = (a.K + kBK - 1) / kBK;
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
  // int8: the block's column parameters, visible to all after the first K-step's barrier.
  __shared__ std::conditional_t<Tile::kInt8, WgmmaI8Cols<kBN>, char> cols;
  if constexpr (Tile::kInt8)
    if (tid < kBN) wgmma_i8_stage_col<MODE, kBN>(cols, a, n0, w_scales, tid);
  for (int kt = 0; kt < ktiles; ++kt) {
    // K-step kt has landed (its group and all earlier ones), for every thread's copies, and
    // the products of K-step kt - 1 - kInFlight are done in both warpgroups (waited below,
    // last step).
    cp_async_wait<kAhead - 1>();
    fence_proxy_async();
    __syncthreads();
    if (active) {
      const uint64_t step = static_cast<uint64_t>((kt % kStages) * kStageBytes) >> 4;
      fence_regs(acc);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBK / (2 * kChunk); ++kk)  // 32 bytes along the panel row each
        wgmma_step(acc, desc_a + step + kk * 2, desc_w + step + kk * 2);
      wgmma_commit();
    }
    // Overwrites the stage of K-step kt + kAhead - kStages = kt - 1 - kInFlight.
    if (kt + kAhead < ktiles) load_stage(kt + kAhead, (kt + kAhead) % kStages);
    cp_async_commit();
    wgmma_wait<kInFlight>();  // (nothing to wait for in an idle warpgroup)
    fence_regs(acc);
  }
  cp_async_wait<0>();
  wgmma_wait<0>();
  fence_regs(acc);
  // Down and the bf16 GateUp stage their rows in the ring: every product (both warpgroups') has
  // read it.
  if constexpr (MODE == GemmMode::Down || (!Tile::kInt8 && MODE == GemmMode::GateUp)) __syncthreads();
  if (!active) return;

  // ---- epilogue: thread rows 64 wg + 16 warp + lane / 4 + 8 half; columns n0 + 8 j + 2 (lane % 4) + {0, 1} ----
  if constexpr (!Tile::kInt8 && MODE == GemmMode::GateUp) {
    // gate column block j, its up block j + kBN / 16; h row tile * kBM + r at column n0
    wgmma_store_rows<kBN / 2>(
        smem, wg, a.N - n0,
        [&](int j, int half) {
          float v[2];
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float g = acc[4 * j + 2 * half + e], u = acc[4 * (j + kBN / 16) + 2 * half + e];
            v[e] = g / (1.0f + expf(-g)) * u;
          }
          return __floats2bfloat162_rn(v[0], v[1]);
        },
        [&](int r) -> bf16* { return sorted[r] < 0 ? nullptr : a.h + (static_cast<int64_t>(tile) * kBM + r) * a.N + n0; });
  } else if constexpr (!Tile::kInt8) {
    wgmma_down_store<kBN>(smem, a.y, a.N, sorted, wg, n0, [&](int j, int half) {
      return __floats2bfloat162_rn(acc[4 * j + 2 * half], acc[4 * j + 2 * half + 1]);
    });
  } else {
    wgmma_i8_epilogue<MODE, kBN>(a, acc, cols, wg, tile, m0, n0, sorted, blockIdx.x, smem);
  }
}

// Raises the kernel's dynamic shared memory limit once (before the first launch, which
// happens outside graph capture) and launches it.
template <typename T, GemmMode MODE, int BN = 256>
cudaError_t launch_wgmma_gemm(const MmaArgs<T>& a, dim3 grid, cudaStream_t stream) {
  using Tile = WgmmaTile<T, BN>;
  auto kernel = wgmma_gemm_kernel<T, MODE, BN>;
  const cudaError_t attr = raise_smem_limit(kernel, Tile::kSmemBytes, Tile::kBlocksPerSm > 1);
  if (attr != cudaSuccess) return attr;
  if (grid.x == 0 || grid.y == 0) return cudaSuccess;
  return launch(kernel, grid, Tile::kThreads, Tile::kSmemBytes, stream, a);
}

}  // namespace rotor::cuda
