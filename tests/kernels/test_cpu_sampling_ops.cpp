// tests/kernels/test_cpu_sampling_ops.cpp — the logits ops around sampling (apply_penalties,
// mask_tokens, apply_token_bitmask, logprobs) against plain references written from their definitions, on random
// shapes, random logits and random token lists (with repeats and shared ids); copy_tokens
// (async scheduling's placeholder fill).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "kernels/ops.h"

namespace rotor {
namespace {

struct Rng {
  std::mt19937_64 g{4321};
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
  float normal(float scale) { return scale * std::normal_distribution<float>(0.0f, 1.0f)(g); }
};

template <typename T>
OwnedTensor tensor(DType dt, const std::vector<T>& v, Shape s) {
  OwnedTensor t(cpu_allocator(), dt, s);
  std::copy(v.begin(), v.end(), static_cast<T*>(t.tensor.data()));
  return t;
}
OwnedTensor i32(const std::vector<int32_t>& v) { return tensor(DType::I32, v, {static_cast<int64_t>(v.size())}); }
OwnedTensor f32(const std::vector<float>& v) { return tensor(DType::F32, v, {static_cast<int64_t>(v.size())}); }

class SamplingOps : public ::testing::Test {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
  Rng r;
  // Random ragged token lists, ids in [0, V) drawn from a small pool so repeats happen.
  std::vector<std::vector<int32_t>> lists(int S, int V, int max_len) {
    std::vector<std::vector<int32_t>> out(S);
    for (auto& l : out) {
      const int pool = r.uniform(1, std::min(V, 12));
      l.resize(r.uniform(0, max_len));
      for (auto& t : l) t = r.uniform(0, pool - 1) * (V / pool);
    }
    return out;
  }
  static std::pair<OwnedTensor, OwnedTensor> flatten(const std::vector<std::vector<int32_t>>& l) {
    std::vector<int32_t> flat, start{0};
    for (const auto& x : l) {
      flat.insert(flat.end(), x.begin(), x.end());
      start.push_back(static_cast<int32_t>(flat.size()));
    }
    return {i32(flat), i32(start)};
  }
};

TEST_F(SamplingOps, PenaltiesMatchReference) {
  for (int trial = 0; trial < 30; ++trial) {
    const int S = r.uniform(1, 6), V = r.uniform(1, 3) == 1 ? 7 : 1000;
    std::vector<float> logits(static_cast<size_t>(S) * V);
    for (auto& x : logits) x = r.normal(3.0f);
    std::vector<float> rep(S), pres(S), freq(S);
    for (int s = 0; s < S; ++s) {
      rep[s] = r.uniform(0, 2) == 0 ? 1.0f : 0.5f + r.uniform(0, 20) * 0.1f;
      pres[s] = r.uniform(0, 2) == 0 ? 0.0f : r.normal(1.0f);
      freq[s] = r.uniform(0, 2) == 0 ? 0.0f : r.normal(1.0f);
    }
    const auto prompt = lists(S, V, 20), output = lists(S, V, 30);
    // Reference: from the definition, in double.
    std::vector<double> want(logits.begin(), logits.end());
    for (int s = 0; s < S; ++s) {
      std::set<int32_t> seen(prompt[s].begin(), prompt[s].end());
      seen.insert(output[s].begin(), output[s].end());
      std::map<int32_t, int> count;
      for (int32_t t : output[s]) ++count[t];
      for (int32_t t : seen) {
        double& l = want[static_cast<size_t>(s) * V + t];
        l = l > 0 ? l / rep[s] : l * rep[s];
      }
      for (auto [t, c] : count) want[static_cast<size_t>(s) * V + t] -= double(freq[s]) * c + pres[s];
    }
    OwnedTensor l = tensor(DType::F32, logits, {S, V});
    auto [pt, ps] = flatten(prompt);
    auto [ot, os] = flatten(output);
    OwnedTensor rt = f32(rep), prt = f32(pres), ft = f32(freq);
    ops->apply_penalties(l.tensor, {rt.tensor, prt.tensor, ft.tensor, pt.tensor, ps.tensor, ot.tensor, os.tensor});
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(l.tensor.data<float>()[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << "trial " << trial << " i " << i;
  }
}

TEST_F(SamplingOps, PenaltiesRejectTokensOutsideTheVocabulary) {
  OwnedTensor l = tensor(DType::F32, std::vector<float>(10, 0.0f), {1, 10});
  OwnedTensor one = f32({1.5f}), zero = f32({0.0f}), bad = i32({10}), none = i32({}), st = i32({0, 1}),
              st0 = i32({0, 0});
  EXPECT_THROW(ops->apply_penalties(l.tensor, {one.tensor, zero.tensor, zero.tensor, bad.tensor, st.tensor,
                                               none.tensor, st0.tensor}),
               Error);
}

TEST_F(SamplingOps, MaskTokens) {
  const int S = 3, V = 50;
  std::vector<float> logits(S * V);
  for (auto& x : logits) x = r.normal(1.0f);
  const std::vector<std::vector<int32_t>> ids{{3, 49, 3}, {}, {0}};
  OwnedTensor l = tensor(DType::F32, logits, {S, V});
  auto [it, st] = flatten(ids);
  ops->mask_tokens(l.tensor, it.tensor, st.tensor);
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < V; ++v) {
      const bool masked = std::count(ids[s].begin(), ids[s].end(), v) > 0;
      const float got = l.tensor.data<float>()[s * V + v];
      if (masked) {
        EXPECT_EQ(got, -std::numeric_limits<float>::infinity());
      } else {
        EXPECT_EQ(got, logits[s * V + v]);
      }
    }
}

TEST_F(SamplingOps, TokenBitmask) {
  for (int trial = 0; trial < 10; ++trial) {
    const int S = r.uniform(1, 6), V = r.uniform(1, 200), W = (V + 31) / 32 + r.uniform(0, 2);
    std::vector<float> logits(static_cast<size_t>(S) * V);
    for (auto& x : logits) x = r.normal(1.0f);
    // Some rows masked (in a shuffled order), with random bits.
    std::vector<int32_t> rows;
    for (int s = 0; s < S; ++s)
      if (r.uniform(0, 2)) rows.push_back(s);
    std::shuffle(rows.begin(), rows.end(), r.g);
    const int N = static_cast<int>(rows.size());
    std::vector<int32_t> bits(static_cast<size_t>(N) * W);
    for (auto& b : bits) b = static_cast<int32_t>(r.g());
    OwnedTensor l = tensor(DType::F32, logits, {S, V}), bm = tensor(DType::I32, bits, {N, W}), rw = i32(rows);
    ops->apply_token_bitmask(l.tensor, bm.tensor, rw.tensor);
    for (int s = 0; s < S; ++s)
      for (int v = 0; v < V; ++v) {
        const auto it = std::find(rows.begin(), rows.end(), s);
        const bool masked = it != rows.end() &&
                            !((static_cast<uint32_t>(bits[static_cast<size_t>(it - rows.begin()) * W + v / 32]) >> (v % 32)) & 1u);
        const float got = l.tensor.data<float>()[s * V + v];
        if (masked) {
          EXPECT_EQ(got, -std::numeric_limits<float>::infinity());
        } else {
          EXPECT_EQ(got, logits[static_cast<size_t>(s) * V + v]);
        }
      }
  }
}

TEST_F(SamplingOps, LogprobsMatchReference) {
  for (int trial = 0; trial < 20; ++trial) {
    const int S = r.uniform(1, 5), V = r.uniform(0, 1) ? 20 : 3000, K = r.uniform(0, std::min(V, 20));
    std::vector<float> logits(static_cast<size_t>(S) * V);
    for (auto& x : logits) x = static_cast<float>(r.uniform(-8, 8)) * 0.5f;  // many exact ties
    std::vector<int32_t> tok(S);
    for (auto& t : tok) t = r.uniform(0, V - 1);
    OwnedTensor l = tensor(DType::F32, logits, {S, V}), t = i32(tok);
    OwnedTensor lp(cpu_allocator(), DType::F32, {S}), rank(cpu_allocator(), DType::I32, {S});
    OwnedTensor ti, tl;
    if (K > 0) {
      ti = OwnedTensor(cpu_allocator(), DType::I32, {S, K});
      tl = OwnedTensor(cpu_allocator(), DType::F32, {S, K});
    }
    ops->logprobs(l.tensor, t.tensor, lp.tensor, rank.tensor, ti.tensor, tl.tensor);
    for (int s = 0; s < S; ++s) {
      const float* row = &logits[static_cast<size_t>(s) * V];
      long double sum = 0;
      for (int v = 0; v < V; ++v) sum += std::exp(static_cast<long double>(row[v]));
      const double lse = static_cast<double>(std::log(sum));
      EXPECT_NEAR(lp.tensor.data<float>()[s], row[tok[s]] - lse, 1e-5);
      int want_rank = 1;
      for (int v = 0; v < V; ++v) want_rank += row[v] > row[tok[s]];
      EXPECT_EQ(rank.tensor.data<int32_t>()[s], want_rank);
      std::vector<int> order(V);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
      for (int k = 0; k < K; ++k) {
        EXPECT_EQ(ti.tensor.data<int32_t>()[s * K + k], order[k]) << "row " << s << " k " << k;
        EXPECT_NEAR(tl.tensor.data<float>()[s * K + k], row[order[k]] - lse, 1e-5);
      }
    }
  }
}

TEST_F(SamplingOps, CopyTokensCopiesIndexedIds) {
  const std::vector<int32_t> src{7, 8, 9};
  OwnedTensor dst = i32({-1, -1, -1, -1, -1});
  ops->copy_tokens(i32(src).tensor, i32({2, 0, 2}).tensor, dst.tensor, i32({4, 1, 0}).tensor);
  const int32_t* d = dst.tensor.data<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(d, d + 5), (std::vector<int32_t>{9, 7, -1, -1, 9}));
  EXPECT_THROW(ops->copy_tokens(i32(src).tensor, i32({3}).tensor, dst.tensor, i32({0}).tensor), Error);
}

}  // namespace
}  // namespace rotor
