// tests/kernels/test_cpu_fp8_kv.cpp — the CPU ops with an FP8 (e4m3) KV cache: qk_norm_rope
// writes every k and v element as the e4m3 code nearest to value / scale (the conversion of
// tests/support/e4m3_reference.h, exact bits; values from the same op on an f32 cache), leaves
// other slots alone and gives the same q; with calculate_scales it first sets the scales to
// max|k| / 200 and max|v| / 100 over the rows it writes (1 for a zero maximum); paged attention
// over an FP8 cache of random codes matches a double-precision dense reference of the
// dequantized values (code value * scale).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "kernels/ops.h"
#include "tests/support/attention_reference.h"
#include "tests/support/e4m3_reference.h"
#include "tests/support/random_tensors.h"

namespace rotor {
namespace {

using test::e4m3_code_value;
using test::e4m3_nearest_code;

struct Fp8KvCpu : ::testing::Test {
  std::unique_ptr<Ops> ops = make_cpu_ops();
  test::Rand r{99};
  OwnedTensor i32(const std::vector<int32_t>& v) {
    OwnedTensor t(cpu_allocator(), DType::I32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.tensor.data<int32_t>());
    return t;
  }
  OwnedTensor scales(float k, float v) {
    OwnedTensor t(cpu_allocator(), DType::F32, {2});
    t.tensor.data<float>()[0] = k;
    t.tensor.data<float>()[1] = v;
    return t;
  }
};

// One qk_norm_rope step: qkv rows, a rope table, positions and slots (some -1).
struct RopeStep {
  int Hq = 4, Hkv = 2, hd = 32, bs = 8, nb = 6, T = 9, P = 128;
  OwnedTensor qkv, qn, kn, rope, pos, slots;
  AttentionBatch b;
  RopeStep(Fp8KvCpu& f, float v_std) {
    const int W = (Hq + 2 * Hkv) * hd;
    qkv = f.r.f32({T, W});
    for (int t = 0; t < T; ++t)  // v heads at their own magnitude
      for (int i = (Hq + Hkv) * hd; i < W; ++i) qkv.tensor.data<float>()[t * W + i] *= v_std;
    qn = f.r.f32({hd}, 0.2f);
    kn = f.r.f32({hd}, 0.2f);
    for (int i = 0; i < hd; ++i) {
      qn.tensor.data<float>()[i] += 1.0f;
      kn.tensor.data<float>()[i] += 3.0f;  // k reaches past ±448 * scale for the scales below
    }
    rope = OwnedTensor(cpu_allocator(), DType::F32, {P, hd});
    for (int p = 0; p < P; ++p)
      for (int i = 0; i < hd / 2; ++i) {
        const double a = p / std::pow(10000.0, 2.0 * i / hd);
        rope.tensor.data<float>()[p * hd + i] = static_cast<float>(std::cos(a));
        rope.tensor.data<float>()[p * hd + hd / 2 + i] = static_cast<float>(std::sin(a));
      }
    std::vector<int32_t> p(T), s(nb * bs);
    std::iota(s.begin(), s.end(), 0);
    std::shuffle(s.begin(), s.end(), f.r.g);
    s.resize(T);
    for (int t = 0; t < T; ++t) p[t] = std::uniform_int_distribution<int>(0, P - 1)(f.r.g);
    s[2] = s[7] = -1;
    pos = f.i32(p);
    slots = f.i32(s);
    b.num_tokens = T;
    b.positions = pos.tensor;
    b.slot_mapping = slots.tensor;
  }
  Shape cache_shape() const { return {nb, Hkv, bs, hd}; }
  // The f32 cache and q of the same step (the values the FP8 cache rounds).
  void run_f32(Ops& ops, OwnedTensor& kc, OwnedTensor& vc, OwnedTensor& q) {
    kc = OwnedTensor(cpu_allocator(), DType::F32, cache_shape());
    vc = OwnedTensor(cpu_allocator(), DType::F32, cache_shape());
    q = OwnedTensor(cpu_allocator(), DType::F32, {T, Hq, hd});
    std::fill_n(kc.tensor.data<float>(), kc.tensor.numel(), 0.0f);
    std::fill_n(vc.tensor.data<float>(), vc.tensor.numel(), 0.0f);
    ops.qk_norm_rope(qkv.tensor, qn.tensor, kn.tensor, 1e-6f, rope.tensor, b, {kc.tensor, vc.tensor}, q.tensor);
  }
  OwnedTensor fp8_cache(uint8_t fill) const {
    OwnedTensor c(cpu_allocator(), DType::F8E4M3, cache_shape());
    std::memset(c.tensor.data(), fill, c.tensor.nbytes());
    return c;
  }
  // Checks every written element of an FP8 cache against the f32 cache / scale; other slots
  // keep `fill`. Returns the number of saturated elements.
  int check(const Tensor& f32c, const Tensor& fp8c, float scale, uint8_t fill) const {
    std::vector<bool> written(nb * bs, false);
    for (int t = 0; t < T; ++t)
      if (slots.tensor.data<int32_t>()[t] >= 0) written[slots.tensor.data<int32_t>()[t]] = true;
    int saturated = 0;
    for (int blk = 0; blk < nb; ++blk)
      for (int h = 0; h < Hkv; ++h)
        for (int o = 0; o < bs; ++o)
          for (int i = 0; i < hd; ++i) {
            const int64_t e = ((int64_t{blk} * Hkv + h) * bs + o) * hd + i;
            const uint8_t got = fp8c.data<uint8_t>()[e];
            if (!written[blk * bs + o]) {
              EXPECT_EQ(got, fill) << "slot " << blk * bs + o << " was not written";
              continue;
            }
            const float x = f32c.data<float>()[e] / scale;
            saturated += std::fabs(x) > 448.0f;
            EXPECT_EQ(got, e4m3_nearest_code(x)) << "element " << e << " value " << x;
          }
    return saturated;
  }
};

TEST_F(Fp8KvCpu, QkNormRopeWritesNearestE4m3) {
  RopeStep st(*this, 0.5f);
  OwnedTensor kf, vf, qf;
  st.run_f32(*ops, kf, vf, qf);
  const uint8_t fill = 0x5a;
  OwnedTensor k8 = st.fp8_cache(fill), v8 = st.fp8_cache(fill), q(cpu_allocator(), DType::F32, {st.T, st.Hq, st.hd});
  OwnedTensor sc = scales(0.011f, 0.0037f);
  LayerKVCache cache{k8.tensor, v8.tensor, sc.tensor};
  ops->qk_norm_rope(st.qkv.tensor, st.qn.tensor, st.kn.tensor, 1e-6f, st.rope.tensor, st.b, cache, q.tensor);
  EXPECT_EQ(std::memcmp(q.tensor.data(), qf.tensor.data(), q.tensor.nbytes()), 0);
  EXPECT_GT(st.check(kf.tensor, k8.tensor, 0.011f, fill), 0) << "no k element reached the saturation";
  st.check(vf.tensor, v8.tensor, 0.0037f, fill);
  EXPECT_EQ(sc.tensor.data<float>()[0], 0.011f);  // scales are read, not written
}

TEST_F(Fp8KvCpu, QkNormRopeCalculatesScalesFromTheWrittenRows) {
  RopeStep st(*this, 3.0f);
  OwnedTensor kf, vf, qf;
  st.run_f32(*ops, kf, vf, qf);
  float kmax = 0, vmax = 0;
  for (int64_t i = 0; i < kf.tensor.numel(); ++i) {  // unwritten slots of the f32 cache are zero
    kmax = std::max(kmax, std::fabs(kf.tensor.data<float>()[i]));
    vmax = std::max(vmax, std::fabs(vf.tensor.data<float>()[i]));
  }
  OwnedTensor k8 = st.fp8_cache(0), v8 = st.fp8_cache(0), q(cpu_allocator(), DType::F32, {st.T, st.Hq, st.hd});
  OwnedTensor sc = scales(1.0f, 1.0f);
  LayerKVCache cache{k8.tensor, v8.tensor, sc.tensor, true};
  ops->qk_norm_rope(st.qkv.tensor, st.qn.tensor, st.kn.tensor, 1e-6f, st.rope.tensor, st.b, cache, q.tensor);
  EXPECT_EQ(sc.tensor.data<float>()[0], kmax / 200.0f);
  EXPECT_EQ(sc.tensor.data<float>()[1], vmax / 100.0f);
  EXPECT_EQ(st.check(kf.tensor, k8.tensor, kmax / 200.0f, 0), 0);  // max / 200 never saturates
  st.check(vf.tensor, v8.tensor, vmax / 100.0f, 0);

  // V all zero: its scale becomes 1, and every written v is +0.
  const int W = (st.Hq + 2 * st.Hkv) * st.hd;
  for (int t = 0; t < st.T; ++t)
    for (int i = (st.Hq + st.Hkv) * st.hd; i < W; ++i) st.qkv.tensor.data<float>()[t * W + i] = 0.0f;
  sc.tensor.data<float>()[1] = 5.0f;
  ops->qk_norm_rope(st.qkv.tensor, st.qn.tensor, st.kn.tensor, 1e-6f, st.rope.tensor, st.b, cache, q.tensor);
  EXPECT_EQ(sc.tensor.data<float>()[1], 1.0f);
}

TEST_F(Fp8KvCpu, PagedAttentionReadsCodeTimesScale) {
  const int Hq = 8, Hkv = 2, hd = 32, bs = 4, num_blocks = 40, maxb = 6;
  const float k_scale = 0.004f, v_scale = 0.02f;
  OwnedTensor kc(cpu_allocator(), DType::F8E4M3, {num_blocks, Hkv, bs, hd});
  OwnedTensor vc(cpu_allocator(), DType::F8E4M3, {num_blocks, Hkv, bs, hd});
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t i = 0; i < kc.tensor.numel(); ++i) {
    int a = byte(r.g), c = byte(r.g);
    if ((a & 0x7f) == 0x7f) a = 0x7e;  // no NaN codes
    if ((c & 0x7f) == 0x7f) c = 0x01;
    kc.tensor.data<uint8_t>()[i] = static_cast<uint8_t>(a);
    vc.tensor.data<uint8_t>()[i] = static_cast<uint8_t>(c);
  }
  // A decode (context 21), a chunk of 6 after 10 cached, a fresh prefill of 5.
  const std::vector<int> ctx{21, 16, 5}, qlen{1, 6, 5};
  std::vector<int32_t> blocks(num_blocks), tables(3 * maxb, 0), qstart{0}, lens;
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), r.g);
  for (int s = 0, f = 0; s < 3; ++s) {
    for (int b = 0; b < (ctx[s] + bs - 1) / bs; ++b) tables[s * maxb + b] = blocks[f++];
    qstart.push_back(qstart.back() + qlen[s]);
    lens.push_back(ctx[s]);
  }
  const int T = qstart.back();
  OwnedTensor q = r.f32({T, Hq, hd}), out = r.f32({T, Hq * hd}), qs = i32(qstart), ls = i32(lens), bt = i32(tables);
  AttentionBatch b;
  b.num_tokens = T;
  b.num_seqs = 3;
  b.num_decode_seqs = 1;
  b.block_size = bs;
  b.query_start = qs.tensor;
  b.seq_lens = ls.tensor;
  b.block_tables = bt.tensor.view({3, maxb});
  OwnedTensor sc = scales(k_scale, v_scale);
  const LayerKVCache cache{kc.tensor, vc.tensor, sc.tensor};
  const float scale = 1.0f / std::sqrt(float(hd));
  ops->attention_decode(q.tensor.rows(0, 1), cache, b, scale, out.tensor.rows(0, 1));
  ops->attention_prefill(q.tensor.rows(1, T), cache, b, scale, out.tensor.rows(1, T));
  for (int s = 0; s < 3; ++s) {
    std::vector<double> k(ctx[s] * Hkv * hd), v(ctx[s] * Hkv * hd);
    for (int p = 0; p < ctx[s]; ++p)
      for (int h = 0; h < Hkv; ++h)
        for (int j = 0; j < hd; ++j) {
          const int64_t e = ((int64_t{tables[s * maxb + p / bs]} * Hkv + h) * bs + p % bs) * hd + j;
          k[(p * Hkv + h) * hd + j] = e4m3_code_value(kc.tensor.data<uint8_t>()[e]) * k_scale;
          v[(p * Hkv + h) * hd + j] = e4m3_code_value(vc.tensor.data<uint8_t>()[e]) * v_scale;
        }
    const auto ref =
        test::dense_causal_attention(q.tensor.data<float>() + qstart[s] * Hq * hd, k.data(), v.data(), ctx[s], qlen[s],
                                     Hq, Hkv, hd, scale);
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double d = ref[i] - out.tensor.data<float>()[qstart[s] * Hq * hd + i];
      num += d * d;
      den += ref[i] * ref[i];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-5) << "sequence " << s;
  }
}

}  // namespace
}  // namespace rotor
