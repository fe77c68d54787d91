// kernels/cuda/rms_norm.cuh — RMSNorm (f32 statistics) fused with the residual add and an
// optional bias: with a residual, residual += x (stored in bf16) and the norm reads the sum.
// rms_norm_quant writes the W8A8 static quantisation of the result instead of bf16.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// x, residual, out [T, H] bf16 with row strides (elements); w [H] bf16; bias [H] bf16 or
// null; residual null = no add. H a multiple of 8, rows 16-byte aligned.
cudaError_t rms_norm(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, void* out,
                     int64_t out_stride, void* residual, int64_t res_stride, int64_t T, int64_t H,
                     cudaStream_t stream);

// As rms_norm, but out [T, H] i8 (row stride out_stride bytes, a multiple of 8; 8-byte aligned)
// = clamp(rint(y / scale + offset), -128, 127) of the normalised row y, which is computed as
// the CPU op computes it (sum of squares in double, IEEE square root and division, the
// products and the bias add rounded one by one), so the int8 values are the CPU's.
cudaError_t rms_norm_quant(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, float scale,
                           float offset, int8_t* out, int64_t out_stride, void* residual, int64_t res_stride, int64_t T,
                           int64_t H, cudaStream_t stream);

}  // namespace rotor::cuda
