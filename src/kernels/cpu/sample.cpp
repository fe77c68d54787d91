// kernels/cpu/sample.cpp — token sampling: greedy, or temperature with top-k / top-p / min-p
// filtering and a Gumbel-max draw on counter-based noise (reproducible per request).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/hash_rng.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {
namespace {

int32_t argmax(const float* l, int64_t V) {
  int64_t best = 0;
  for (int64_t v = 1; v < V; ++v)
    if (l[v] > l[best]) best = v;
  return static_cast<int32_t>(best);
}

}  // namespace

void sample(const Tensor& logits, const SamplingBatch& params, const Tensor& out_ids) {
  const int64_t S = logits.size(0), V = logits.size(1);
  const float* temp = params.temperature.data<float>();
  const int32_t* top_k = params.top_k.data<int32_t>();
  const float* top_p = params.top_p.data<float>();
  const float* min_p = params.min_p.data<float>();
  const int64_t* seed = params.seed.data<int64_t>();
  const int64_t* counter = params.counter.data<int64_t>();
  int32_t* out = out_ids.data<int32_t>();
#pragma omp parallel
  {
    std::vector<float> p;
    std::vector<int32_t> order;
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < S; ++s) {
      const float* l = static_cast<const float*>(logits.row_ptr(s));
      if (temp[s] <= 0.0f) {
        out[s] = argmax(l, V);
        continue;
      }
      // softmax(l / T)
      p.resize(V);
      const float mx = *std::max_element(l, l + V);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += (p[v] = std::exp((l[v] - mx) / temp[s]));
      for (int64_t v = 0; v < V; ++v) p[v] = static_cast<float>(p[v] / sum);
      // Candidates in descending probability (ties: lower id first), cut by top-k then top-p.
      int64_t keep = V;
      const bool filter = (top_k[s] > 0 && top_k[s] < V) || top_p[s] < 1.0f;
      order.resize(V);
      std::iota(order.begin(), order.end(), 0);
      auto by_prob = [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
      if (filter) {
        if (top_k[s] > 0 && top_k[s] < V) {
          keep = top_k[s];
          std::partial_sort(order.begin(), order.begin() + keep, order.end(), by_prob);
        } else {
          std::sort(order.begin(), order.end(), by_prob);
        }
        if (top_p[s] < 1.0f) {
          double kept = 0;
          for (int64_t i = 0; i < keep; ++i) kept += p[order[i]];
          double cum = 0;
          int64_t n = 0;
          while (n < keep) {  // smallest prefix whose (renormalised) mass reaches top_p
            cum += p[order[n]];
            ++n;
            if (cum >= top_p[s] * kept) break;
          }
          keep = std::max<int64_t>(n, 1);
        }
      }
      const float pmax = filter ? p[order[0]] : *std::max_element(p.begin(), p.end());
      const float floor_p = min_p[s] > 0.0f ? min_p[s] * pmax : 0.0f;
      float best = -std::numeric_limits<float>::infinity();
      int32_t best_id = filter ? order[0] : argmax(l, V);
      for (int64_t i = 0; i < keep; ++i) {
        const int32_t v = filter ? order[i] : static_cast<int32_t>(i);
        if (p[v] <= 0.0f || p[v] < floor_p) continue;
        const float u = uniform01(hash3(static_cast<uint64_t>(seed[s]), static_cast<uint64_t>(counter[s]), v));
        const float score = std::log(p[v]) - std::log(-std::log(u));
        if (score > best) {
          best = score;
          best_id = v;
        }
      }
      out[s] = best_id;
    }
  }
}

}  // namespace rotor::cpu
