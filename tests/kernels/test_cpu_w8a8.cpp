// tests/kernels/test_cpu_w8a8.cpp — the CPU W8A8 ops against the definitions in W8A8.md,
// written out in double here: static and per-token quantisation (half-to-even rounding,
// clamping), exact int8 GEMM sums with both epilogues, the fused norm + quantisation, and the
// W8A8 expert path (per-token quantisation, SiLU·mul, requantisation).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/bf16.h"
#include "kernels/ops.h"
#include "tests/support/random_tensors.h"

namespace rotor {
namespace {

using test::Rand;

double rint_d(double v) { return std::nearbyint(v); }

int8_t ref_static(float x, float scale, float offset) {
  return static_cast<int8_t>(std::clamp(rint_d(double(x) / double(scale) + double(offset)), -128.0, 127.0));
}

// A W8A8Static or W8A8Dynamic weight with its owned tensors.
struct QuantLinear {
  OwnedTensor w, deq, qb, ws;
  LinearWeight lw;
  QuantLinear(Rand& r, QuantKind kind, int64_t N, int64_t K, bool with_bias = true) {
    w = r.i8({N, K});
    lw.kind = kind;
    lw.weight = w.tensor;
    if (kind == QuantKind::W8A8Static) {
      deq = r.f32({N}, 1e-3f);
      qb = OwnedTensor(cpu_allocator(), DType::I32, {N});
      for (int64_t n = 0; n < N; ++n) {
        deq.tensor.data<float>()[n] = std::fabs(deq.tensor.data<float>()[n]) + 1e-5f;
        qb.tensor.data<int32_t>()[n] = r.uniform(-100000, 100000);
      }
      lw.input_scale = 0.02f;
      lw.input_offset = -3.0f;
      lw.deq_scale = deq.tensor;
      if (with_bias) lw.quant_bias = qb.tensor;
    } else {
      ws = r.f32({N}, 1e-2f);
      for (int64_t n = 0; n < N; ++n) ws.tensor.data<float>()[n] = std::fabs(ws.tensor.data<float>()[n]) + 1e-4f;
      lw.weight_scale = ws.tensor;
    }
  }
};

// out of one (m, n) exactly as W8A8.md defines it (int64 sum, double epilogue).
float ref_gemm(const int8_t* xq, float xs, const LinearWeight& w, int64_t n) {
  const int64_t K = w.in_features();
  int64_t acc = 0;
  for (int64_t k = 0; k < K; ++k) acc += int64_t(xq[k]) * w.weight.data<int8_t>()[n * K + k];
  if (w.kind == QuantKind::W8A8Static) {
    const int64_t b = w.quant_bias.defined() ? w.quant_bias.data<int32_t>()[n] : 0;
    return static_cast<float>(double(acc + b) * double(w.deq_scale.data<float>()[n]));
  }
  return static_cast<float>(double(acc) * double(w.weight_scale.data<float>()[n]) * double(xs));
}

class CpuW8A8 : public ::testing::Test {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
  Rand r{4321};
};

TEST_F(CpuW8A8, QuantStaticRoundsHalfToEvenAndClamps) {
  const std::vector<float> x = {0.25f, 0.75f, -0.25f, 1.25f, -1.25f, 1000.0f, -1000.0f, 63.4f, -64.25f, 0.0f};
  const std::vector<int8_t> want = {0, 2, 0, 2, -2, 127, -128, 127, -128, 0};  // scale 0.5, offset 0
  OwnedTensor xt(cpu_allocator(), DType::F32, {1, int64_t(x.size())}), q(cpu_allocator(), DType::I8, {1, int64_t(x.size())});
  std::copy(x.begin(), x.end(), xt.tensor.data<float>());
  ops->quant_static(xt.tensor, 0.5f, 0.0f, q.tensor);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(q.tensor.data<int8_t>()[i], want[i]) << x[i];
  // With an offset: 0.25 / 0.5 + 2.5 = 3 exactly; 0.5 / 0.5 + 2.5 = 3.5 -> 4 (even).
  xt.tensor.data<float>()[0] = 0.5f;
  ops->quant_static(xt.tensor, 0.5f, 2.5f, q.tensor);
  EXPECT_EQ(q.tensor.data<int8_t>()[0], 4);

  for (int trial = 0; trial < 5; ++trial) {
    const int T = r.uniform(1, 20), K = r.uniform(1, 300);
    const float scale = 0.01f + 0.05f * std::fabs(r.normal()), offset = float(r.uniform(-128, 127));
    OwnedTensor a = r.f32({T, K}), out(cpu_allocator(), DType::I8, {T, K});
    ops->quant_static(a.tensor, scale, offset, out.tensor);
    for (int64_t i = 0; i < T * K; ++i)
      ASSERT_EQ(out.tensor.data<int8_t>()[i], ref_static(a.tensor.data<float>()[i], scale, offset));
  }
}

TEST_F(CpuW8A8, QuantPerTokenMatchesDefinition) {
  for (int trial = 0; trial < 5; ++trial) {
    const int T = r.uniform(1, 20), K = r.uniform(1, 300);
    OwnedTensor a = r.f32({T, K}, 3.0f), out(cpu_allocator(), DType::I8, {T, K}),
                s(cpu_allocator(), DType::F32, {T});
    for (int k = 0; k < K; ++k) a.tensor.data<float>()[k] = 0.0f;  // an all-zero row
    ops->quant_per_token(a.tensor, out.tensor, s.tensor);
    for (int t = 0; t < T; ++t) {
      double amax = 0;
      for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(double(a.tensor.data<float>()[t * K + k])));
      const float scale = static_cast<float>(std::max(amax / 127.0, 1e-12));
      ASSERT_EQ(s.tensor.data<float>()[t], scale);
      int maxq = 0;
      for (int k = 0; k < K; ++k) {
        const int8_t q = out.tensor.data<int8_t>()[t * K + k];
        ASSERT_EQ(q, static_cast<int8_t>(rint_d(double(a.tensor.data<float>()[t * K + k]) / scale)));
        maxq = std::max(maxq, std::abs(int(q)));
      }
      EXPECT_EQ(maxq, t == 0 ? 0 : 127);
    }
  }
}

TEST_F(CpuW8A8, GemmW8A8ExactForBothEpilogues) {
  for (QuantKind kind : {QuantKind::W8A8Static, QuantKind::W8A8Dynamic}) {
    for (int trial = 0; trial < 6; ++trial) {
      const int M = r.uniform(1, 40), K = r.uniform(1, 700), N = r.uniform(1, 70), pad = r.uniform(0, 5);
      QuantLinear ql(r, kind, N, K, trial % 2 == 0);
      OwnedTensor xq = r.i8({M, K}, -128, 127), xs = r.f32({M}), out = r.f32({M, N + pad});
      ops->gemm_w8a8(xq.tensor, kind == QuantKind::W8A8Dynamic ? xs.tensor : Tensor{}, ql.lw,
                     out.tensor.narrow(1, pad, N));
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n)
          ASSERT_EQ(out.tensor.data<float>()[m * (N + pad) + pad + n],
                    ref_gemm(xq.tensor.data<int8_t>() + m * K, xs.tensor.data<float>()[m], ql.lw, n))
              << M << "x" << K << "x" << N << " at " << m << "," << n;
    }
  }
}

