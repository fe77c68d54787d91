// tests/kernels/test_cpu_ops.cpp — each CPU op against a plain double-precision reference
// written from the definition, on random shapes and random data (paged attention with
// shuffled block tables; sampling statistics).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <tuple>

#include "core/bf16.h"
#include "core/error.h"
#include "kernels/decode_plan.h"
#include "kernels/ops.h"
#include "tests/support/attention_reference.h"
#include "tests/support/random_tensors.h"

namespace rotor {
namespace {

using test::Rand;

OwnedTensor i32(std::vector<int32_t> v, Shape s) {
  OwnedTensor t(cpu_allocator(), DType::I32, s);
  std::copy(v.begin(), v.end(), t.tensor.data<int32_t>());
  return t;
}

float at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::BF16 ? bf16_to_f32(t.data<uint16_t>()[i]) : t.data<float>()[i];
}

double rel_err(const std::vector<double>& ref, const float* got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (ref[i] - got[i]) * (ref[i] - got[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

class CpuOps : public ::testing::Test {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
  Rand r{1234};
};

TEST_F(CpuOps, GemmIntoColumnSliceMatchesDouble) {
  for (int trial = 0; trial < 5; ++trial) {
    const int M = r.uniform(1, 37), K = r.uniform(1, 300), N = r.uniform(1, 70), pad = r.uniform(0, 9);
    OwnedTensor x = r.f32({M, K}), w = r.bf16({N, K}), out = r.f32({M, N + pad});
    LinearWeight lw;
    lw.weight = w.tensor;
    ops->gemm(x.tensor, lw, out.tensor.narrow(1, pad, N));
    std::vector<double> ref(M * N);
    std::vector<float> got(M * N);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += double(at(x.tensor, m * K + k)) * at(w.tensor, n * K + k);
        ref[m * N + n] = s;
        got[m * N + n] = out.tensor.data<float>()[m * (N + pad) + pad + n];
      }
    EXPECT_LT(rel_err(ref, got.data()), 1e-5) << M << "x" << K << "x" << N;
  }
}

TEST_F(CpuOps, RmsNormWithResidualAndBias) {
  const int T = 7, H = 96;
  OwnedTensor x = r.f32({T, H}), res = r.f32({T, H}), w = r.bf16({H}), b = r.f32({H}), out = r.f32({T, H});
  std::vector<float> res0(res.tensor.data<float>(), res.tensor.data<float>() + T * H);
  ops->rms_norm(x.tensor, w.tensor, b.tensor, 1e-6f, out.tensor, res.tensor);
  std::vector<double> ref(T * H), sum(T * H);
  for (int t = 0; t < T; ++t) {
    double ss = 0;
    for (int h = 0; h < H; ++h) {
      sum[t * H + h] = double(res0[t * H + h]) + at(x.tensor, t * H + h);
      ss += sum[t * H + h] * sum[t * H + h];
    }
    const double inv = 1.0 / std::sqrt(ss / H + 1e-6);
    for (int h = 0; h < H; ++h) ref[t * H + h] = sum[t * H + h] * inv * at(w.tensor, h) + at(b.tensor, h);
  }
  EXPECT_LT(rel_err(ref, out.tensor.data<float>()), 1e-6);
  EXPECT_LT(rel_err(sum, res.tensor.data<float>()), 1e-7);
}

TEST_F(CpuOps, PagedAttentionDecodeAndPrefillMatchDense) {
  const int Hq = 8, Hkv = 2, hd = 32, bs = 4, num_blocks = 64;
  OwnedTensor kc(cpu_allocator(), DType::F32, {num_blocks, Hkv, bs, hd}), vc(cpu_allocator(), DType::F32,
                                                                              {num_blocks, Hkv, bs, hd});
  // Three sequences: a decode (ctx 9), a prefill chunk of 5 after 6 cached, a fresh prefill of 3.
  const std::vector<int> ctx{9, 11, 3}, qlen{1, 5, 3};
  std::vector<int> free_blocks(num_blocks);
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), r.g);
  const int maxb = 4;
  std::vector<int32_t> tables(3 * maxb, 0), qstart{0}, lens;
  std::vector<std::vector<float>> K(3), V(3);
  int fb = 0;
  for (int s = 0; s < 3; ++s) {
    const int nb = (ctx[s] + bs - 1) / bs;
    for (int b = 0; b < nb; ++b) tables[s * maxb + b] = free_blocks[fb++];
    K[s].resize(ctx[s] * Hkv * hd);
    V[s].resize(ctx[s] * Hkv * hd);
    for (auto& e : K[s]) e = r.normal();
    for (auto& e : V[s]) e = r.normal();
    for (int p = 0; p < ctx[s]; ++p)
      for (int h = 0; h < Hkv; ++h)
        for (int j = 0; j < hd; ++j) {
          const int64_t base = ((int64_t(tables[s * maxb + p / bs]) * Hkv + h) * bs + p % bs) * hd + j;
          kc.tensor.data<float>()[base] = K[s][(p * Hkv + h) * hd + j];
          vc.tensor.data<float>()[base] = V[s][(p * Hkv + h) * hd + j];
        }
    qstart.push_back(qstart.back() + qlen[s]);
    lens.push_back(ctx[s]);
  }
  const int T = qstart.back();
  OwnedTensor q = r.f32({T, Hq, hd}), out = r.f32({T, Hq * hd});
  OwnedTensor qs = i32(qstart, {4}), ls = i32(lens, {3}), bt = i32(tables, {3, maxb});
  AttentionBatch b;
  b.num_tokens = T;
  b.num_seqs = 3;
  b.num_decode_seqs = 1;
  b.block_size = bs;
  b.query_start = qs.tensor;
  b.seq_lens = ls.tensor;
  b.block_tables = bt.tensor;
  LayerKVCache cache{kc.tensor, vc.tensor};
  const float scale = 1.0f / std::sqrt(float(hd));
  ops->attention_decode(q.tensor.rows(0, 1), cache, b, scale, out.tensor.rows(0, 1));
  ops->attention_prefill(q.tensor.rows(1, T), cache, b, scale, out.tensor.rows(1, T));
  for (int s = 0; s < 3; ++s) {
    const auto ref = test::dense_causal_attention(q.tensor.data<float>() + qstart[s] * Hq * hd, K[s].data(),
                                                  V[s].data(), ctx[s], qlen[s], Hq, Hkv, hd, 1.0 / std::sqrt(double(hd)));
    EXPECT_LT(rel_err(ref, out.tensor.data<float>() + qstart[s] * Hq * hd), 1e-5) << "sequence " << s;
  }
}

// Decode attention by a split plan (kernels/decode_plan.h) against the same op unsplit, on
// random shapes, contexts and plans (graph padding rows included): the log-sum-exp merge.
TEST_F(CpuOps, PlannedDecodeAttentionMatchesUnsplit) {
  for (int trial = 0; trial < 12; ++trial) {
    const int Hkv = 1 << r.uniform(0, 2), Hq = Hkv * (1 << r.uniform(0, 3)), hd = r.uniform(0, 1) ? 64 : 16;
    const int bs = 16 * r.uniform(1, 3), S = r.uniform(1, 6), num_real = r.uniform(1, S);
    std::vector<int32_t> lens(S, 1);
    for (int s = 0; s < num_real; ++s) lens[s] = r.uniform(1, 1500);
    int maxb = 1, total = 0, max_len = 1;
    for (int32_t l : lens) {
      maxb = std::max(maxb, (l + bs - 1) / bs);
      total += (l + bs - 1) / bs;
      max_len = std::max(max_len, l);
    }
    std::vector<int32_t> blocks(total), tables(S * maxb, 0), qstart(S + 1);
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), r.g);
    for (int s = 0, f = 0; s < S; ++s) {
      qstart[s + 1] = s + 1;
      for (int b = 0; b < (lens[s] + bs - 1) / bs; ++b) tables[s * maxb + b] = blocks[f++];
    }
    OwnedTensor kc = r.f32({total, Hkv, bs, hd}), vc = r.f32({total, Hkv, bs, hd}), q = r.f32({S, Hq, hd});
    OwnedTensor qs = i32(qstart, {S + 1}), ls = i32(lens, {S}), bt = i32(tables, {S, maxb});
    DecodeSplitParams p;
    p.target_items = r.uniform(1, 64);
    p.min_chunk = 16 * r.uniform(1, 4);
    p.max_chunk = p.min_chunk + 16 * r.uniform(0, 40);
    const DecodePlan plan = plan_decode_splits(lens, num_real, p);
    OwnedTensor pl = i32(plan.data, {static_cast<int64_t>(plan.data.size())});
    AttentionBatch b;
    b.num_tokens = b.num_seqs = b.num_decode_seqs = S;
    b.max_query_len = 1;
    b.max_seq_len = max_len;
    b.block_size = bs;
    b.query_start = qs.tensor;
    b.seq_lens = ls.tensor;
    b.block_tables = bt.tensor;
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " S " << S << " Hq " << Hq << " Hkv " << Hkv << " hd "
                                      << hd << " bs " << bs << " items " << plan.items << " chunk " << plan.chunk);
    const float scale = 1.0f / std::sqrt(float(hd));
    OwnedTensor whole = r.f32({S, Hq * hd}), split = r.f32({S, Hq * hd});
    ops->attention_decode(q.tensor, {kc.tensor, vc.tensor}, b, scale, whole.tensor);
    b.decode_plan = pl.tensor;
    ops->attention_decode(q.tensor, {kc.tensor, vc.tensor}, b, scale, split.tensor);
    std::vector<double> ref(whole.tensor.data<float>(), whole.tensor.data<float>() + S * Hq * hd);
    EXPECT_LT(rel_err(ref, split.tensor.data<float>()), 1e-5);
    if (plan.items > S) {
      EXPECT_GT(rel_err(ref, split.tensor.data<float>()), 0.0) << "no split was exercised";
    }
  }
  // A plan that does not fit the rows is refused.
  OwnedTensor kc = r.f32({2, 1, 16, 16}), vc = r.f32({2, 1, 16, 16}), q = r.f32({1, 1, 16}), out = r.f32({1, 16});
  OwnedTensor qs = i32({0, 1}, {2}), ls = i32({20}, {1}), bt = i32({0, 1}, {1, 2});
  OwnedTensor bad = i32({2, 0, 2, 0, 0, 0, 32}, {7});  // second split starts past the context
  AttentionBatch b;
  b.num_tokens = b.num_seqs = b.num_decode_seqs = 1;
  b.block_size = 16;
  b.query_start = qs.tensor;
  b.seq_lens = ls.tensor;
  b.block_tables = bt.tensor;
  b.decode_plan = bad.tensor;
  EXPECT_THROW(ops->attention_decode(q.tensor, {kc.tensor, vc.tensor}, b, 0.25f, out.tensor), Error);
}

