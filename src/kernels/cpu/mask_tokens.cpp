// kernels/cpu/mask_tokens.cpp — tokens a row may not sample: their logits become -inf.
#include <limits>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void mask_tokens(const Tensor& logits, const Tensor& ids, const Tensor& start) {
  const int64_t S = logits.size(0), V = logits.size(1);
  const int32_t* st = start.data<int32_t>();
  ROTOR_CHECK(st[S] == ids.numel(), "mask_tokens: {} ids for starts ending at {}", ids.numel(), st[S]);
  const int32_t* id = ids.numel() ? ids.data<int32_t>() : nullptr;
  for (int64_t s = 0; s < S; ++s) {
    float* l = static_cast<float*>(logits.row_ptr(s));
    for (int32_t j = st[s]; j < st[s + 1]; ++j) {
      ROTOR_CHECK(id[j] >= 0 && id[j] < V, "mask_tokens: token {} outside [0, {})", id[j], V);
      l[id[j]] = -std::numeric_limits<float>::infinity();
    }
  }
}

}  // namespace rotor::cpu
