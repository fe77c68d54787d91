// kernels/cuda/moe_w8a8.cu — W8A8 experts: quantise x per token (in align's launch), align
// (moe.cu), gate+up GEMM (dequant, SiLU·mul, f32 h and per-part row maxima), requantise h per
// row (a launch of its own), down GEMM (dequant, bf16 per slot),
// weighted un-permute (moe.cu). Tiles of 16 and 64 rows run on mma.sync (mma_gemm.cuh on
// int8), 128-row tiles on wgmma (wgmma_gemm_i8.cu, blocks of 256 or 128 W rows; the down
// GEMM by default for 512 <= K <= 768 on wgmma_down_i8.cu, a tile's h resident) or mma.sync.
#include <algorithm>

#include "kernels/cuda/moe.cuh"
#include "kernels/cuda/moe_small.cuh"
#include "kernels/cuda/moe_w8a8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/quantize.cuh"
#include "kernels/cuda/wgmma_down_i8.cuh"
#include "kernels/cuda/wgmma_gemm_i8.cuh"

namespace rotor::cuda {
namespace {

static_assert(kWgmmaI8Rows == 128, "moe_tile_rows' largest tiles are the wgmma tiles");

// The mma.sync tile of each tile height: rows, W rows, warps along rows and columns, stages.
using Small = Gemm8Tile<16, 64, 1, 4, 4>;    // decode (gate+up also at 3 stages)
using Medium = Gemm8Tile<64, 128, 2, 4, 3>;
using Large = Gemm8Tile<128, 128, 2, 4, 3>;  // prefill without wgmma

constexpr int kRequantRows = 8;  // rows (warps) per requantisation block

// h and y share their memory: h is dead once requantised, before down writes y (each kernel
// waits for the previous one to finish before touching memory).
struct Scratch {
  MoeSorted list;
  int8_t* xq;      // [T, H]
  float* xs;       // [T]
  float* h;        // [padded, I]
  float* h_amax;   // [padded, parts]
  int8_t* hq;      // [padded, I]
  float* hs;       // [padded]
  bf16* y;         // [T * topk, H], over h
};

// Amax parts per row of the gate+up GEMM for tiles of bm rows (the most either path writes).
int amax_parts(int bm, int I) {
  if (bm == 16) return (I + 31) / 32 * Small::kAmaxParts;
  if (bm == 64) return (I + 63) / 64 * Medium::kAmaxParts;
  return std::max({(I + 63) / 64 * Large::kAmaxParts, wgmma_i8_gate_up_parts(I, 256), wgmma_i8_gate_up_parts(I, 128)});
}

Scratch carve(ScratchCarver& c, int T, int H, int I, int E, int topk, int bm) {
  const int64_t padded = moe_max_padded_rows(T, topk, E, bm);
  Scratch s{};
  s.list = take_sorted(c, T, topk, E, bm);
  s.xq = c.take<int8_t>(static_cast<size_t>(T) * H);
  s.xs = c.take<float>(T);
  const size_t h_bytes = padded * I * sizeof(float), y_bytes = static_cast<size_t>(T) * topk * H * sizeof(bf16);
  char* hy = c.take<char>(std::max(h_bytes, y_bytes));
  s.h = reinterpret_cast<float*>(hy);
  s.y = reinterpret_cast<bf16*>(hy);
  s.h_amax = c.take<float>(padded * amax_parts(bm, I));
  s.hq = c.take<int8_t>(padded * I);
  s.hs = c.take<float>(padded);
  return s;
}

// One warp per row of the sorted list in use (requant_row).
__global__ void __launch_bounds__(kRequantRows * 32) moe_requant_kernel(
    const float* __restrict__ h, const float* __restrict__ h_amax, int parts, const int32_t* __restrict__ sorted,
    const int32_t* __restrict__ num_tiles, int bm, int64_t max_rows, int I, int8_t* __restrict__ hq,
    float* __restrict__ hs) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRequantRows + threadIdx.x / 32;
  if (row >= max_rows || row >= static_cast<int64_t>(*num_tiles) * bm || sorted[row] < 0) return;
  requant_row(h + row * I, h_amax + row * parts, parts, I, hq + row * I, hs + row, threadIdx.x % 32);
}

}  // namespace

size_t moe_w8a8_workspace(int T, int H, int I, int E, int topk) {
  return std::max(largest_scratch([&](ScratchCarver& c, int bm) { carve(c, T, H, I, E, topk, bm); }),
                  moe_small_workspace(T, I, topk, true));
}

