// kernels/cuda/moe_down_stream.cu — the streaming int8 down GEMM of short-K experts
// (moe_down_stream.cuh): units of (16-row tile, 64 W rows) in equal contiguous runs over a
// grid that fits the SMs at once, three units in flight per block behind the one computed.
#include "kernels/cuda/moe_down_stream.cuh"

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/mma_gemm.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kRows = 16;           // slots of a tile: the MMA's rows
constexpr int kWarps = 4;
constexpr int kUnit = 16 * kWarps;  // W rows of a unit, 16 a warp

// 16-byte chunks a row's k-steps read (those past K: zeros), and the row stride in shared
// memory: one chunk more, an odd count, so that ldmatrix's 8 rows at one chunk start in 8
// distinct bank groups (192 bytes of K: 208-byte rows, 66.5 KB for 4 stages, 3 blocks an SM).
__host__ __device__ constexpr int row_chunks(int K) { return (K + 31) / 32 * 2; }
__host__ __device__ constexpr int row_stride(int K) { return (row_chunks(K) + 1) * 16; }
constexpr int smem_bytes(int K, int stages) { return stages * (kRows + kUnit) * row_stride(K); }

// The epilogue's operands of one unit for one lane: its two rows' slots and scales (row lane / 4
// and + 8), and the weight scales of its four columns (n-tile nt, + 0 and + 1).
struct UnitOperands {
  int slot[2];
  float hs[2];
  float ws[2][2];
};

template <int kStages>
__global__ void __launch_bounds__(kWarps * 32) moe_down_stream_kernel(const Gemm8Args a, int units_per_tile) {
  extern __shared__ __align__(128) uint8_t smem[];
  __shared__ int stage_expert[kStages];  // the expert of the unit in each stage
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int kc = row_chunks(a.K), ld = row_stride(a.K), stage_bytes = (kRows + kUnit) * ld;
  // This block's run of units [u0, u0 + n): the same count for every block, +-1. The tile list
  // is readable before pdl_wait (see the header).
  const int64_t units = static_cast<int64_t>(*a.num_tiles) * units_per_tile;
  const int u0 = static_cast<int>(units * blockIdx.x / gridDim.x);
  const int n = static_cast<int>(units * (blockIdx.x + 1) / gridDim.x) - u0;
  auto tile_of = [&](int i) { return (u0 + i) / units_per_tile; };
  auto expert_of = [&](int i) { return i < n ? a.tile_expert[tile_of(i)] : 0; };
  // This lane's first column of unit i (and + 1, + 8, + 9).
  auto col_of = [&](int i) { return ((u0 + i) % units_per_tile) * kUnit + warp * 16 + (lane % 4) * 2; };

  // Unit i's 64 W rows [kUnit][ld] of expert e into stage s.
  auto load_w = [&](int i, int s, int e) {
    const int n0 = ((u0 + i) % units_per_tile) * kUnit;
    const int8_t* W = a.W + static_cast<int64_t>(e) * a.w_expert_stride;
    uint8_t* sw = smem + s * stage_bytes + kRows * ld;
    for (int idx = tid; idx < kUnit * kc; idx += kWarps * 32) {
      const int r = idx / kc, c = idx % kc;
      const bool ok = n0 + r < a.N && c * 16 < a.K;
      cp_async16(sw + r * ld + c * 16, ok ? W + static_cast<int64_t>(n0 + r) * a.K + c * 16 : a.W, ok);
    }
    if (tid == 0) stage_expert[s] = e;
  };
  // Unit i's tile of requantised h [kRows][ld] into stage s (padding rows hold whatever the
  // scratch holds: their sums are never stored).
  auto load_a = [&](int i, int s) {
    const int64_t row0 = static_cast<int64_t>(tile_of(i)) * kRows;
    uint8_t* sa = smem + s * stage_bytes;
    for (int idx = tid; idx < kRows * kc; idx += kWarps * 32) {
      const int r = idx / kc, c = idx % kc;
      const bool ok = c * 16 < a.K;
      cp_async16(sa + r * ld + c * 16, ok ? a.A + (row0 + r) * a.lda + c * 16 : a.A, ok);
    }
  };
  // Unit i's epilogue operands (expert e), read a unit ahead of their use.
  auto operands_of = [&](int i, int e) {
    UnitOperands o;
    const int64_t row = static_cast<int64_t>(tile_of(i)) * kRows + lane / 4;
    const float* ws = a.w_scales + static_cast<int64_t>(e) * a.ws_expert_stride;
    const int col = col_of(i);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      o.slot[half] = a.sorted[row + 8 * half];
      o.hs[half] = a.a_scales[row + 8 * half];
    }
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) o.ws[nt][e] = col + 8 * nt < a.N ? ws[col + 8 * nt + e] : 0.0f;
    return o;
  };

  for (int s = 0; s < kStages - 1 && s < n; ++s) load_w(s, s, expert_of(s));
  cp_async_commit();
  pdl_wait();
  pdl_launch_dependents();
  for (int s = 0; s < kStages - 1 && s < n; ++s) load_a(s, s);
  cp_async_commit();
  // Read a unit ahead: the expert of the next unit to load, the operands of the next to compute.
  int next_expert = expert_of(kStages - 1);
  UnitOperands ops = n > 0 ? operands_of(0, expert_of(0)) : UnitOperands{};

  for (int i = 0; i < n; ++i) {
    if (i == 0)
      cp_async_wait<0>();  // the first stages came in two groups, W's and A's
    else
      cp_async_wait<kStages - 2>();
    __syncthreads();  // unit i is in; every warp is done with the stage the next load overwrites
    if (i + kStages - 1 < n) {
      load_w(i + kStages - 1, (i + kStages - 1) % kStages, next_expert);
      load_a(i + kStages - 1, (i + kStages - 1) % kStages);
    }
    cp_async_commit();
    next_expert = expert_of(i + kStages);
    // stage_expert of unit i + 1 was written at least one barrier ago.
    const UnitOperands next_ops = i + 1 < n ? operands_of(i + 1, stage_expert[(i + 1) % kStages]) : ops;

    const uint8_t* sa = smem + (i % kStages) * stage_bytes;
    const uint8_t* sw = sa + kRows * ld;
    int acc[2][4] = {};
    for (int kk = 0; kk < kc / 2; ++kk) {  // an mma step reads two chunks of a row (32 of K)
      uint32_t af[4], b[4];
      const int ra = lane % 16, rw = warp * 16 + lane % 8 + (lane / 16) * 8;
      ldmatrix_x4(af, sa + ra * ld + (kk * 2 + lane / 16) * 16);
      ldmatrix_x4(b, sw + rw * ld + (kk * 2 + (lane / 8) % 2) * 16);
      mma_step(acc[0], af, b[0], b[1]);
      mma_step(acc[1], af, b[2], b[3]);
    }
    const int col = col_of(i);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      if (ops.slot[half] < 0) continue;
      bf16* y = a.y + static_cast<int64_t>(ops.slot[half]) * a.N;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        const int c = col + nt * 8;  // N is a multiple of 8
        if (c >= a.N) continue;
        *reinterpret_cast<__nv_bfloat162*>(y + c) =
            __floats2bfloat162_rn(dequant_dynamic(acc[nt][half * 2], ops.ws[nt][0], ops.hs[half]),
                                  dequant_dynamic(acc[nt][half * 2 + 1], ops.ws[nt][1], ops.hs[half]));
      }
    }
    ops = next_ops;
  }
  cp_async_wait<0>();
}

