// kernels/cpu/convert.cpp — element loads and stores for the float dtypes the CPU ops accept
// (e4m3 unscaled: core/fp8.h).
#include <cstring>

#include "core/bf16.h"
#include "core/fp8.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

float load_f32(const void* p, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::F8E4M3: return e4m3_to_f32(static_cast<const uint8_t*>(p)[i]);
    default: ROTOR_FAIL("CPU ops: dtype {} is not a float type", dtype_name(dtype));
  }
}

void store_f32(void* p, DType dtype, int64_t i, float v) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(p)[i] = v; return;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); return;
    case DType::F8E4M3: static_cast<uint8_t*>(p)[i] = f32_to_e4m3(v); return;
    default: ROTOR_FAIL("CPU ops: cannot store into dtype {}", dtype_name(dtype));
  }
}

void row_to_f32(const void* src, DType dtype, int64_t n, float* dst) {
  switch (dtype) {
    case DType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    default:
      for (int64_t i = 0; i < n; ++i) dst[i] = load_f32(src, dtype, i);
  }
}

}  // namespace rotor::cpu
