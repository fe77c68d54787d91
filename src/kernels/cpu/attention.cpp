// kernels/cpu/attention.cpp — causal GQA attention over the paged KV cache, decode and
// prefill alike: each new token attends to every cached position up to its own. An FP8 cache
// is read as e4m3 * scale (f32).
#include <cmath>
#include <limits>
#include <vector>

#include "core/fp8.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {
namespace {

// dst[0, n) = elements [base, base + n) of a cache tensor as f32 (FP8: times scale).
void cache_row(const Tensor& c, int64_t base, int64_t n, float scale, float* dst) {
  if (c.dtype() == DType::F8E4M3) {
    const uint8_t* s = c.data<uint8_t>() + base;
    for (int64_t i = 0; i < n; ++i) dst[i] = e4m3_to_f32(s[i]) * scale;
    return;
  }
  row_to_f32(static_cast<const char*>(c.data()) + base * dtype_size(c.dtype()), c.dtype(), n, dst);
}

}  // namespace

void attention(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, int seq_begin,
               int seq_end, float scale, const Tensor& out) {
  const int64_t Hq = q.size(1), hd = q.size(2);
  const int64_t Hkv = cache.k.size(1), bs = cache.k.size(2);
  const int64_t group = Hq / Hkv;
  const bool fp8 = cache.fp8();
  const float k_scale = fp8 ? cache.scales.data<float>()[0] : 1.0f, v_scale = fp8 ? cache.scales.data<float>()[1] : 1.0f;
  const int32_t* qs = batch.query_start.data<int32_t>();
  const int32_t* lens = batch.seq_lens.data<int32_t>();
  const int32_t* tables = batch.block_tables.data<int32_t>();
  const int64_t table_stride = batch.block_tables.size(1);
  const int64_t row0 = qs[seq_begin];
  ROTOR_CHECK(q.size(0) == qs[seq_end] - row0, "attention: q has {} rows for {} tokens", q.size(0),
              qs[seq_end] - row0);
  // (token, head) work items, flattened so threads share long and short sequences alike.
  std::vector<std::pair<int32_t, int32_t>> token_seq;  // (row in q, sequence)
  for (int s = seq_begin; s < seq_end; ++s)
    for (int32_t t = qs[s]; t < qs[s + 1]; ++t) token_seq.emplace_back(t - static_cast<int32_t>(row0), s);
  const int64_t items = static_cast<int64_t>(token_seq.size()) * Hq;
#pragma omp parallel
  {
    std::vector<float> qv(hd), kv(hd), acc(hd), scores;
#pragma omp for schedule(dynamic, 4)
    for (int64_t item = 0; item < items; ++item) {
      const auto [row, s] = token_seq[item / Hq];
      const int64_t h = item % Hq, kvh = h / group;
      const int64_t q_len = qs[s + 1] - qs[s];
      const int64_t ctx = lens[s] - q_len + (row + row0 - qs[s]) + 1;  // causal: up to this token
      row_to_f32(static_cast<const char*>(q.row_ptr(row)) + h * hd * dtype_size(q.dtype()), q.dtype(), hd, qv.data());
      scores.resize(ctx);
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t p = 0; p < ctx; ++p) {
        const int64_t block = tables[s * table_stride + p / bs];
        const int64_t base = ((block * Hkv + kvh) * bs + p % bs) * hd;
        cache_row(cache.k, base, hd, k_scale, kv.data());
        float d = 0;
        for (int64_t i = 0; i < hd; ++i) d += qv[i] * kv[i];
        scores[p] = d * scale;
        mx = std::max(mx, scores[p]);
      }
      double sum = 0;
      for (int64_t p = 0; p < ctx; ++p) {
        scores[p] = std::exp(scores[p] - mx);
        sum += scores[p];
      }
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t p = 0; p < ctx; ++p) {
        const int64_t block = tables[s * table_stride + p / bs];
        const int64_t base = ((block * Hkv + kvh) * bs + p % bs) * hd;
        cache_row(cache.v, base, hd, v_scale, kv.data());
        const float pw = scores[p];
        for (int64_t i = 0; i < hd; ++i) acc[i] += pw * kv[i];
      }
      const float inv = static_cast<float>(1.0 / sum);
      void* o = out.row_ptr(row);
      for (int64_t i = 0; i < hd; ++i) store_f32(o, out.dtype(), h * hd + i, acc[i] * inv);
    }
  }
}

}  // namespace rotor::cpu
