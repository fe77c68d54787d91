// kernels/cuda/rms_norm.cuh — RMSNorm (f32 statistics) fused with the residual add and an
// optional bias: with a residual, residual += x (stored in bf16) and the norm reads the sum.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// x, residual, out [T, H] bf16 with row strides (elements); w [H] bf16; bias [H] bf16 or
// null; residual null = no add. H a multiple of 8, rows 16-byte aligned.
cudaError_t rms_norm(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, void* out,
                     int64_t out_stride, void* residual, int64_t res_stride, int64_t T, int64_t H,
                     cudaStream_t stream);

}  // namespace rotor::cuda
