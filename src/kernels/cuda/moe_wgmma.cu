// kernels/cuda/moe_wgmma.cu — the bf16 MoE expert GEMMs for 128-row expert tiles on wgmma
// (wgmma_gemm.cuh's kernel on bf16): gate+up with SiLU·mul fused, and down.
#include "kernels/cuda/moe_wgmma.cuh"
#include "kernels/cuda/wgmma_gemm.cuh"

namespace rotor::cuda {
namespace {

using Tile = WgmmaTile<bf16>;
static_assert(kMoeWgmmaRows == Tile::kBM, "moe.cu's align pads each expert to the wgmma tile rows");

}  // namespace

cudaError_t moe_wgmma_gate_up(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream) {
  constexpr int cols = Tile::kBN / 2;  // output columns per block
  return launch_wgmma_gemm<bf16, GemmMode::GateUp>(a, dim3((a.N + cols - 1) / cols, max_tiles), stream);
}

cudaError_t moe_wgmma_down(const GemmArgs& a, unsigned max_tiles, cudaStream_t stream) {
  constexpr int cols = Tile::kBN;
  return launch_wgmma_gemm<bf16, GemmMode::Down>(a, dim3((a.N + cols - 1) / cols, max_tiles), stream);
}

}  // namespace rotor::cuda
