// kernels/cuda/w8a8_math.cuh — the W8A8 arithmetic of the int8 kernels, written to give the
// CPU reference's bits (kernels/cpu/quantize.cpp, gemm_w8a8.cpp, ../shared/docs/W8A8.md):
// activation quantisation rounding as the CPU's double quotient does (kernels/w8a8_round.h:
// float, with the double path near half-integers), the dequantisation epilogues in double
// (every operation an IEEE one, nothing contracted); whole
// rows quantised per token (by a thread group, or a warp from per-part maxima); the int8
// tensor-core product mma.m16n8k32 (s8 x s8 -> s32) and int8 packing.
#pragma once
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/w8a8_round.h"

namespace rotor::cuda {

// Static per-tensor activation quantisation of one value: clamp(rint(x / scale + offset),
// -128, 127), as quant_row_static (r: w8a8_round_params(scale, offset)).
__device__ __forceinline__ int quant_static_value(float x, const W8A8Round& r) { return w8a8_round(x, r, -128, 127); }

// The per-token scale of a row whose largest |x| is amax: max(amax / 127, 1e-12) in double,
// rounded to f32, as quant_row_per_token.
__device__ __forceinline__ float per_token_scale(float amax) {
  return __double2float_rn(fmax(__ddiv_rn(static_cast<double>(amax), 127.0), 1e-12));
}

// Per-token symmetric quantisation of one value with its row's scale: clamp(rint(x / scale),
// -127, 127) (r: w8a8_round_params(scale, 0)).
__device__ __forceinline__ int quant_dynamic_value(float x, const W8A8Round& r) { return w8a8_round(x, r, -127, 127); }

// W8A8Static epilogue: (acc + quant_bias) * deq_scale.
__device__ __forceinline__ float dequant_static(int acc, int32_t quant_bias, float deq_scale) {
  const long long s = static_cast<long long>(acc) + quant_bias;
  return __double2float_rn(__dmul_rn(static_cast<double>(s), static_cast<double>(deq_scale)));
}

// W8A8Dynamic epilogue: acc * weight_scale * x_scale (left to right).
__device__ __forceinline__ float dequant_dynamic(int acc, float weight_scale, float x_scale) {
  return __double2float_rn(__dmul_rn(__dmul_rn(static_cast<double>(acc), static_cast<double>(weight_scale)),
                                     static_cast<double>(x_scale)));
}

// acc as a double by one FP64 subtraction instead of a conversion: the bits 2^52 + 2^31 + acc
// (exact) less 2^52 + 2^31. The same value; the wgmma epilogues turn 64-128 sums a thread, and
// conversions issue at a quarter of the FP64 rate (the resident down GEMM 5% faster with it).
__device__ __forceinline__ double i32_to_f64(int acc) {
  return __dsub_rn(__hiloint2double(0x43300000, acc ^ static_cast<int>(0x80000000u)), 4503601774854144.0);
}

// dequant_dynamic with both scales already doubles (the same operations, so the same bits).
__device__ __forceinline__ float dequant_dynamic_d(int acc, double weight_scale, double x_scale) {
  return __double2float_rn(__dmul_rn(__dmul_rn(i32_to_f64(acc), weight_scale), x_scale));
}

// silu(g) * u as the CPU experts compute it.
__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// Four int8 values (low byte first) in one word.
__device__ __forceinline__ uint32_t pack_i8x4(int a, int b, int c, int d) {
  return (static_cast<uint32_t>(a) & 0xffu) | ((static_cast<uint32_t>(b) & 0xffu) << 8) |
         ((static_cast<uint32_t>(c) & 0xffu) << 16) | (static_cast<uint32_t>(d) << 24);
}

// quant_static_value of 8 values, packed low byte first.
__device__ __forceinline__ uint2 quant8_static(const float (&v)[8], const W8A8Round& r) {
  int q[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) q[e] = quant_static_value(v[e], r);
  return make_uint2(pack_i8x4(q[0], q[1], q[2], q[3]), pack_i8x4(q[4], q[5], q[6], q[7]));
}

// quant_dynamic_value of 8 values, packed low byte first.
__device__ __forceinline__ uint2 quant8_dynamic(const float (&v)[8], const W8A8Round& r) {
  int q[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) q[e] = quant_dynamic_value(v[e], r);
  return make_uint2(pack_i8x4(q[0], q[1], q[2], q[3]), pack_i8x4(q[4], q[5], q[6], q[7]));
}

// ---- whole rows quantised per token (quant_row_per_token): x before the experts, h between ----

// The per-token scale of one token's row xr [K] (K a multiple of 8), by a group of GROUP
// threads (whole warps; g: this thread's place in the group): the row's max |x|, reduced
// through partial (GROUP / 32 floats of shared memory, the group's own). It has a barrier:
// every thread of the block calls it, live = false in a group without a row (its result then
// means nothing). The max does not depend on the order it is taken in, so any grouping gives
// the CPU's bits.
template <int GROUP>
__device__ __forceinline__ float row_scale_per_token(const bf16* __restrict__ xr, int K, bool live, int g,
                                                     float* partial) {
  static_assert(GROUP % 32 == 0, "a group is whole warps");
  float amax = 0.0f;
  if (live)
    for (int c = g * 8; c < K; c += GROUP * 8) {
      float v[8];
      load8(xr + c, v);
#pragma unroll
      for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(v[e]));
    }
  amax = warp_max(amax);
  if (g % 32 == 0) partial[g / 32] = amax;
  __syncthreads();
  float m = partial[0];
#pragma unroll
  for (int w = 1; w < GROUP / 32; ++w) m = fmaxf(m, partial[w]);
  return per_token_scale(m);
}

