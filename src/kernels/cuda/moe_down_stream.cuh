// kernels/cuda/moe_down_stream.cuh — the int8 experts' down GEMM at decode tiles (16 rows)
// when K (= I, the expert's intermediate size) is short, as on a tensor-parallel rank (I = 192
// on Qwen3-235B-A22B over 8 ranks): a persistent grid that streams W in units of 64 rows.
//
// The 16 x 128 tile kernel (mma_gemm.cuh, GemmMode::Down) gives every block one 24 KB slab of
// W and one dependent chain (tile ids, the slab, the MMAs, the stores): thousands of short
// blocks, each waiting on its own round trips. Here the units (tile, 64 W rows) are cut into
// equal contiguous runs, one per block of a grid that fits the SMs at once, and each block
// keeps three units in flight behind the one it computes (a cp.async pipeline). The W loads
// of its first units go out before pdl_wait: the tile list (moe_align's) was complete before
// the gate+up kernel passed its own wait, which the kernel before this one waited on; only
// h's rows wait.
// The sums are exact (int32) and the epilogue is the tile kernel's, so the bits are the same.
#pragma once
#include <cuda_runtime.h>

#include "kernels/cuda/mma_gemm_i8.cuh"

namespace rotor::cuda {

// Whether the streaming kernel takes a down GEMM of this K (bytes of a row of W).
constexpr bool moe_down_stream_fits(int K) { return K > 0 && K <= 256 && K % 16 == 0; }

// a: the Down arguments of the tile kernel (A = hq [padded rows, K], W = w2, a_scales = hs,
// w_scales, sorted, tile_expert, num_tiles, y; N = H, K = I) with 16-row tiles; max_tiles the
// launch's bound on a.num_tiles; stages: units in shared memory per block, 3 to 6.
cudaError_t moe_down_stream_i8(const Gemm8Args& a, int max_tiles, int num_sms, int stages, cudaStream_t stream);

}  // namespace rotor::cuda