TEST_F(CpuOps, QkNormRopeWritesCacheAtSlots) {
  const int Hq = 4, Hkv = 2, hd = 16, bs = 4, T = 3, P = 64;
  OwnedTensor qkv = r.f32({T, (Hq + 2 * Hkv) * hd}), qn = r.bf16({hd}), kn = r.bf16({hd});
  OwnedTensor rope(cpu_allocator(), DType::F32, {P, hd});
  for (int p = 0; p < P; ++p)
    for (int i = 0; i < hd / 2; ++i) {
      const double a = p / std::pow(10000.0, 2.0 * i / hd);
      rope.tensor.data<float>()[p * hd + i] = float(std::cos(a));
      rope.tensor.data<float>()[p * hd + hd / 2 + i] = float(std::sin(a));
    }
  OwnedTensor kc = r.f32({8, Hkv, bs, hd}), vc = r.f32({8, Hkv, bs, hd}), qo = r.f32({T, Hq, hd});
  OwnedTensor pos = i32({5, 17, 40}, {T}), slots = i32({6, 29, -1}, {T});
  AttentionBatch b;
  b.num_tokens = T;
  b.positions = pos.tensor;
  b.slot_mapping = slots.tensor;
  ops->qk_norm_rope(qkv.tensor, qn.tensor, kn.tensor, 1e-6f, rope.tensor, b, {kc.tensor, vc.tensor}, qo.tensor);
  const int W = (Hq + 2 * Hkv) * hd;
  auto ref_head = [&](int t, int h, const Tensor& w) {
    std::vector<double> v(hd), o(hd);
    double ss = 0;
    for (int i = 0; i < hd; ++i) ss += std::pow(at(qkv.tensor, t * W + h * hd + i), 2);
    for (int i = 0; i < hd; ++i) v[i] = at(qkv.tensor, t * W + h * hd + i) / std::sqrt(ss / hd + 1e-6) * at(w, i);
    const int p = pos.tensor.data<int32_t>()[t];
    for (int i = 0; i < hd; ++i) {
      const int f = i % (hd / 2);
      const double a = p / std::pow(10000.0, 2.0 * f / hd);
      const double rot = i < hd / 2 ? -v[i + hd / 2] : v[i - hd / 2];
      o[i] = v[i] * std::cos(a) + rot * std::sin(a);
    }
    return o;
  };
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < Hq; ++h)
      EXPECT_LT(rel_err(ref_head(t, h, qn.tensor), qo.tensor.data<float>() + (t * Hq + h) * hd), 1e-5);
    const int slot = slots.tensor.data<int32_t>()[t];
    if (slot < 0) continue;
    for (int h = 0; h < Hkv; ++h) {
      const int64_t base = ((int64_t(slot / bs) * Hkv + h) * bs + slot % bs) * hd;
      EXPECT_LT(rel_err(ref_head(t, Hq + h, kn.tensor), kc.tensor.data<float>() + base), 1e-5);
      for (int i = 0; i < hd; ++i) EXPECT_EQ(vc.tensor.data<float>()[base + i], at(qkv.tensor, t * W + (Hq + Hkv + h) * hd + i));
    }
  }
}

