// kernels/cpu/penalties.cpp — repetition, frequency and presence penalties on logits rows,
// from ragged prompt/output token lists (each row's tokens sorted to find distinct ids and
// their counts, so no [V]-sized scratch).
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void apply_penalties(const Tensor& logits, const PenaltyBatch& p) {
  const int64_t S = logits.size(0), V = logits.size(1);
  const float* rep = p.repetition.data<float>();
  const float* pres = p.presence.data<float>();
  const float* freq = p.frequency.data<float>();
  const int32_t* prompt = p.prompt_tokens.numel() ? p.prompt_tokens.data<int32_t>() : nullptr;
  const int32_t* output = p.output_tokens.numel() ? p.output_tokens.data<int32_t>() : nullptr;
  const int32_t* ps = p.prompt_start.data<int32_t>();
  const int32_t* os = p.output_start.data<int32_t>();
  ROTOR_CHECK(ps[S] == p.prompt_tokens.numel() && os[S] == p.output_tokens.numel(),
              "apply_penalties: token lists of {} and {} for starts ending at {} and {}", p.prompt_tokens.numel(),
              p.output_tokens.numel(), ps[S], os[S]);
  for (int64_t i = 0; i < p.prompt_tokens.numel(); ++i)
    ROTOR_CHECK(prompt[i] >= 0 && prompt[i] < V, "apply_penalties: prompt token {} outside [0, {})", prompt[i], V);
  for (int64_t i = 0; i < p.output_tokens.numel(); ++i)
    ROTOR_CHECK(output[i] >= 0 && output[i] < V, "apply_penalties: output token {} outside [0, {})", output[i], V);
#pragma omp parallel
  {
    std::vector<int32_t> seen, out;
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < S; ++s) {
      float* l = static_cast<float*>(logits.row_ptr(s));
      out.assign(output + os[s], output + os[s + 1]);
      if (rep[s] != 1.0f) {
        seen.assign(prompt + ps[s], prompt + ps[s + 1]);
        seen.insert(seen.end(), out.begin(), out.end());
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (int32_t t : seen) l[t] = l[t] > 0.0f ? l[t] / rep[s] : l[t] * rep[s];
      }
      if (freq[s] == 0.0f && pres[s] == 0.0f) continue;
      std::sort(out.begin(), out.end());
      for (size_t i = 0; i < out.size();) {
        size_t j = i;
        while (j < out.size() && out[j] == out[i]) ++j;
        l[out[i]] -= freq[s] * static_cast<float>(j - i) + pres[s];
        i = j;
      }
    }
  }
}

}  // namespace rotor::cpu
