// kernels/cpu/moe.cpp — MoE router (softmax, top-k, renormalise) and the routed experts:
// tokens grouped by expert so each expert's weights are read once per step; float or W8A8
// projections (a quantized one quantises its f32 input rows as its kind says).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/op_contract.h"

namespace rotor::cpu {
namespace {

// out [m, N] = one expert projection of m contiguous f32 rows x [m, K] (one thread).
void expert_linear(const float* x, int64_t m, const LinearWeight& w, float* out, std::vector<int8_t>& xq,
                   std::vector<float>& xs) {
  if (!w.quantized()) return gemm_serial(x, m, w, out);
  const int64_t K = w.in_features();
  xq.resize(m * K);
  xs.resize(m);
  for (int64_t i = 0; i < m; ++i) {
    if (w.kind == QuantKind::W8A8Dynamic)
      xs[i] = quant_row_per_token(x + i * K, K, &xq[i * K]);
    else
      quant_row_static(x + i * K, K, w.input_scale, w.input_offset, &xq[i * K]);
  }
  gemm_w8a8_serial(xq.data(), xs.data(), m, w, out);
}

}  // namespace

void moe_route(const Tensor& logits, int top_k, bool renormalize, const Tensor& topk_weights,
               const Tensor& topk_ids) {
  const int64_t T = logits.size(0), E = logits.size(1);
#pragma omp parallel
  {
    std::vector<float> p(E);
    std::vector<int32_t> order(E);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      const float* l = static_cast<const float*>(logits.row_ptr(t));
      const float mx = *std::max_element(l, l + E);
      double sum = 0;
      for (int64_t e = 0; e < E; ++e) sum += (p[e] = std::exp(l[e] - mx));
      for (int64_t e = 0; e < E; ++e) p[e] = static_cast<float>(p[e] / sum);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                        [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
      float ksum = 0;
      for (int j = 0; j < top_k; ++j) ksum += p[order[j]];
      float* w = static_cast<float*>(topk_weights.row_ptr(t));
      int32_t* id = static_cast<int32_t*>(topk_ids.row_ptr(t));
      for (int j = 0; j < top_k; ++j) {
        id[j] = order[j];
        w[j] = renormalize ? p[order[j]] / ksum : p[order[j]];
      }
    }
  }
}

void moe_experts(const Tensor& x, const Tensor& topk_weights, const Tensor& topk_ids, const ExpertWeights& ex,
                 const Tensor& out) {
  const int64_t T = x.size(0), H = x.size(1), K = topk_ids.size(1), I = ex.inter;
  // The CPU computes from the per-expert weights (the stacked form is the GPU's).
  const size_t E = static_cast<size_t>(ex.num_experts);
  ROTOR_CHECK(ex.gate.size() == E && ex.up.size() == E && ex.down.size() == E,
              "moe_experts: the CPU backend needs gate, up and down weights of each of the {} experts, got {}, {} and {}",
              E, ex.gate.size(), ex.up.size(), ex.down.size());
  for (size_t e = 0; e < E; ++e) {
    contract::check_linear("moe_experts (an expert's gate)", ex.gate[e], I, H, out.device());
    contract::check_linear("moe_experts (an expert's up)", ex.up[e], I, H, out.device());
    contract::check_linear("moe_experts (an expert's down)", ex.down[e], H, I, out.device());
  }
  // Token slots (t * K + j) of each expert held here; the others' slots stay zero.
  std::vector<std::vector<int64_t>> slots(ex.num_experts);
  const int32_t* ids = topk_ids.data<int32_t>();
  for (int64_t s = 0; s < T * K; ++s) {
    const int64_t e = static_cast<int64_t>(ids[s]) - ex.first_expert;
    if (e >= 0 && e < ex.num_experts) slots[e].push_back(s);
  }
  std::vector<int32_t> active;
  for (int32_t e = 0; e < ex.num_experts; ++e)
    if (!slots[e].empty()) active.push_back(e);
  std::vector<float> y(T * K * H, 0.0f);  // per-slot expert outputs, reduced in slot order below
#pragma omp parallel
  {
    std::vector<float> xs, g, u, d, scales;
    std::vector<int8_t> xq;
#pragma omp for schedule(dynamic, 1)
    for (size_t a = 0; a < active.size(); ++a) {
      const int32_t e = active[a];
      const int64_t n = static_cast<int64_t>(slots[e].size());
      xs.resize(n * H);
      g.resize(n * I);
      u.resize(n * I);
      d.resize(n * H);
      for (int64_t i = 0; i < n; ++i) row_to_f32(x.row_ptr(slots[e][i] / K), x.dtype(), H, &xs[i * H]);
      expert_linear(xs.data(), n, ex.gate[e], g.data(), xq, scales);
      expert_linear(xs.data(), n, ex.up[e], u.data(), xq, scales);
      for (int64_t i = 0; i < n * I; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
      expert_linear(g.data(), n, ex.down[e], d.data(), xq, scales);
      for (int64_t i = 0; i < n; ++i) std::copy(&d[i * H], &d[(i + 1) * H], &y[slots[e][i] * H]);
    }
  }
  const float* w = topk_weights.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    void* o = out.row_ptr(t);
    for (int64_t h = 0; h < H; ++h) {
      float acc = 0;
      for (int64_t j = 0; j < K; ++j) acc += w[t * K + j] * y[(t * K + j) * H + h];
      store_f32(o, out.dtype(), h, acc);
    }
  }
}

}  // namespace rotor::cpu
