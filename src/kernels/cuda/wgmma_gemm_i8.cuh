// kernels/cuda/wgmma_gemm_i8.cuh — int8 GEMM tiles of 128 rows x 256 or 128 W rows on Hopper
// warpgroup MMA (wgmma m64n256k32 / m64n128k32, s8 x s8 -> s32): the W8A8 dense GEMM for many
// rows (prefill) and the W8A8 experts' 128-row tiles. Same arguments, epilogues and outputs (to
// the bit) as mma_gemm.cuh's int8 modes, which stay the fallback (gemm_w8a8.cuh, moe_w8a8.cuh).
#pragma once
#include "kernels/cuda/mma_gemm.cuh"

namespace rotor::cuda {

// Rows of a tile (the MoE align pads each expert to them).
inline constexpr int kWgmmaI8Rows = 128;

// cols: W rows a block, 256 (one block an SM) or 128 (two blocks an SM; wgmma_gemm.cuh); any
// other is cudaErrorInvalidValue.
// Dense: out = A [M, K] . W [N, K]^T through a.out; no K split (a.k_chunk unused).
cudaError_t wgmma_i8_dense(const Gemm8Args& a, int cols, cudaStream_t stream);
// GateUp amax parts per row (one per block along the inter columns, cols / 2 each).
int wgmma_i8_gate_up_parts(int inter, int cols);
// MoE modes over max_tiles tiles of 128 rows (blocks past *a.num_tiles exit).
cudaError_t wgmma_i8_gate_up(const Gemm8Args& a, int cols, unsigned max_tiles, cudaStream_t stream);
cudaError_t wgmma_i8_down(const Gemm8Args& a, int cols, unsigned max_tiles, cudaStream_t stream);

}  // namespace rotor::cuda