TEST_F(CpuW8A8, GemmW8A8ExtremeSumsAreExact) {
  // All products at the extreme (-128 * -127 = 16256): K = 65536 sums to 2^20 * 1016, exact.
  const int64_t K = 65536, N = 3;
  QuantLinear ql(r, QuantKind::W8A8Static, N, K, false);
  std::fill_n(ql.w.tensor.data<int8_t>(), N * K, int8_t(-127));
  OwnedTensor xq(cpu_allocator(), DType::I8, {1, K}), out = r.f32({1, N});
  std::fill_n(xq.tensor.data<int8_t>(), K, int8_t(-128));
  ops->gemm_w8a8(xq.tensor, Tensor{}, ql.lw, out.tensor);
  for (int n = 0; n < N; ++n)
    EXPECT_EQ(out.tensor.data<float>()[n], static_cast<float>(double(K * 16256) * ql.deq.tensor.data<float>()[n]));
}

TEST_F(CpuW8A8, GemmRejectsWrongKinds) {
  QuantLinear ql(r, QuantKind::W8A8Dynamic, 4, 8);
  OwnedTensor x = r.f32({2, 8}), out = r.f32({2, 4}), xq = r.i8({2, 8});
  EXPECT_THROW(ops->gemm(x.tensor, ql.lw, out.tensor), Error);
  EXPECT_THROW(ops->gemm_w8a8(xq.tensor, Tensor{}, ql.lw, out.tensor), Error);  // dynamic needs token scales
  EXPECT_THROW(ops->gemm_w8a8(xq.tensor, Tensor{}, LinearWeight::dense(x.tensor), out.tensor), Error);
}