// qk_norm_rope_attention_decode (the backend's default: no fusion) is qk_norm_rope into
// q_scratch, then attention_decode: their bits in q_scratch, out and the cache, with and without
// a split plan, a padding row (slot -1) included; a batch with a prefill row is refused.
TEST_F(CpuOps, QkNormRopeAttentionDecodeIsTheTwoOps) {
  const int Hq = 8, Hkv = 2, hd = 16, bs = 16, S = 4, P = 256;
  const std::vector<int32_t> lens{37, 1, 200, 1}, pos{36, 0, 199, 0};
  std::vector<int32_t> tables(S * 13, 0), slots(S, -1), qstart(S + 1);
  for (int s = 0, f = 0; s < S; ++s) {
    qstart[s + 1] = s + 1;
    for (int b = 0; b < (lens[s] + bs - 1) / bs; ++b) tables[s * 13 + b] = f++;
    if (s < 3) slots[s] = tables[s * 13 + pos[s] / bs] * bs + pos[s] % bs;  // row 3: padding
  }
  OwnedTensor qkv = r.f32({S, (Hq + 2 * Hkv) * hd}), qn = r.bf16({hd}), kn = r.bf16({hd}), rope = r.f32({P, hd});
  OwnedTensor kc = r.f32({20, Hkv, bs, hd}), vc = r.f32({20, Hkv, bs, hd});
  OwnedTensor qs = i32(qstart, {S + 1}), ls = i32(lens, {S}), bt = i32(tables, {S, 13}), ps = i32(pos, {S}),
              sl = i32(slots, {S});
  DecodeSplitParams p;
  p.target_items = 12;
  p.min_chunk = 16;
  const DecodePlan plan = plan_decode_splits(lens, 3, p);
  OwnedTensor pl = i32(plan.data, {static_cast<int64_t>(plan.data.size())});
  for (bool planned : {false, true}) {
    SCOPED_TRACE(planned ? "split plan" : "unsplit");
    AttentionBatch b;
    b.num_tokens = b.num_seqs = b.num_decode_seqs = S;
    b.max_query_len = 1;
    b.max_seq_len = 200;
    b.block_size = bs;
    b.positions = ps.tensor;
    b.slot_mapping = sl.tensor;
    b.query_start = qs.tensor;
    b.seq_lens = ls.tensor;
    b.block_tables = bt.tensor;
    if (planned) b.decode_plan = pl.tensor;
    OwnedTensor k1(cpu_allocator(), DType::F32, kc.tensor.shape()), v1(cpu_allocator(), DType::F32, vc.tensor.shape());
    OwnedTensor k2(cpu_allocator(), DType::F32, kc.tensor.shape()), v2(cpu_allocator(), DType::F32, vc.tensor.shape());
    for (OwnedTensor* t : {&k1, &k2}) std::memcpy(t->tensor.data(), kc.tensor.data(), kc.tensor.nbytes());
    for (OwnedTensor* t : {&v1, &v2}) std::memcpy(t->tensor.data(), vc.tensor.data(), vc.tensor.nbytes());
    OwnedTensor q1 = r.f32({S, Hq, hd}), q2 = r.f32({S, Hq, hd}), o1 = r.f32({S, Hq * hd}), o2 = r.f32({S, Hq * hd});
    const float scale = 1.0f / std::sqrt(float(hd));
    ops->qk_norm_rope_attention_decode(qkv.tensor, qn.tensor, kn.tensor, 1e-6f, rope.tensor, b, {k1.tensor, v1.tensor},
                                       scale, q1.tensor, o1.tensor);
    ops->qk_norm_rope(qkv.tensor, qn.tensor, kn.tensor, 1e-6f, rope.tensor, b, {k2.tensor, v2.tensor}, q2.tensor);
    ops->attention_decode(q2.tensor, {k2.tensor, v2.tensor}, b, scale, o2.tensor);
    for (const auto& [name, a, c] : {std::tuple{"q_scratch", &q1, &q2}, {"out", &o1, &o2}, {"cache.k", &k1, &k2},
                                     {"cache.v", &v1, &v2}})
      EXPECT_EQ(std::memcmp(a->tensor.data(), c->tensor.data(), a->tensor.nbytes()), 0) << name;

    AttentionBatch mixed = b;
    mixed.num_decode_seqs = S - 1;
    EXPECT_THROW(ops->qk_norm_rope_attention_decode(qkv.tensor, qn.tensor, kn.tensor, 1e-6f, rope.tensor, mixed,
                                                    {k1.tensor, v1.tensor}, scale, q1.tensor, o1.tensor),
                 Error);
  }
}

