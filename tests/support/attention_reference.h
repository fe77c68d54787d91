// tests/support/attention_reference.h — dense causal attention of one sequence in double, the
// reference the paged attention ops are checked against (bf16/f32 caches and e4m3 ones read
// back as code value x scale).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace rotor::test {

// q [n, Hq, hd] (the last n of L positions), k and v [L, Hkv, hd]; query head h reads KV head
// h / (Hq / Hkv); scores times `scale`. Returns [n, Hq, hd].
template <class Q, class KV>
std::vector<double> dense_causal_attention(const Q* q, const KV* k, const KV* v, int L, int n, int Hq, int Hkv, int hd,
                                           double scale) {
  std::vector<double> out(static_cast<size_t>(n) * Hq * hd);
  for (int i = 0; i < n; ++i)
    for (int h = 0; h < Hq; ++h) {
      const int kvh = h / (Hq / Hkv), pos = L - n + i;
      std::vector<double> s(pos + 1);
      double mx = -1e300, sum = 0;
      for (int p = 0; p <= pos; ++p) {
        double d = 0;
        for (int j = 0; j < hd; ++j) d += double(q[(i * Hq + h) * hd + j]) * double(k[(p * Hkv + kvh) * hd + j]);
        mx = std::max(mx, s[p] = d * scale);
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (int j = 0; j < hd; ++j) {
        double a = 0;
        for (int p = 0; p <= pos; ++p) a += s[p] * double(v[(p * Hkv + kvh) * hd + j]);
        out[(i * Hq + h) * hd + j] = a / sum;
      }
    }
  return out;
}

}  // namespace rotor::test
