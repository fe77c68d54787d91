// kernels/cuda/moe_wgmma.cu — the MoE expert GEMMs for 128-row expert tiles on wgmma. One
// block = one 128-row tile x 256 W rows (GateUp: 128 gate columns and the same 128 up
// columns; Down: 256 output columns); two warpgroups, warpgroup g owning tile rows
// 64g..64g+63 with one m64n256k16 accumulator (128 f32 per thread). All 256 threads copy
// K-steps of 64 (one 128-byte-swizzled panel of A [128 x 64] and of W [256 x 64]) with
// cp.async into a 4-stage ring, two K-steps ahead of the one being multiplied; each
// warpgroup keeps one K-step of products in flight while issuing the next.
//
// A warpgroup whose 64 rows are all padding issues no products (the other gets the tensor
// cores), and padding rows are never written. Every output element is the f32 sum of its K
// products in k16 steps k = 0, 16, 32, ..., then rounded to bf16 once, as in mma_gemm.
#include "kernels/cuda/moe_wgmma.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace rotor::cuda {
namespace {

constexpr int kBM = kMoeWgmmaRows;  // tile rows: warpgroup g owns rows 64g..64g+63
constexpr int kBN = 256;            // W rows per block
constexpr int kBK = 64;             // K values per step: one 128-byte panel row
constexpr int kStages = 4;
constexpr int kAhead = kStages - 2;  // K-steps copied ahead of the one multiplied
constexpr int kThreads = 256;
constexpr int kABytes = kBM * 128, kWBytes = kBN * 128, kStageBytes = kABytes + kWBytes;
constexpr int kSmemBytes = kStages * kStageBytes + 1024;  // + room to align the ring to 1024
constexpr int kAIters = kBM * 8 / kThreads, kWIters = kBN * 8 / kThreads;  // 16-byte copies per thread
static_assert(kABytes % 1024 == 0 && kStageBytes % 1024 == 0, "panels must stay 1024-byte aligned");
static_assert(kAIters == 4 && kThreads == 2 * 128, "rows tid / 8 + 32 i: i < 2 are warpgroup 0's");

template <GemmMode MODE>
__global__ void __launch_bounds__(kThreads, 1) moe_wgmma_kernel(const GemmArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  static_assert(MODE == GemmMode::GateUp || MODE == GemmMode::Down);
  extern __shared__ __align__(16) uint8_t smem_raw[];  // aligned to 1024 below
  const int tile = blockIdx.y;
  if (tile >= *a.num_tiles) return;
  const uint32_t raw = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + ((1024 - (raw & 1023)) & 1023);  // stage s: A panel, then W panel
  const int tid = threadIdx.x, wg = tid / 128, warp = (tid / 32) % 4, lane = tid % 32;
  const int c = tid % 8;  // the 16-byte chunk (k values 8c..8c+7 of a K-step) this thread copies
  const int n0 = blockIdx.x * (MODE == GemmMode::GateUp ? kBN / 2 : kBN);
  const int32_t* sorted = a.sorted + static_cast<int64_t>(tile) * kBM;  // [kBM] slots of this tile
  const bf16* W = a.W + static_cast<int64_t>(a.tile_expert[tile]) * a.w_expert_stride;

  // A: tile row r = tid / 8 + 32 i (GateUp: x row slot / topk; Down: h row tile * kBM + r).
  const bf16* a_src[kAIters];
  bool a_ok[kAIters];
#pragma unroll
  for (int i = 0; i < kAIters; ++i) {
    const int r = tid / 8 + 32 * i;
    const int slot = sorted[r];
    a_ok[i] = slot >= 0;
    const int64_t row = MODE == GemmMode::GateUp ? slot / a.topk : static_cast<int64_t>(tile) * kBM + r;
    a_src[i] = a_ok[i] ? a.A + row * a.lda + c * 8 : a.A;
  }
  const bool active0 = __syncthreads_or(a_ok[0] || a_ok[1]);
  const bool active1 = __syncthreads_or(a_ok[2] || a_ok[3]);
  // This warpgroup has a real row; read from lane 0 so that ptxas sees a warp-uniform branch
  // around the products (else it serialises them).
  const bool active = __shfl_sync(0xffffffffu, wg == 0 ? active0 : active1, 0);

  // W: block row j = tid / 8 + 32 i. GateUp: j < 128 gate row n0 + j, else up row N + n0 + j - 128.
  const bf16* w_src[kWIters];
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
    w_src[i] = w_ok[i] ? W + row * a.K + c * 8 : W;
  }