TEST_F(CpuOps, MoeRouteAndExpertsMatchNaive) {
  const int T = 9, H = 24, I = 16, E = 6, K = 2;
  OwnedTensor logits = r.f32({T, E}, 2.0f), x = r.f32({T, H});
  OwnedTensor tw(cpu_allocator(), DType::F32, {T, K}), ti(cpu_allocator(), DType::I32, {T, K});
  ops->moe_route(logits.tensor, K, true, tw.tensor, ti.tensor);
  ExpertWeights ex;
  ex.num_experts = E;
  ex.hidden = H;
  ex.inter = I;
  std::vector<OwnedTensor> store;
  for (int e = 0; e < E; ++e) {
    store.push_back(r.bf16({I, H}, 0.3f));
    ex.gate.push_back(LinearWeight::dense(store.back().tensor));
    store.push_back(r.bf16({I, H}, 0.3f));
    ex.up.push_back(LinearWeight::dense(store.back().tensor));
    store.push_back(r.bf16({H, I}, 0.3f));
    ex.down.push_back(LinearWeight::dense(store.back().tensor));
  }
  OwnedTensor out = r.f32({T, H});
  ops->moe_experts(x.tensor, tw.tensor, ti.tensor, ex, out.tensor);
  std::vector<double> ref(T * H, 0.0);
  for (int t = 0; t < T; ++t) {
    std::vector<double> p(E);
    double sum = 0;
    for (int e = 0; e < E; ++e) sum += (p[e] = std::exp(double(logits.tensor.data<float>()[t * E + e])));
    std::vector<int> order(E);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    const double ksum = p[order[0]] + p[order[1]];
    for (int j = 0; j < K; ++j) {
      const int e = order[j];
      EXPECT_EQ(ti.tensor.data<int32_t>()[t * K + j], e);
      EXPECT_NEAR(tw.tensor.data<float>()[t * K + j], p[e] / ksum, 1e-6);
      std::vector<double> hbuf(I);
      for (int i = 0; i < I; ++i) {
        double g = 0, u = 0;
        for (int k = 0; k < H; ++k) {
          g += double(at(x.tensor, t * H + k)) * at(ex.gate[e].weight, i * H + k);
          u += double(at(x.tensor, t * H + k)) * at(ex.up[e].weight, i * H + k);
        }
        hbuf[i] = g / (1 + std::exp(-g)) * u;
      }
      for (int k = 0; k < H; ++k) {
        double d = 0;
        for (int i = 0; i < I; ++i) d += hbuf[i] * at(ex.down[e].weight, k * I + i);
        ref[t * H + k] += p[e] / ksum * d;
      }
    }
  }
  EXPECT_LT(rel_err(ref, out.tensor.data<float>()), 1e-5);
}

