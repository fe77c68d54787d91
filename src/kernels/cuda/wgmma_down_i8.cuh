// kernels/cuda/wgmma_down_i8.cuh — the W8A8 experts' down GEMM for 128-row tiles with a
// short K (the expert intermediate size, I <= 768: 30B-A3B's, a tensor-parallel rank's 192 or
// 384): one block an SM walks an equal share of the (tile, 128 output columns) units with the
// tile's int8 rows of h kept in shared memory, so only W streams from L2. Same arguments and outputs (to the
// bit) as wgmma_gemm_i8.cuh's Down mode, which stays the path for longer K.
#pragma once
#include "kernels/cuda/mma_gemm.cuh"

namespace rotor::cuda {

// Whether the resident-tile down GEMM takes K (its tile's rows fit shared memory).
bool wgmma_i8_down_resident_fits(int K);

// y[slot] = dequant(hq[row] . W[e]^T) for the rows of every tile in use (*a.num_tiles of at
// most max_tiles), a.N = hidden, a.K = inter (a multiple of 16, wgmma_i8_down_resident_fits);
// one block on each of num_sms SMs. cudaErrorInvalidValue for a K it does not take.
cudaError_t wgmma_i8_down_resident(const Gemm8Args& a, unsigned max_tiles, int num_sms, cudaStream_t stream);

}  // namespace rotor::cuda
