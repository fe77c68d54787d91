// kernels/cuda/quantize.cu — activation quantisation: static per-tensor, 8 elements (one
// 16-byte load, one 8-byte store) per thread over the whole [T, K]; per token, one block per
// row (quant_row_per_token: the row's max |x|, then the row quantised with its scale; the
// second pass re-reads the row, from L1/L2).
#include <algorithm>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/quantize.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) quant_static_kernel(const bf16* __restrict__ x, int64_t ldx, double scale,
                                                                double offset, int8_t* __restrict__ out, int64_t ldo,
                                                                int64_t T, int vecs) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t total = T * vecs;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t t = i / vecs;
    const int c = static_cast<int>(i % vecs) * 8;
    float v[8];
    load8(x + t * ldx + c, v);
    *reinterpret_cast<uint2*>(out + t * ldo + c) = quant8_static(v, scale, offset);
  }
}

__global__ void __launch_bounds__(kThreads) quant_per_token_kernel(const bf16* __restrict__ x, int64_t ldx,
                                                                   int8_t* __restrict__ out, int64_t ldo,
                                                                   float* __restrict__ scales, int K) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float partial[kThreads / 32];
  const int64_t t = blockIdx.x;
  quant_row_per_token<kThreads>(x + t * ldx, K, out + t * ldo, scales + t, true, threadIdx.x, partial);
}

}  // namespace

cudaError_t quant_static(const void* x, int64_t ldx, float scale, float offset, int8_t* out, int64_t ldo, int64_t T,
                         int64_t K, cudaStream_t stream) {
  if (T == 0 || K == 0) return cudaSuccess;
  if (K % 8 != 0 || ldx % 8 != 0 || ldo % 8 != 0 || K > (int64_t{1} << 30)) return cudaErrorInvalidValue;
  const int vecs = static_cast<int>(K / 8);
  const int64_t blocks = std::min<int64_t>((T * vecs + kThreads - 1) / kThreads, int64_t{1} << 16);
  return launch(quant_static_kernel, static_cast<unsigned>(blocks), kThreads, 0, stream, static_cast<const bf16*>(x),
                ldx, static_cast<double>(scale), static_cast<double>(offset), out, ldo, T, vecs);
}

cudaError_t quant_per_token(const void* x, int64_t ldx, int8_t* out, int64_t ldo, float* scales, int64_t T, int64_t K,
                            cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (K % 8 != 0 || ldx % 8 != 0 || ldo % 8 != 0 || K > (int64_t{1} << 30) || T > (int64_t{1} << 31) - 1)
    return cudaErrorInvalidValue;
  return launch(quant_per_token_kernel, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x),
                ldx, out, ldo, scales, static_cast<int>(K));
}

}  // namespace rotor::cuda