// route_experts is gemm then moe_route: their bits, with and without renormalisation.
TEST_F(CpuOps, RouteExpertsIsGemmThenMoeRoute) {
  const int T = 5, H = 64, E = 16, K = 4;
  OwnedTensor x = r.f32({T, H}), w = r.bf16({E, H}, 0.3f);
  for (bool renorm : {true, false}) {
    OwnedTensor logits(cpu_allocator(), DType::F32, {T, E}), tw(cpu_allocator(), DType::F32, {T, K}),
        ti(cpu_allocator(), DType::I32, {T, K});
    OwnedTensor logits2(cpu_allocator(), DType::F32, {T, E}), tw2(cpu_allocator(), DType::F32, {T, K}),
        ti2(cpu_allocator(), DType::I32, {T, K});
    ops->route_experts(x.tensor, LinearWeight::dense(w.tensor), K, renorm, logits.tensor, tw.tensor, ti.tensor);
    ops->gemm(x.tensor, LinearWeight::dense(w.tensor), logits2.tensor);
    ops->moe_route(logits2.tensor, K, renorm, tw2.tensor, ti2.tensor);
    for (const auto& [a, b] : {std::pair{&logits, &logits2}, {&tw, &tw2}, {&ti, &ti2}})
      EXPECT_EQ(std::memcmp(a->tensor.data(), b->tensor.data(), a->tensor.nbytes()), 0) << renorm;
  }
}