TEST_F(CpuW8A8, RmsNormQuantIsNormThenQuant) {
  const int T = 7, H = 96;
  OwnedTensor x = r.f32({T, H}), res = r.f32({T, H}), w = r.f32({H}), b = r.f32({H}, 0.1f);
  OwnedTensor res2(cpu_allocator(), DType::F32, {T, H}), y = r.f32({T, H});
  std::memcpy(res2.tensor.data(), res.tensor.data(), res.tensor.nbytes());
  OwnedTensor q1(cpu_allocator(), DType::I8, {T, H}), q2(cpu_allocator(), DType::I8, {T, H});
  ops->rms_norm_quant(x.tensor, w.tensor, b.tensor, 1e-6f, 0.03f, 5.0f, q1.tensor, res.tensor);
  ops->rms_norm(x.tensor, w.tensor, b.tensor, 1e-6f, y.tensor, res2.tensor);
  ops->quant_static(y.tensor, 0.03f, 5.0f, q2.tensor);
  EXPECT_EQ(std::memcmp(q1.tensor.data(), q2.tensor.data(), T * H), 0);
  EXPECT_EQ(std::memcmp(res.tensor.data(), res2.tensor.data(), res.tensor.nbytes()), 0);
}

TEST_F(CpuW8A8, MoeExpertsW8A8DynamicMatchesDefinition) {
  const int T = 11, H = 48, I = 40, E = 5, K = 2;
  OwnedTensor logits = r.f32({T, E}, 2.0f), x = r.f32({T, H});
  OwnedTensor tw(cpu_allocator(), DType::F32, {T, K}), ti(cpu_allocator(), DType::I32, {T, K});
  ops->moe_route(logits.tensor, K, true, tw.tensor, ti.tensor);
  ExpertWeights ex;
  ex.num_experts = E;
  ex.hidden = H;
  ex.inter = I;
  std::vector<std::unique_ptr<QuantLinear>> store;
  for (int e = 0; e < E; ++e) {
    for (auto* list : {&ex.gate, &ex.up}) {
      store.push_back(std::make_unique<QuantLinear>(r, QuantKind::W8A8Dynamic, I, H));
      list->push_back(store.back()->lw);
    }
    store.push_back(std::make_unique<QuantLinear>(r, QuantKind::W8A8Dynamic, H, I));
    ex.down.push_back(store.back()->lw);
  }
  OwnedTensor out = r.f32({T, H});
  ops->moe_experts(x.tensor, tw.tensor, ti.tensor, ex, out.tensor);

  // Per token: quantise x per token, gate/up, silu * up, requantise, down, weighted sum.
  auto quant = [](const std::vector<float>& v, std::vector<int8_t>& q) {
    double amax = 0;
    for (float f : v) amax = std::max(amax, std::fabs(double(f)));
    const float s = static_cast<float>(std::max(amax / 127.0, 1e-12));
    q.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) q[i] = static_cast<int8_t>(rint_d(double(v[i]) / s));
    return s;
  };
  double num = 0, den = 0;
  for (int t = 0; t < T; ++t) {
    std::vector<float> xr(x.tensor.data<float>() + t * H, x.tensor.data<float>() + (t + 1) * H);
    std::vector<int8_t> xq, hq;
    const float xs = quant(xr, xq);
    std::vector<double> acc(H, 0.0);
    for (int j = 0; j < K; ++j) {
      const int e = ti.tensor.data<int32_t>()[t * K + j];
      std::vector<float> h(I);
      for (int i = 0; i < I; ++i) {
        const float g = ref_gemm(xq.data(), xs, ex.gate[e], i), u = ref_gemm(xq.data(), xs, ex.up[e], i);
        h[i] = g / (1.0f + std::exp(-g)) * u;
      }
      const float hs = quant(h, hq);
      for (int k = 0; k < H; ++k) acc[k] += tw.tensor.data<float>()[t * K + j] * ref_gemm(hq.data(), hs, ex.down[e], k);
    }
    for (int k = 0; k < H; ++k) {
      num += (acc[k] - out.tensor.data<float>()[t * H + k]) * (acc[k] - out.tensor.data<float>()[t * H + k]);
      den += acc[k] * acc[k];
    }
  }
  EXPECT_LT(std::sqrt(num / den), 1e-6);
}

}  // namespace
}  // namespace rotor
