// kernels/cpu/attention.cpp — causal GQA attention over the paged KV cache, decode and
// prefill alike: each new token attends to every cached position up to its own; decode rows
// also by a split plan (kernels/decode_plan.h): each split's softmax over its own tokens, the
// splits then merged in order by their log-sum-exp, as the GPU's flash-decoding does. An FP8
// cache is read as e4m3 * scale (f32).
#include <cmath>
#include <limits>
#include <utility>
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

void attention_decode_planned(const Tensor& q, const LayerKVCache& cache, const AttentionBatch& batch, float scale,
                              const Tensor& out) {
  const int64_t Hq = q.size(1), hd = q.size(2);
  const int64_t Hkv = cache.k.size(1), bs = cache.k.size(2);
  const int64_t group = Hq / Hkv;
  const int S = batch.num_decode_seqs;
  ROTOR_CHECK(Hq % Hkv == 0 && cache.k.size(3) == hd && out.size(1) == Hq * hd && q.size(0) == S,
              "attention_decode: bad shapes q {} k_cache {} out {} for {} decodes", q.str(), cache.k.str(), out.str(),
              S);
  const bool fp8 = cache.fp8();
  const float k_scale = fp8 ? cache.scales.data<float>()[0] : 1.0f, v_scale = fp8 ? cache.scales.data<float>()[1] : 1.0f;
  const int32_t* plan = batch.decode_plan.data<int32_t>();
  const int64_t plan_len = batch.decode_plan.numel();
  ROTOR_CHECK(batch.decode_plan.dtype() == DType::I32 && plan_len >= decode_plan_size(S, 0) &&
                  plan_len >= decode_plan_size(S, plan[0]),
              "attention_decode: a plan of {} values for {} rows", plan_len, S);
  const int items = plan[0];
  const int32_t* first = plan + 1;
  const int32_t* item = plan + S + 2;
  const int32_t* lens = batch.seq_lens.data<int32_t>();
  const int32_t* tables = batch.block_tables.data<int32_t>();
  const int64_t table_stride = batch.block_tables.size(1);
  ROTOR_CHECK(first[0] == 0 && first[S] == items, "attention_decode: the plan's rows own items {}..{} of {}", first[0],
              first[S], items);
  for (int s = 0; s < S; ++s)
    for (int i = first[s]; i < first[s + 1]; ++i) {
      const int end = i + 1 < first[s + 1] ? item[2 * i + 3] : lens[s];
      ROTOR_CHECK(item[2 * i] == s && item[2 * i + 1] >= 0 && item[2 * i + 1] < end && end <= lens[s],
                  "attention_decode: plan item {} (row {}, from {}) does not fit row {} of {} tokens", i, item[2 * i],
                  item[2 * i + 1], s, lens[s]);
    }
  // Each (item, head): the split's maximum score, its sum of exponentials and its normalised
  // output, as the GPU's partials [max, sum, out[hd]].
  std::vector<float> part(static_cast<size_t>(items) * Hq * (hd + 2));
#pragma omp parallel
  {
    std::vector<float> qv(hd), kv(hd), acc(hd), scores;
#pragma omp for schedule(dynamic, 4)
    for (int64_t w = 0; w < int64_t{items} * Hq; ++w) {
      const int i = static_cast<int>(w / Hq);
      const int64_t h = w % Hq, kvh = h / group;
      const int s = item[2 * i], start = item[2 * i + 1];
      const int end = i + 1 < first[s + 1] ? item[2 * i + 3] : lens[s];
      row_to_f32(static_cast<const char*>(q.row_ptr(s)) + h * hd * dtype_size(q.dtype()), q.dtype(), hd, qv.data());
      scores.resize(end - start);
      float mx = -std::numeric_limits<float>::infinity();
      for (int p = start; p < end; ++p) {
        const int64_t block = tables[s * table_stride + p / bs];
        const int64_t base = ((block * Hkv + kvh) * bs + p % bs) * hd;
        cache_row(cache.k, base, hd, k_scale, kv.data());
        float d = 0;
        for (int64_t j = 0; j < hd; ++j) d += qv[j] * kv[j];
        scores[p - start] = d * scale;
        mx = std::max(mx, scores[p - start]);
      }
      double sum = 0;
      for (float& e : scores) sum += (e = std::exp(e - mx));
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int p = start; p < end; ++p) {
        const int64_t block = tables[s * table_stride + p / bs];
        const int64_t base = ((block * Hkv + kvh) * bs + p % bs) * hd;
        cache_row(cache.v, base, hd, v_scale, kv.data());
        const float pw = scores[p - start];
        for (int64_t j = 0; j < hd; ++j) acc[j] += pw * kv[j];
      }
      float* pt = part.data() + w * (hd + 2);
      pt[0] = mx;
      pt[1] = static_cast<float>(sum);
      for (int64_t j = 0; j < hd; ++j) pt[2 + j] = static_cast<float>(acc[j] / sum);
    }
    // Merge each (row, head)'s splits in order: weights sum_i * exp(max_i - max).
#pragma omp for
    for (int64_t w = 0; w < int64_t{S} * Hq; ++w) {
      const int s = static_cast<int>(w / Hq);
      const int64_t h = w % Hq;
      auto at = [&](int i) { return part.data() + (int64_t{i} * Hq + h) * (hd + 2); };
      float M = -std::numeric_limits<float>::infinity();
      for (int i = first[s]; i < first[s + 1]; ++i) M = std::max(M, at(i)[0]);
      double L = 0;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int i = first[s]; i < first[s + 1]; ++i) {
        const float wt = at(i)[1] * std::exp(at(i)[0] - M);
        L += wt;
        for (int64_t j = 0; j < hd; ++j) acc[j] += wt * at(i)[2 + j];
      }
      void* o = out.row_ptr(s);
      for (int64_t j = 0; j < hd; ++j) store_f32(o, out.dtype(), h * hd + j, static_cast<float>(acc[j] / L));
    }
  }
}

}  // namespace rotor::cpu