// Expert parallelism: each slice of whole experts (first_expert, num_experts) adds only the
// routed ids it holds; the slices' outputs sum to the output of all experts at once, and a
// slice no token is routed to outputs zeros.
TEST_F(CpuOps, MoeExpertSlicesSumToAllExperts) {
  const int T = 11, H = 32, I = 24, E = 8, K = 3;
  OwnedTensor logits = r.f32({T, E}, 2.0f), x = r.f32({T, H});
  OwnedTensor tw(cpu_allocator(), DType::F32, {T, K}), ti(cpu_allocator(), DType::I32, {T, K});
  ops->moe_route(logits.tensor, K, true, tw.tensor, ti.tensor);
  std::vector<OwnedTensor> store;
  std::vector<LinearWeight> gate, up, down;
  for (int e = 0; e < E; ++e) {
    store.push_back(r.bf16({I, H}, 0.3f));
    gate.push_back(LinearWeight::dense(store.back().tensor));
    store.push_back(r.bf16({I, H}, 0.3f));
    up.push_back(LinearWeight::dense(store.back().tensor));
    store.push_back(r.bf16({H, I}, 0.3f));
    down.push_back(LinearWeight::dense(store.back().tensor));
  }
  auto slice = [&](int first, int n) {
    ExpertWeights ex;
    ex.num_experts = n;
    ex.first_expert = first;
    ex.hidden = H;
    ex.inter = I;
    ex.gate.assign(gate.begin() + first, gate.begin() + first + n);
    ex.up.assign(up.begin() + first, up.begin() + first + n);
    ex.down.assign(down.begin() + first, down.begin() + first + n);
    return ex;
  };
  OwnedTensor all = r.f32({T, H});
  ops->moe_experts(x.tensor, tw.tensor, ti.tensor, slice(0, E), all.tensor);
  for (int parts : {2, 4, 8}) {
    SCOPED_TRACE(::testing::Message() << parts << " slices");
    std::vector<double> sum(T * H, 0.0);
    for (int p = 0; p < parts; ++p) {
      OwnedTensor out = r.f32({T, H});  // random: every element must be written
      ops->moe_experts(x.tensor, tw.tensor, ti.tensor, slice(p * E / parts, E / parts), out.tensor);
      for (int i = 0; i < T * H; ++i) sum[i] += out.tensor.data<float>()[i];
    }
    EXPECT_LT(rel_err(sum, all.tensor.data<float>()), 1e-6);
  }
  // Every token routed to experts 0..K-1: the slice [K, E) adds nothing.
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < K; ++j) ti.tensor.data<int32_t>()[t * K + j] = j;
  OwnedTensor none = r.f32({T, H});
  ops->moe_experts(x.tensor, tw.tensor, ti.tensor, slice(K, E - K), none.tensor);
  for (int i = 0; i < T * H; ++i) ASSERT_EQ(none.tensor.data<float>()[i], 0.0f) << i;
}

