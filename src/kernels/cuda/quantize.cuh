// kernels/cuda/quantize.cuh — W8A8 activation quantisation of bf16 rows into int8 with the
// CPU's rounding (w8a8_math.cuh): static per-tensor (asymmetric) and per-token (symmetric).
// The static form fused into RMSNorm is rms_norm.cuh's rms_norm_quant.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// out [T, K] i8 = clamp(rint(x / scale + offset), -128, 127). x [T, K] bf16, row stride ldx
// (elements); out row stride ldo (bytes). K, ldx and ldo multiples of 8; x 16-byte and out
// 8-byte aligned.
cudaError_t quant_static(const void* x, int64_t ldx, float scale, float offset, int8_t* out, int64_t ldo, int64_t T,
                         int64_t K, cudaStream_t stream);

// scales [T] = max(max_k |x[t, k]| / 127, 1e-12); out [T, K] i8 = rint(x / scales[t]).
// Same layout rules as quant_static.
cudaError_t quant_per_token(const void* x, int64_t ldx, int8_t* out, int64_t ldo, float* scales, int64_t T, int64_t K,
                            cudaStream_t stream);

}  // namespace rotor::cuda
