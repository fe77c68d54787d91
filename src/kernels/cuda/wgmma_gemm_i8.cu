// kernels/cuda/wgmma_gemm_i8.cu — the W8A8 GEMMs on wgmma (wgmma_gemm.cuh's kernel on int8):
// dense tiles of 128 rows x 256 or 128 columns, and the experts' 128-row tiles (gate+up, down).
#include "kernels/cuda/wgmma_gemm.cuh"
#include "kernels/cuda/wgmma_gemm_i8.cuh"

namespace rotor::cuda {
namespace {

static_assert(kWgmmaI8Rows == WgmmaTile<int8_t, 256>::kBM && kWgmmaI8Rows == WgmmaTile<int8_t, 128>::kBM,
              "the MoE align pads each expert to the wgmma tile rows");

unsigned blocks(int n, int per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }
bool wgmma_i8_cols_valid(int cols) { return cols == 128 || cols == 256; }

}  // namespace

cudaError_t wgmma_i8_dense(const Gemm8Args& a, int cols, cudaStream_t stream) {
  if (a.K % 16 != 0 || a.lda % 16 != 0 || !wgmma_i8_cols_valid(cols)) return cudaErrorInvalidValue;
  const dim3 grid(blocks(a.N, cols), blocks(a.M, kWgmmaI8Rows));
  return cols == 256 ? launch_wgmma_gemm<int8_t, GemmMode::Dense, 256>(a, grid, stream)
                     : launch_wgmma_gemm<int8_t, GemmMode::Dense, 128>(a, grid, stream);
}

int wgmma_i8_gate_up_parts(int inter, int cols) { return static_cast<int>(blocks(inter, cols / 2)); }

cudaError_t wgmma_i8_gate_up(const Gemm8Args& a, int cols, unsigned max_tiles, cudaStream_t stream) {
  if (!wgmma_i8_cols_valid(cols)) return cudaErrorInvalidValue;
  const dim3 grid(wgmma_i8_gate_up_parts(a.N, cols), max_tiles);
  return cols == 256 ? launch_wgmma_gemm<int8_t, GemmMode::GateUp, 256>(a, grid, stream)
                     : launch_wgmma_gemm<int8_t, GemmMode::GateUp, 128>(a, grid, stream);
}

cudaError_t wgmma_i8_down(const Gemm8Args& a, int cols, unsigned max_tiles, cudaStream_t stream) {
  if (!wgmma_i8_cols_valid(cols)) return cudaErrorInvalidValue;
  const dim3 grid(blocks(a.N, cols), max_tiles);
  return cols == 256 ? launch_wgmma_gemm<int8_t, GemmMode::Down, 256>(a, grid, stream)
                     : launch_wgmma_gemm<int8_t, GemmMode::Down, 128>(a, grid, stream);
}

}  // namespace rotor::cuda
