// kernels/cuda/fp8.cuh — e4m3 (FP8 KV cache) on the device: f32 -> e4m3 in one
// cvt.rn.satfinite (core/fp8.h's f32_to_e4m3 reproduces it on the host).
#pragma once
#include <cstdint>

namespace rotor::cuda {

__device__ __forceinline__ uint8_t f32_to_e4m3_rn(float x) {
  uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(r) : "f"(0.0f), "f"(x));  // x to the low byte
  return static_cast<uint8_t>(r);
}

}  // namespace rotor::cuda
