// kernels/cuda/gemv.cuh — dense GEMMs of 1..kGemvRows rows (decode at small batch: q/k/v,
// o_proj, the router, the lm_head), bf16 and W8A8: each warp dots a few W rows with every x
// row over a slice of K, loading W straight from global memory into registers (16-byte loads,
// several in flight per thread, no shared-memory pipeline), and the warps sharing a row sum
// their slices in a fixed order. Every output element's sum runs in the same order whatever M
// is, so a token's result does not depend on the other rows (graphs on and off agree);
// W8A8's integer sums (dp4a) are exact, so its outputs are the mma path's and the CPU's bits.
#pragma once
#include <cuda_runtime.h>

#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/gemm_w8a8.cuh"

namespace rotor::cuda {

// Rows up to which the GEMV kernels run (above: the mma tiles).
constexpr int kGemvRows = 8;

// Whether gemv_bf16 / gemv_w8a8 serve these arguments: M in [1, kGemvRows], K a multiple of
// 16 bytes, x's rows and the weight 16-byte aligned.
bool gemv_fits(const DenseGemm& g);
bool gemv_fits(const W8A8Gemm& g);

// No scratch memory (capturable in a CUDA graph).
cudaError_t gemv_bf16(const DenseGemm& g, cudaStream_t stream);
cudaError_t gemv_w8a8(const W8A8Gemm& g, cudaStream_t stream);

}  // namespace rotor::cuda