template <int kStages>
cudaError_t launch_down_stream(const Gemm8Args& a, int max_tiles, int num_sms, cudaStream_t stream) {
  auto kernel = moe_down_stream_kernel<kStages>;
  const int smem = smem_bytes(a.K, kStages);
  cudaError_t err = raise_smem_limit(kernel, smem_bytes(256, kStages));
  if (err != cudaSuccess) return err;
  int per_sm = 0;
  err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kWarps * 32, smem);
  if (err != cudaSuccess) return err;
  const int units_per_tile = (a.N + kUnit - 1) / kUnit;
  const int64_t most = static_cast<int64_t>(max_tiles) * units_per_tile;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(most, int64_t{std::max(per_sm, 1)} * num_sms));
  return launch(kernel, grid, kWarps * 32, smem, stream, a, units_per_tile);
}

}  // namespace

cudaError_t moe_down_stream_i8(const Gemm8Args& a, int max_tiles, int num_sms, int stages, cudaStream_t stream) {
  if (!moe_down_stream_fits(a.K) || a.N % 8 != 0 || a.lda % 16 != 0) return cudaErrorInvalidValue;
  if (max_tiles <= 0 || a.N <= 0) return cudaSuccess;
  switch (stages) {
    case 3: return launch_down_stream<3>(a, max_tiles, num_sms, stream);
    case 4: return launch_down_stream<4>(a, max_tiles, num_sms, stream);
    case 5: return launch_down_stream<5>(a, max_tiles, num_sms, stream);
    case 6: return launch_down_stream<6>(a, max_tiles, num_sms, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace rotor::cuda
