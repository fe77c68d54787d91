// kernels/cuda/fp8.cuh — e4m3 (FP8 KV cache) on the device: f32 -> e4m3 in one
// cvt.rn.satfinite (core/fp8.h's f32_to_e4m3 reproduces it on the host), and e4m3 -> f16 in
// one cvt per two codes, the only way the attention kernels read the cache (exact: every e4m3
// value, subnormals included, is an f16; the NaN code stays NaN, as core/fp8.h's e4m3_to_f32
// reads it). Readers multiply by the layer's scale outside their sums.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace rotor::cuda {

__device__ __forceinline__ uint8_t f32_to_e4m3_rn(float x) {
  uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(r) : "f"(0.0f), "f"(x));  // x to the low byte
  return static_cast<uint8_t>(r);
}

// The four e4m3 codes of `codes` -> two f16x2 words, in order: bytes 0, 1 into lo (byte 0 in
// its low half), bytes 2, 3 into hi. One cvt each, the high half read in place (no shift).
__device__ __forceinline__ void e4m3x4_to_f16x4(uint32_t codes, uint32_t& lo, uint32_t& hi) {
  asm("{\n.reg .b16 l, h;\nmov.b32 {l, h}, %2;\ncvt.rn.f16x2.e4m3x2 %0, l;\ncvt.rn.f16x2.e4m3x2 %1, h;\n}\n"
      : "=r"(lo), "=r"(hi)
      : "r"(codes));
}

// bf16x2 -> f16x2 (the query, for products with an e4m3 cache read as f16): rounded to nearest;
// attention queries (RMS-normed, then rotated) lie far inside f16's range.
__device__ __forceinline__ uint32_t bf16x2_to_f16x2(uint32_t x) {
  const __nv_bfloat162 b = *reinterpret_cast<const __nv_bfloat162*>(&x);
  const __half2 h = __float22half2_rn(__bfloat1622float2(b));
  return *reinterpret_cast<const uint32_t*>(&h);
}

// Sixteen e4m3 codes (one 16-byte load) -> sixteen f16 in two 16-byte words, in order.
__device__ __forceinline__ void e4m3x16_to_f16(const uint4 codes, uint4 (&out)[2]) {
  e4m3x4_to_f16x4(codes.x, out[0].x, out[0].y);
  e4m3x4_to_f16x4(codes.y, out[0].z, out[0].w);
  e4m3x4_to_f16x4(codes.z, out[1].x, out[1].y);
  e4m3x4_to_f16x4(codes.w, out[1].z, out[1].w);
}

// Eight bf16 (one 16-byte word) -> eight f16.
__device__ __forceinline__ uint4 bf16x8_to_f16(const uint4 x) {
  return make_uint4(bf16x2_to_f16x2(x.x), bf16x2_to_f16x2(x.y), bf16x2_to_f16x2(x.z), bf16x2_to_f16x2(x.w));
}

}  // namespace rotor::cuda
