// kernels/cuda/quantize.cu — activation quantisation: static per-tensor, 8 elements (one
// 16-byte load, one 8-byte store) per thread over the whole [T, K]; per token, one block per
// row: the row's max |x| (a block reduction), then the row quantised with its scale (the
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

__device__ __forceinline__ float block_max(float v) {
  __shared__ float partial[kThreads / 32];
  v = warp_max(v);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  float m = partial[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, partial[w]);
  return m;
}

__global__ void __launch_bounds__(kThreads) quant_per_token_kernel(const bf16* __restrict__ x, int64_t ldx,
                                                                   int8_t* __restrict__ out, int64_t ldo,
                                                                   float* __restrict__ scales, int K) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const bf16* xr = x + t * ldx;
  float amax = 0.0f;
  for (int c = threadIdx.x * 8; c < K; c += kThreads * 8) {
    float v[8];
    load8(xr + c, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(v[e]));
  }
  const float scale = per_token_scale(block_max(amax));
  if (threadIdx.x == 0) scales[t] = scale;
  const double s = scale;
  for (int c = threadIdx.x * 8; c < K; c += kThreads * 8) {
    float v[8];
    load8(xr + c, v);
    int q[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) q[e] = quant_dynamic_value(v[e], s);
    *reinterpret_cast<uint2*>(out + t * ldo + c) =
        make_uint2(pack_i8x4(q[0], q[1], q[2], q[3]), pack_i8x4(q[4], q[5], q[6], q[7]));
  }
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
