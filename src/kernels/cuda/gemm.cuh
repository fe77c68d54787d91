// kernels/cuda/gemm.cuh — dense y = x W^T (+ bias) in bf16 with f32 accumulation: a
// tensor-core kernel of ours for few rows (decode; batch-invariant, K split by a rule that
// depends on N, K and the SM count only, the splits summed within a thread-block cluster)
// and cuBLAS for many rows (prefill).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rotor::cuda {

struct DenseGemm {
  const void* x;       // [M, K] bf16, row stride ldx (elements)
  int64_t ldx;
  const void* w;       // [N, K] bf16, contiguous
  const void* bias;    // [N] or null
  bool bias_f32;
  void* out;           // [M, N] bf16 or f32, row stride ldo
  int64_t ldo;
  bool out_f32;
  int M, N, K;
};

// Rows up to which our kernel runs (above: cuBLAS).
constexpr int kSmallGemmRows = 256;

// M <= kSmallGemmRows; K a multiple of 8. No scratch memory (capturable in a CUDA graph).
// early: each block prefetches its W rows into L2 before pdl_wait (ROTOR_EARLY_LOADS=1);
// narrow: 16 W rows a block where N is too small for 64-row blocks to fill the SMs.
cudaError_t small_gemm(const DenseGemm& g, int num_sms, bool early, bool narrow, cudaStream_t stream);

// Any M, through cuBLAS (the handle is bound to the stream); bias added by a second kernel.
cudaError_t cublas_gemm(const DenseGemm& g, cublasHandle_t handle, cudaStream_t stream);

}  // namespace rotor::cuda
