// kernels/cuda/rms_norm_row.cuh — the arithmetic of one row's RMSNorm on a block of
// kNormThreads threads, shared by rms_norm.cu's kernel and the norm folded into the GEMV
// (gemv.cu), so that both give the same bits by construction. Thread t takes the row's 8-value
// vectors t, t + kNormThreads, ... in that order; a residual sum is rounded to bf16 (as it is
// stored) before the statistics; the sum of squares is f32 (the bf16 form) or double (the
// quantising form: the CPU op's arithmetic), each summed over the block in a fixed order; every
// product and sum is one explicitly rounded operation, nothing left to the compiler to contract.
#pragma once
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {

constexpr int kNormThreads = 256;
constexpr int kNormMaxH = 8 * kNormThreads * 4;  // the longest row rms_norm.cu takes (4 vectors a thread)

// A vector of the row: v = x, or with a residual, x + residual rounded to bf16 (the sum also
// stored into res_out, when not null, as the bf16 the rounding gives). Every v is a bf16 value.
__device__ __forceinline__ void norm_load8(const bf16* x, const bf16* residual, bf16* res_out, float (&v)[8]) {
  load8(x, v);
  if (residual == nullptr) return;
  float r[8];
  load8(residual, r);
#pragma unroll
  for (int e = 0; e < 8; ++e) v[e] = __fadd_rn(v[e], r[e]);
  if (res_out != nullptr) store8(res_out, v);
#pragma unroll
  for (int e = 0; e < 8; ++e) v[e] = __bfloat162float(__float2bfloat16_rn(v[e]));
}

// A thread's sum of squares: f32 (the bf16 form) or double (the quantising form, exact products).
__device__ __forceinline__ void norm_square_add(const float (&v)[8], float& ss) {
#pragma unroll
  for (int e = 0; e < 8; ++e) ss = __fmaf_rn(v[e], v[e], ss);
}
__device__ __forceinline__ void norm_square_add(const float (&v)[8], double& ss) {
#pragma unroll
  for (int e = 0; e < 8; ++e) ss = __fma_rn(static_cast<double>(v[e]), static_cast<double>(v[e]), ss);
}

// Sum over the block in double, in a fixed order; every thread gets it. Ends with a barrier, so
// the next call may follow at once.
__device__ __forceinline__ double block_sum_f64(double v) {
  __shared__ double partial[kNormThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0.0;
#pragma unroll
  for (int w = 0; w < kNormThreads / 32; ++w) s += partial[w];
  __syncthreads();
  return s;
}

// 1 / rms of a row of H values from every thread's sum of squares. Every thread of the block
// calls it (its barriers) and gets the same value; it may be called again at once.
__device__ __forceinline__ float norm_inv_rms(float ss, int H, float eps) {
  ss = block_sum(ss);
  return rsqrtf(__fadd_rn(__fdiv_rn(ss, static_cast<float>(H)), eps));
}
__device__ __forceinline__ float norm_inv_rms(double ss, int H, float eps) {
  const double total = block_sum_f64(ss);
  return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__double2float_rn(__ddiv_rn(total, static_cast<double>(H))), eps)));
}

// A normalised vector y = v * inv * w (+ bias), w and bias the row's vector at the same place.
// kQuant (the CPU's arithmetic, before quant_static): each product and the bias add rounded
// one by one; else (v * inv) * w + bias in one fused multiply-add, as rms_norm has computed it.
template <bool kQuant>
__device__ __forceinline__ void norm_apply8(const float (&v)[8], float inv, const bf16* w, const bf16* bias,
                                            float (&y)[8]) {
  float wv[8], b[8];
  load8(w, wv);
  if (bias != nullptr) load8(bias, b);
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    const float s = __fmul_rn(v[e], inv);
    if (bias == nullptr)
      y[e] = __fmul_rn(s, wv[e]);
    else if constexpr (kQuant)
      y[e] = __fadd_rn(__fmul_rn(s, wv[e]), b[e]);
    else
      y[e] = __fmaf_rn(s, wv[e], b[e]);
  }
}

}  // namespace rotor::cuda