struct SampleSetup {
  OwnedTensor temp, top_k, top_p, min_p, seed, counter;
  SamplingBatch batch;
  SampleSetup(int S, float t, int k, float p, float mp, int64_t sd) {
    Allocator& a = cpu_allocator();
    temp = OwnedTensor(a, DType::F32, {S});
    top_k = OwnedTensor(a, DType::I32, {S});
    top_p = OwnedTensor(a, DType::F32, {S});
    min_p = OwnedTensor(a, DType::F32, {S});
    seed = OwnedTensor(a, DType::I64, {S});
    counter = OwnedTensor(a, DType::I64, {S});
    for (int s = 0; s < S; ++s) {
      temp.tensor.data<float>()[s] = t;
      top_k.tensor.data<int32_t>()[s] = k;
      top_p.tensor.data<float>()[s] = p;
      min_p.tensor.data<float>()[s] = mp;
      seed.tensor.data<int64_t>()[s] = sd;
      counter.tensor.data<int64_t>()[s] = s;  // every row a different draw of one stream
    }
    batch = {temp.tensor, top_k.tensor, top_p.tensor, min_p.tensor, seed.tensor, counter.tensor};
  }
};

TEST_F(CpuOps, SampleGreedyAndFilters) {
  const int V = 50, S = 4000;
  OwnedTensor row = r.f32({1, V}, 1.5f), logits(cpu_allocator(), DType::F32, {S, V});
  for (int s = 0; s < S; ++s) std::copy_n(row.tensor.data<float>(), V, logits.tensor.data<float>() + s * V);
  const float* l = row.tensor.data<float>();
  const int best = int(std::max_element(l, l + V) - l);
  OwnedTensor ids(cpu_allocator(), DType::I32, {S});

  SampleSetup greedy(S, 0.0f, 0, 1.0f, 0.0f, 7);
  ops->sample(logits.tensor, greedy.batch, ids.tensor);
  for (int s = 0; s < S; ++s) ASSERT_EQ(ids.tensor.data<int32_t>()[s], best);

  SampleSetup topk1(S, 1.0f, 1, 1.0f, 0.0f, 7);
  ops->sample(logits.tensor, topk1.batch, ids.tensor);
  for (int s = 0; s < S; ++s) ASSERT_EQ(ids.tensor.data<int32_t>()[s], best);

  // Plain temperature-1 sampling: frequencies follow softmax(l) (loose 5-sigma bound).
  SampleSetup plain(S, 1.0f, 0, 1.0f, 0.0f, 7);
  ops->sample(logits.tensor, plain.batch, ids.tensor);
  std::vector<double> p(V), freq(V, 0);
  double sum = 0;
  for (int v = 0; v < V; ++v) sum += (p[v] = std::exp(double(l[v])));
  for (int s = 0; s < S; ++s) freq[ids.tensor.data<int32_t>()[s]] += 1.0 / S;
  for (int v = 0; v < V; ++v) {
    const double pv = p[v] / sum;
    EXPECT_NEAR(freq[v], pv, 5 * std::sqrt(pv * (1 - pv) / S) + 1e-3) << "token " << v;
  }
  // Same seed and counters: same draws.
  OwnedTensor again(cpu_allocator(), DType::I32, {S});
  ops->sample(logits.tensor, plain.batch, again.tensor);
  EXPECT_TRUE(std::equal(ids.tensor.data<int32_t>(), ids.tensor.data<int32_t>() + S, again.tensor.data<int32_t>()));

  // top-k 3: only the three most likely tokens appear.
  std::vector<int> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
  SampleSetup topk3(S, 1.0f, 3, 1.0f, 0.0f, 9);
  ops->sample(logits.tensor, topk3.batch, ids.tensor);
  for (int s = 0; s < S; ++s) {
    const int id = ids.tensor.data<int32_t>()[s];
    ASSERT_TRUE(id == order[0] || id == order[1] || id == order[2]);
  }
  // top-p: only the smallest prefix reaching p.
  double cum = 0;
  int keep = 0;
  while (cum < 0.5) cum += p[order[keep++]] / sum;
  SampleSetup topp(S, 1.0f, 0, 0.5f, 0.0f, 9);
  ops->sample(logits.tensor, topp.batch, ids.tensor);
  for (int s = 0; s < S; ++s) {
    const int id = ids.tensor.data<int32_t>()[s];
    ASSERT_NE(std::find(order.begin(), order.begin() + keep, id), order.begin() + keep);
  }
  // min-p: nothing below min_p * p_max.
  SampleSetup minp(S, 1.0f, 0, 1.0f, 0.3f, 9);
  ops->sample(logits.tensor, minp.batch, ids.tensor);
  for (int s = 0; s < S; ++s) ASSERT_GE(p[ids.tensor.data<int32_t>()[s]], 0.3 * p[best] * (1 - 1e-5));
}

TEST_F(CpuOps, FillRandomIsDeterministicAndScaled) {
  OwnedTensor a(cpu_allocator(), DType::BF16, {100000}), b(cpu_allocator(), DType::BF16, {100000});
  ops->fill_random(a.tensor, 42, 0.5f, 2.0f);
  ops->fill_random(b.tensor, 42, 0.5f, 2.0f);
  EXPECT_EQ(std::memcmp(a.tensor.data(), b.tensor.data(), a.tensor.nbytes()), 0);
  double m = 0, v = 0;
  for (int i = 0; i < 100000; ++i) m += at(a.tensor, i) / 1e5;
  for (int i = 0; i < 100000; ++i) v += std::pow(at(a.tensor, i) - m, 2) / 1e5;
  EXPECT_NEAR(m, 0.5, 0.03);
  EXPECT_NEAR(std::sqrt(v), 2.0, 0.05);
}

}  // namespace
}  // namespace rotor
