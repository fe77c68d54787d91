// kernels/cuda/rms_norm.cu — one block per row; 16-byte loads; the residual sum is rounded
// to bf16 before the statistics, as the CPU op does with its (f32) residual dtype. The
// quantising form (kQuant) follows the CPU op's arithmetic step by step (rms_norm.cuh).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rms_norm.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxVecs = 4;  // H <= 8 * kThreads * kMaxVecs = 8192

// Sum over the block in double, in a fixed order (kThreads a multiple of 32).
__device__ __forceinline__ double block_sum_f64(double v) {
  __shared__ double partial[kThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0.0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) s += partial[w];
  return s;
}

// kQuant: out is int8 (qout, static quantisation with quant's scale and offset); else bf16 (out).
template <bool kQuant>
__global__ void __launch_bounds__(kThreads) rms_norm_kernel(const bf16* __restrict__ x, int64_t x_stride,
                                                            const bf16* __restrict__ w, const bf16* __restrict__ bias,
                                                            float eps, bf16* __restrict__ out, int8_t* __restrict__ qout,
                                                            W8A8Round quant, int64_t out_stride,
                                                            bf16* __restrict__ residual, int64_t res_stride, int H) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const bf16* xr = x + t * x_stride;
  bf16* rr = residual ? residual + t * res_stride : nullptr;
  const int vecs = H / 8;
  float v[kMaxVecs][8];
  float ss = 0.0f;
  double ss64 = 0.0;
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
    for (int e = 0; e < 8; ++e) {
      if constexpr (kQuant)
        ss64 += static_cast<double>(v[j][e]) * v[j][e];
      else
        ss += v[j][e] * v[j][e];
    }
  }
  float inv;
  if constexpr (kQuant) {
    const double total = block_sum_f64(ss64);
    inv = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__double2float_rn(total / H), eps)));
  } else {
    ss = block_sum(ss);
    inv = rsqrtf(ss / static_cast<float>(H) + eps);
  }
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kThreads;
    if (i >= vecs) break;
    float wv[8], y[8], b[8];
    load8(w + i * 8, wv);
    if (bias) load8(bias + i * 8, b);
    if constexpr (kQuant) {
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        y[e] = __fmul_rn(__fmul_rn(v[j][e], inv), wv[e]);
        if (bias) y[e] = __fadd_rn(y[e], b[e]);
      }
      int q[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) q[e] = quant_static_value(y[e], quant);
      *reinterpret_cast<uint2*>(qout + t * out_stride + i * 8) =
          make_uint2(pack_i8x4(q[0], q[1], q[2], q[3]), pack_i8x4(q[4], q[5], q[6], q[7]));
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) y[e] = v[j][e] * inv * wv[e];
      if (bias) {
#pragma unroll
        for (int e = 0; e < 8; ++e) y[e] += b[e];
      }
      store8(out + t * out_stride + i * 8, y);
    }
  }
}

}  // namespace

cudaError_t rms_norm(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, void* out,
                     int64_t out_stride, void* residual, int64_t res_stride, int64_t T, int64_t H,
                     cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (H % 8 != 0 || H > 8 * kThreads * kMaxVecs) return cudaErrorInvalidValue;
  return launch(rms_norm_kernel<false>, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x),
                x_stride, static_cast<const bf16*>(w), static_cast<const bf16*>(bias), eps, static_cast<bf16*>(out),
                static_cast<int8_t*>(nullptr), W8A8Round{}, out_stride, static_cast<bf16*>(residual), res_stride,
                static_cast<int>(H));
}

cudaError_t rms_norm_quant(const void* x, int64_t x_stride, const void* w, const void* bias, float eps, float scale,
                           float offset, int8_t* out, int64_t out_stride, void* residual, int64_t res_stride, int64_t T,
                           int64_t H, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (H % 8 != 0 || H > 8 * kThreads * kMaxVecs || out_stride % 8 != 0) return cudaErrorInvalidValue;
  return launch(rms_norm_kernel<true>, static_cast<unsigned>(T), kThreads, 0, stream, static_cast<const bf16*>(x),
                x_stride, static_cast<const bf16*>(w), static_cast<const bf16*>(bias), eps, static_cast<bf16*>(nullptr),
                out, w8a8_round_params(scale, offset), out_stride,
                static_cast<bf16*>(residual), res_stride, static_cast<int>(H));
}

}  // namespace rotor::cuda