  auto load_stage = [&](int kt, int stage) {
    uint8_t* sa = smem + stage * kStageBytes;
    uint8_t* sw = sa + kABytes;
    const int k0 = kt * kBK;
    const bool k_ok = k0 + c * 8 < a.K;  // K is a multiple of 8: a chunk is all in or all out
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

  // Descriptors of stage 0, K 0..15: this warpgroup's 64 A rows, and all 256 W rows.
  const uint64_t desc_a = wgmma_desc(smem + wg * 64 * 128, 0, 1024);
  const uint64_t desc_w = wgmma_desc(smem + kABytes, 0, 1024);

  float acc[kBN / 2];  // row 64 wg + 16 warp + lane / 4 + 8 (e / 2), column 8 j + 2 (lane % 4) + e % 2 at 4 j + e
#pragma unroll
  for (int i = 0; i < kBN / 2; ++i) acc[i] = 0.0f;

  const int ktiles = (a.K + kBK - 1) / kBK;
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    // K-step kt has landed (its group and all earlier ones), for every thread's copies, and
    // the products of K-step kt - 2 are done in both warpgroups (waited below, last step).
    cp_async_wait<kAhead - 1>();
    fence_proxy_async();
    __syncthreads();
    if (active) {
      const uint64_t step = static_cast<uint64_t>((kt % kStages) * kStageBytes) >> 4;
      fence_regs(acc);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk)  // 16 k = 32 bytes along the panel row
        wgmma_m64n256k16_ss(acc, desc_a + step + kk * 2, desc_w + step + kk * 2, 1);
      wgmma_commit();
    }
    // Overwrites the stage of K-step kt - 2.
    if (kt + kAhead < ktiles) load_stage(kt + kAhead, (kt + kAhead) % kStages);
    cp_async_commit();
    wgmma_wait<1>();  // (nothing to wait for in an idle warpgroup)
    fence_regs(acc);
  }
  cp_async_wait<0>();
  wgmma_wait<0>();
  fence_regs(acc);
  if (!active) return;

  // ---- epilogue: thread rows r (half 0, 1); columns n0 + 8 j + 2 (lane % 4) + {0, 1} ----
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = wg * 64 + warp * 16 + lane / 4 + half * 8;
    const int slot = sorted[r];
    if (slot < 0) continue;
    if constexpr (MODE == GemmMode::GateUp) {
      bf16* out = a.h + (static_cast<int64_t>(tile) * kBM + r) * a.N;
#pragma unroll
      for (int j = 0; j < kBN / 16; ++j) {  // gate column block j, its up block j + 16
        const int col = n0 + 8 * j + 2 * (lane % 4);
        if (col >= a.N) continue;  // N is a multiple of 8: col + 1 < N as well
        float v[2];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float g = acc[4 * j + 2 * half + e], u = acc[4 * (j + kBN / 16) + 2 * half + e];
          v[e] = g / (1.0f + expf(-g)) * u;
        }
        *reinterpret_cast<__nv_bfloat162*>(out + col) = __floats2bfloat162_rn(v[0], v[1]);
      }
    } else {
      bf16* out = a.y + static_cast<int64_t>(slot) * a.N;
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
        const int col = n0 + 8 * j + 2 * (lane % 4);
        if (col >= a.N) continue;
        *reinterpret_cast<__nv_bfloat162*>(out + col) =
            __floats2bfloat162_rn(acc[4 * j + 2 * half], acc[4 * j + 2 * half + 1]);
      }
    }
  }
}

// Raises the kernel's dynamic shared memory limit once (before the first launch, which
// happens outside graph capture) and launches it.
template <GemmMode MODE>
cudaError_t launch(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream) {
  auto kernel = moe_wgmma_kernel<MODE>;
  const cudaError_t attr = raise_smem_limit(kernel, kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const int cols = MODE == GemmMode::GateUp ? kBN / 2 : kBN;  // output columns per block
  const dim3 grid((a.N + cols - 1) / cols, max_tiles);
  if (grid.x == 0 || grid.y == 0) return cudaSuccess;
  return launch(kernel, grid, kThreads, kSmemBytes, stream, a);
}

}  // namespace

cudaError_t moe_wgmma_gate_up(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream) {
  return launch<GemmMode::GateUp>(a, max_tiles, stream);
}

cudaError_t moe_wgmma_down(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream) {
  return launch<GemmMode::Down>(a, max_tiles, stream);
}

}  // namespace rotor::cuda
