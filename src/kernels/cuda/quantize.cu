// kernels/cuda/quantize.cu — activation quantisation: static per-tensor, one block per row, 8
// elements (one 16-byte load, one 8-byte store) a thread at a time; per token, one block per
// row (quant_row_per_token: the row's max |x|, then the row quantised with its scale; the
// second pass re-reads the row, from L1/L2).

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/quantize.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) quant_static_kernel(const bf16* __restrict__ x, int64_t ldx, W8A8Round r,
                                                                int8_t* __restrict__ out, int64_t ldo, int vecs) {
  pdl_wait();
  pdl_launch_dependents();
  const bf16* xr = x + blockIdx.x * ldx;
  int8_t* qr = out + blockIdx.x * ldo;
  for (int c = threadIdx.x; c < vecs; c += kThreads) {
    float v[8];
    load8(xr + 8 * c, v);
    *reinterpret_cast<uint2*>(qr + 8 * c) = quant8_static(v, r);
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
  if (K % 8 != 0 || ldx % 8 != 0 || ldo % 8 != 0 || K > (int64_t{1} << 30) || T > (int64_t{1} << 31) - 1)
    return cudaErrorInvalidValue;
  return launch(quant_static_kernel, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x), ldx,
                w8a8_round_params(scale, offset), out, ldo, static_cast<int>(K / 8));
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
