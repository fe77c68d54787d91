// kernels/cuda/moe_wgmma.cuh — the MoE expert GEMMs for 128-row expert tiles (prefill) on
// Hopper warpgroup MMA: gate+up with SiLU·mul fused, and down. Same arguments and outputs as
// mma_gemm's GateUp / Down modes with BM = 128 (moe.cu picks which runs).
#pragma once
#include "kernels/cuda/mma_gemm.cuh"

namespace rotor::cuda {

// Rows of the expert tiles these kernels take (moe.cu's align pads each expert to them).
inline constexpr int kMoeWgmmaRows = 128;

// h[row] = silu(x[slot / topk] . gate^T) * (x[slot / topk] . up^T) for the rows of every tile
// in use (padding rows left unwritten); a.N = inter, a.K = hidden. Blocks along y: max_tiles.
cudaError_t moe_wgmma_gate_up(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream);
// y[slot] = h[row] . down^T for the rows of every tile in use; a.N = hidden, a.K = inter.
cudaError_t moe_wgmma_down(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream);

}  // namespace rotor::cuda
