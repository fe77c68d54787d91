// kernels/cpu/token_bitmask.cpp — grammar masks: logits of tokens whose bit is 0 become -inf.
#include <limits>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void apply_token_bitmask(const Tensor& logits, const Tensor& bitmask, const Tensor& rows) {
  const int64_t S = logits.size(0), V = logits.size(1), N = rows.numel();
  ROTOR_CHECK(logits.dtype() == DType::F32 && bitmask.dtype() == DType::I32 && rows.dtype() == DType::I32 &&
                  (N == 0 || (bitmask.ndim() == 2 && bitmask.size(0) == N && bitmask.size(1) * 32 >= V)),
              "apply_token_bitmask: logits {}, bitmask {}, {} rows", logits.str(), bitmask.str(), N);
  const int32_t* r = N ? rows.data<int32_t>() : nullptr;
  for (int64_t i = 0; i < N; ++i) {
    ROTOR_CHECK(r[i] >= 0 && r[i] < S, "apply_token_bitmask: row {} outside [0, {})", r[i], S);
    float* l = static_cast<float*>(logits.row_ptr(r[i]));
    const auto* bits = static_cast<const uint32_t*>(bitmask.row_ptr(i));
    for (int64_t t = 0; t < V; ++t)
      if (!((bits[t >> 5] >> (t & 31)) & 1u)) l[t] = -std::numeric_limits<float>::infinity();
  }
}

}  // namespace rotor::cpu
