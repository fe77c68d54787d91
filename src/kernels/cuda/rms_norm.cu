// kernels/cuda/rms_norm.cu — one block per row; 16-byte loads; the residual sum is rounded
// to bf16 before the statistics, as the CPU op does with its (f32) residual dtype.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rms_norm.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxVecs = 4;  // H <= 8 * kThreads * kMaxVecs = 8192

__global__ void __launch_bounds__(kThreads) rms_norm_kernel(const bf16* __restrict__ x, int64_t x_stride,
                                                            const bf16* __restrict__ w, const bf16* __restrict__ bias,
                                                            float eps, bf16* __restrict__ out, int64_t out_stride,
                                                            bf16* __restrict__ residual, int64_t res_stride, int H) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const bf16* xr = x + t * x_stride;
  bf16* rr = residual ? residual + t * res_stride : nullptr;
  const int vecs = H / 8;
  float v[kMaxVecs][8];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kThreads;
    if (i >= vecs) break;
    load8(xr + i * 8, v[j]);
    if (rr) {
      float r[8];
      load8(rr + i * 8, r);
#pragma unroll
      for (int e = 0; e < 8; ++e) v[j][e] += r[e];
      store8(rr + i * 8, v[j]);
#pragma unroll
      for (int e = 0; e < 8; ++e) v[j][e] = __bfloat162float(__float2bfloat16_rn(v[j][e]));
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) ss += v[j][e] * v[j][e];
  }
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(H) + eps);
  bf16* o = out + t * out_stride;
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kThreads;
    if (i >= vecs) break;
    float wv[8], y[8];
    load8(w + i * 8, wv);
#pragma unroll
    for (int e = 0; e < 8; ++e) y[e] = v[j][e] * inv * wv[e];
    if (bias) {
      float b[8];
      load8(bias + i * 8, b);
#pragma unroll
      for (int e = 0; e < 8; ++e) y[e] += b[e];
    }
    store8(o + i * 8, y);
  }
}

}  // namespace

cudaError_t rms_norm(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, void* out,
                     int64_t out_stride, void* residual, int64_t res_stride, int64_t T, int64_t H,
                     cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (H % 8 != 0 || H > 8 * kThreads * kMaxVecs) return cudaErrorInvalidValue;
  return launch(rms_norm_kernel, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x), x_stride,
                static_cast<const bf16*>(w), static_cast<const bf16*>(bias), eps, static_cast<bf16*>(out), out_stride,
                static_cast<bf16*>(residual), res_stride, static_cast<int>(H));
}

}  // namespace rotor::cuda