cudaError_t moe_w8a8_experts(const MoeW8A8Args& a, int wgmma_cols, MoeSmall small, int gate_up_stages, void* workspace,
                             cudaStream_t stream) {
  if (a.T == 0) return cudaSuccess;
  if (a.H % 16 != 0 || a.I % 16 != 0 || a.E > kMaxExperts || a.ldx % 8 != 0) return cudaErrorInvalidValue;
  if (moe_small_takes(small, a.T, a.H, a.I, a.topk, true)) return moe_small_w8a8_experts(a, workspace, stream);
  const int bm = moe_tile_rows(a.T, a.topk, a.E);
  ScratchCarver scratch(workspace);
  const Scratch s = carve(scratch, a.T, a.H, a.I, a.E, a.topk, bm);
  const int64_t max_rows = moe_max_padded_rows(a.T, a.topk, a.E, bm);
  const unsigned max_tiles = static_cast<unsigned>(max_rows / bm);
  // x quantised in align's launch (a.fused_align), beside the block that counts the slots.
  const bool quant_in_align = a.fused_align;
  cudaError_t err = quant_in_align ? moe_quant_align(a.x, a.ldx, a.T, a.H, s.xq, s.xs, a.topk_ids, a.T * a.topk,
                                                     a.first, a.E, bm, s.list, stream)
                                   : quant_per_token(a.x, a.ldx, s.xq, a.H, s.xs, a.T, a.H, stream);
  if (err != cudaSuccess) return err;
  if (!quant_in_align) err = moe_align(a.topk_ids, a.T * a.topk, a.first, a.E, bm, s.list, stream);
  if (err != cudaSuccess) return err;

  Gemm8Args g{};
  g.sorted = s.list.sorted;
  g.tile_expert = s.list.tile_expert;
  g.num_tiles = s.list.num_tiles;
  g.topk = a.topk;
  // gate + up: xq [rows, H] x [2I, H]^T -> h [rows, I] f32 and its row maxima
  g.A = s.xq;
  g.lda = a.H;
  g.W = a.w13;
  g.w_expert_stride = 2LL * a.I * a.H;
  g.a_scales = s.xs;
  g.w_scales = a.w13_scale;
  g.ws_expert_stride = 2LL * a.I;
  g.N = a.I;
  g.K = a.H;
  g.h = s.h;
  g.h_amax = s.h_amax;
  if (bm == 16) {
    g.amax_parts = (a.I + 31) / 32 * Small::kAmaxParts;
    const dim3 grid((a.I + 31) / 32, max_tiles);
    if (gate_up_runs_3_stages(gate_up_stages, a.T, a.topk, a.E, a.I, a.num_sms))
      err = launch_mma_gemm<int8_t, 16, 64, 1, 4, 3, GemmMode::GateUp>(g, grid, stream);
    else
      err = launch_mma_gemm<int8_t, 16, 64, 1, 4, 4, GemmMode::GateUp>(g, grid, stream);
  } else if (bm == 64) {
    g.amax_parts = (a.I + 63) / 64 * Medium::kAmaxParts;
    err = launch_mma_gemm<int8_t, 64, 128, 2, 4, 3, GemmMode::GateUp>(g, dim3((a.I + 63) / 64, max_tiles), stream);
  } else if (wgmma_cols != 0) {
    g.amax_parts = wgmma_i8_gate_up_parts(a.I, wgmma_cols);
    err = wgmma_i8_gate_up(g, wgmma_cols, max_tiles, stream);
  } else {
    g.amax_parts = (a.I + 63) / 64 * Large::kAmaxParts;
    err = launch_mma_gemm<int8_t, 128, 128, 2, 4, 3, GemmMode::GateUp>(g, dim3((a.I + 63) / 64, max_tiles), stream);
  }
  if (err != cudaSuccess) return err;
  err = launch(moe_requant_kernel, static_cast<unsigned>((max_rows + kRequantRows - 1) / kRequantRows),
               kRequantRows * 32, 0, stream, static_cast<const float*>(s.h), static_cast<const float*>(s.h_amax),
               g.amax_parts, static_cast<const int32_t*>(s.list.sorted),
               static_cast<const int32_t*>(s.list.num_tiles), bm, max_rows, a.I, s.hq, s.hs);
  if (err != cudaSuccess) return err;
  // down: hq [rows, I] x [H, I]^T -> y [slot, H] bf16
  g.A = s.hq;
  g.lda = a.I;
  g.W = a.w2;
  g.w_expert_stride = static_cast<int64_t>(a.H) * a.I;
  g.a_scales = s.hs;
  g.w_scales = a.w2_scale;
  g.ws_expert_stride = a.H;
  g.N = a.H;
  g.K = a.I;
  g.y = s.y;
  // A short K (a tensor-parallel rank's I: 192 on 235B-A22B over 8 ranks) is one or two
  // 128-byte steps: 64 W rows a block with the 2 stages they fill, so more blocks are resident
  // (the rank's W8A8 step at batch 4-32 1.9-2.3% faster than with 128-row blocks, perf-log).
  if (bm == 16 && a.I <= kShortK)
    err = launch_mma_gemm<int8_t, 16, 64, 1, 4, 2, GemmMode::Down>(g, dim3((a.H + 63) / 64, max_tiles), stream);
  else if (bm == 16)
    err = launch_mma_gemm<int8_t, 16, 64, 1, 4, 4, GemmMode::Down>(g, dim3((a.H + 63) / 64, max_tiles), stream);
  else if (bm == 64)
    err = launch_mma_gemm<int8_t, 64, 128, 2, 4, 3, GemmMode::Down>(g, dim3((a.H + 127) / 128, max_tiles), stream);
  else if (wgmma_cols != 0 && wgmma_i8_down_resident_fits(a.I) &&
           (a.resident_down == ResidentDown::All ||
            (a.resident_down == ResidentDown::Measured && a.I >= kResidentDownMinK)))
    err = wgmma_i8_down_resident(g, max_tiles, a.num_sms, stream);
  else if (wgmma_cols != 0)
    err = wgmma_i8_down(g, wgmma_cols, max_tiles, stream);
  else
    err = launch_mma_gemm<int8_t, 128, 128, 2, 4, 3, GemmMode::Down>(g, dim3((a.H + 127) / 128, max_tiles), stream);
  if (err != cudaSuccess) return err;
  return moe_unpermute(s.y, a.topk_weights, a.topk_ids, a.T, a.topk, a.first, a.E, a.H, a.out, a.ldo, stream);
}

}  // namespace rotor::cuda
