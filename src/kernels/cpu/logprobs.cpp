// kernels/cpu/logprobs.cpp — log_softmax of logits rows: the log-prob and rank of a given
// token and the K most likely tokens (log-sum-exp in double).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void logprobs(const Tensor& logits, const Tensor& token_ids, const Tensor& token_logprob, const Tensor& token_rank,
              const Tensor& top_ids, const Tensor& top_logprobs) {
  const int64_t S = logits.size(0), V = logits.size(1);
  const int64_t K = top_ids.defined() ? top_ids.size(1) : 0;
  const int32_t* tok = token_ids.data<int32_t>();
  float* lp = token_logprob.data<float>();
  int32_t* rank = token_rank.data<int32_t>();
  for (int64_t s = 0; s < S; ++s) ROTOR_CHECK(tok[s] >= 0 && tok[s] < V, "logprobs: token {} outside [0, {})", tok[s], V);
#pragma omp parallel
  {
    std::vector<int32_t> order;
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < S; ++s) {
      const float* l = static_cast<const float*>(logits.row_ptr(s));
      const float mx = *std::max_element(l, l + V);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v]) - mx);
      const double lse = mx + std::log(sum);
      const float lt = l[tok[s]];
      lp[s] = static_cast<float>(lt - lse);
      rank[s] = 1 + static_cast<int32_t>(std::count_if(l, l + V, [&](float x) { return x > lt; }));
      if (K == 0) continue;
      order.resize(V);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + K, order.end(),
                        [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
      int32_t* ti = static_cast<int32_t*>(top_ids.row_ptr(s));
      float* tl = static_cast<float*>(top_logprobs.row_ptr(s));
      for (int64_t k = 0; k < K; ++k) {
        ti[k] = order[k];
        tl[k] = static_cast<float>(l[order[k]] - lse);
      }
    }
  }
}

}  // namespace rotor::cpu
