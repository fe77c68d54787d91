// kernels/cuda/moe_w8a8.cuh — the routed experts of one MoE layer in W8A8 (int8 expert
// weights, per-token dynamic activations; ops.h's moe_experts for W8A8Dynamic experts): x
// quantised per token once, slots sorted by expert (moe.cuh's align), one grouped int8 GEMM
// for gate and up with the dequantisation and SiLU·mul fused (f32 out, per-row max |h| parts),
// h requantised per row, one grouped int8 GEMM for down with its dequantisation, and the
// weighted sum back to tokens. Each touched expert's weights are read once per tile of its
// tokens (decode: once per step). Every value is the CPU op's arithmetic (w8a8_math.cuh), so a
// token's output does not depend on the other tokens or on the tile shapes.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/moe.cuh"

namespace rotor::cuda {

// Where the W8A8 experts' 128-row down tiles keep each tile's h resident (wgmma_down_i8.cuh):
// never (ROTOR_RESIDENT_DOWN=0); where it measured faster (the default: K = I >= kResidentDownMinK,
// 30B-A3B's 768 on an H100, 586 against 692 us a 16k layer; a tensor-parallel rank's 192 and 384
// not yet measured, docs/perf-log.md 2026-12-07); or wherever its K fits (=all, for tests and A/B).
enum class ResidentDown { Off, Measured, All };
inline constexpr int kResidentDownMinK = 512;

struct MoeW8A8Args {
  const void* x;               // [T, H] bf16, row stride ldx (a multiple of 8)
  int64_t ldx;
  const float* topk_weights;   // [T, topk]
  const int32_t* topk_ids;     // [T, topk] router ids; expert e here is id first + e, ids
                               // outside [first, first + E) contribute nothing
  const int8_t* w13;           // [E, 2I, H]: rows [0, I) gate, [I, 2I) up of each expert
  const float* w13_scale;      // [E, 2I] weight_scale per output channel
  const int8_t* w2;            // [E, H, I]
  const float* w2_scale;       // [E, H]
  void* out;                   // [T, H] bf16, row stride ldo
  int64_t ldo;
  int T, H, I, E, topk;        // H and I multiples of 16
  int first = 0;               // the router id of expert 0 (expert parallelism)
  bool early = false;          // the small path's down kernel loads before pdl_wait (moe_small.cuh)
  int num_sms = 0;             // the device's SMs: the 16-row gate+up tiles' depth (gate_up_3_stages)
  // x quantised in align's launch (moe_quant_align), not a launch of its own (the same bits
  // either way).
  bool fused_align = true;
  // Which 128-row down tiles run on wgmma_down_i8.cuh's kernel (each tile's h resident) rather
  // than wgmma_gemm_i8.cuh's blocks (the same bits either way).
  ResidentDown resident_down = ResidentDown::Measured;
};

// Scratch bytes for T tokens (the same for every T' <= T, with wgmma or the small path on or off).
size_t moe_w8a8_workspace(int T, int H, int I, int E, int topk);

// wgmma_cols: the 128-row (prefill) tiles on warpgroup MMA with blocks of that many W rows
// (256 or 128, wgmma_gemm_i8.cuh); 0, on mma.sync (the same bits every way).
// small: which batches take the two-kernel small path (moe_small.cuh; the same bits), the
// others the tiles. gate_up_stages: the 16-row gate+up tiles' pipeline depth, 3 or 4, or 0 for
// gate_up_3_stages' rule (the same bits either way).
cudaError_t moe_w8a8_experts(const MoeW8A8Args& a, int wgmma_cols, MoeSmall small, int gate_up_stages, void* workspace,
                             cudaStream_t stream);

}  // namespace rotor::cuda
