// kernels/cpu/copy_tokens.cpp — indexed copy of token ids (placeholder tokens of a step
// filled from the ids the previous step sampled).
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void copy_tokens(const Tensor& src, const Tensor& src_index, const Tensor& dst, const Tensor& dst_index) {
  const int64_t n = src_index.numel();
  if (n == 0) return;
  const int32_t* from = src_index.data<int32_t>();
  const int32_t* to = dst_index.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    ROTOR_CHECK(from[i] >= 0 && from[i] < src.numel() && to[i] >= 0 && to[i] < dst.numel(),
                "copy_tokens: index pair ({}, {}) outside [0, {}) x [0, {})", from[i], to[i], src.numel(), dst.numel());
    dst.data<int32_t>()[to[i]] = src.data<int32_t>()[from[i]];
  }
}

}  // namespace rotor::cpu
