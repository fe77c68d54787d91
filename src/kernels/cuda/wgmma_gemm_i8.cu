// kernels/cuda/wgmma_gemm_i8.cu — the W8A8 GEMMs on wgmma (wgmma_gemm.cuh's kernel on int8):
// dense tiles of 128 rows x 256 columns, and the experts' 128-row tiles (gate+up, down).
#include "kernels/cuda/wgmma_gemm.cuh"
#include "kernels/cuda/wgmma_gemm_i8.cuh"

namespace rotor::cuda {
namespace {

using Tile = WgmmaTile<int8_t>;
static_assert(kWgmmaI8Rows == Tile::kBM, "the MoE align pads each expert to the wgmma tile rows");

}  // namespace

cudaError_t wgmma_i8_dense(const Gemm8Args& a, cudaStream_t stream) {
  if (a.K % 16 != 0 || a.lda % 16 != 0) return cudaErrorInvalidValue;
  return launch_wgmma_gemm<int8_t, GemmMode::Dense>(
      a, dim3((a.N + Tile::kBN - 1) / Tile::kBN, (a.M + Tile::kBM - 1) / Tile::kBM), stream);
}

int wgmma_i8_gate_up_parts(int inter) { return (inter + Tile::kBN / 2 - 1) / (Tile::kBN / 2); }

cudaError_t wgmma_i8_gate_up(const Gemm8Args& a, unsigned max_tiles, cudaStream_t stream) {
  return launch_wgmma_gemm<int8_t, GemmMode::GateUp>(a, dim3(wgmma_i8_gate_up_parts(a.N), max_tiles), stream);
}

cudaError_t wgmma_i8_down(const Gemm8Args& a, unsigned max_tiles, cudaStream_t stream) {
  return launch_wgmma_gemm<int8_t, GemmMode::Down>(a, dim3((a.N + Tile::kBN - 1) / Tile::kBN, max_tiles), stream);
}

}  // namespace rotor::cuda