// One token's row xr [K] quantised per token by a group of GROUP threads (row_scale_per_token's
// terms, barrier included): its scale into *scale, every value into out.
template <int GROUP>
__device__ __forceinline__ void quant_row_per_token(const bf16* __restrict__ xr, int K, int8_t* __restrict__ out,
                                                    float* __restrict__ scale, bool live, int g, float* partial) {
  const float sc = row_scale_per_token<GROUP>(xr, K, live, g, partial);
  if (!live) return;
  if (g == 0) *scale = sc;
  const W8A8Round r = w8a8_round_params(sc, 0.0f);
  for (int c = g * 8; c < K; c += GROUP * 8) {
    float v[8];
    load8(xr + c, v);
    *reinterpret_cast<uint2*>(out + c) = quant8_dynamic(v, r);
  }
}

// One row of the experts' f32 h [I] (I a multiple of 4) requantised per token by a warp: the
// row's max |h| from its parts' maxima (h_amax [parts], written by the gate+up GEMM's blocks),
// its scale into *hs, every value into hq. Loads go through L2 (ld.global.cg): the rows may have
// been written by other blocks of the running grid.
__device__ __forceinline__ void requant_row(const float* h, const float* h_amax, int parts, int I, int8_t* hq,
                                            float* hs, int lane) {
  float amax = 0.0f;
  for (int p = lane; p < parts; p += 32) amax = fmaxf(amax, __ldcg(h_amax + p));
  const float scale = per_token_scale(warp_max(amax));
  if (lane == 0) *hs = scale;
  const W8A8Round r = w8a8_round_params(scale, 0.0f);
  for (int c = lane * 4; c < I; c += 32 * 4) {
    const float4 v = __ldcg(reinterpret_cast<const float4*>(h + c));
    *reinterpret_cast<uint32_t*>(hq + c) = pack_i8x4(quant_dynamic_value(v.x, r), quant_dynamic_value(v.y, r),
                                                     quant_dynamic_value(v.z, r), quant_dynamic_value(v.w, r));
  }
}

// ---- tensor cores: mma.sync m16n8k32, s8 inputs, s32 accumulators. ----
// Fragments have mma.m16n8k16's bf16 layout byte for byte (common.cuh): a register holds 4
// consecutive k where the bf16 form holds 2, so the same ldmatrix addressing of a tile whose
// rows are 16-byte chunks feeds both. A (16x32, row) a[0..3]: (r, 4c..4c+3), (r+8, 4c..),
// (r, 16+4c..), (r+8, 16+4c..) with r = lane/4, c = lane%4. B (32x8, col) b[0..1]: (k 4c..4c+3,
// n), (k 16+4c.., n) with n = lane/4. C (16x8) c[0..3]: (r, 2c), (r, 2c+1), (r+8, 2c), (r+8, 2c+1).
__device__ __forceinline__ void mma_16832_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace rotor::cuda
