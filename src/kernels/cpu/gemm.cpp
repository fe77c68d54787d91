// kernels/cpu/gemm.cpp — y = x W^T (+ bias) with f32 accumulation, weights [N, K] read in
// tiles of rows converted to f32 once and used for every row of x. The sum for one (m, n)
// is computed the same way whatever M is, so results do not depend on the batch.
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {
namespace {

constexpr int64_t kTileN = 8;

float dot(const float* a, const float* b, int64_t k) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < k; ++i) acc += a[i] * b[i];
  return acc;
}

// Rows [n0, n1) of W against all M rows of x; results to out (row stride ldo) via store.
template <typename Store>
void gemm_tile(const float* x, int64_t M, int64_t K, const LinearWeight& w, int64_t n0, int64_t n1,
               std::vector<float>& wf, const std::vector<float>& bias, Store&& store) {
  wf.resize((n1 - n0) * K);
  for (int64_t n = n0; n < n1; ++n) row_to_f32(w.weight.row_ptr(n), w.weight.dtype(), K, &wf[(n - n0) * K]);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      float y = dot(x + m * K, &wf[(n - n0) * K], K);
      if (!bias.empty()) y += bias[n];
      store(m, n, y);
    }
}

std::vector<float> bias_f32(const LinearWeight& w) {
  std::vector<float> b;
  if (w.bias.defined()) {
    b.resize(w.out_features());
    row_to_f32(w.bias.data(), w.bias.dtype(), b.size(), b.data());
  }
  return b;
}

}  // namespace

void gemm_serial(const float* x, int64_t m, const LinearWeight& w, float* out) {
  const int64_t N = w.out_features(), K = w.in_features();
  std::vector<float> wf;
  const std::vector<float> bias = bias_f32(w);
  for (int64_t n0 = 0; n0 < N; n0 += kTileN)
    gemm_tile(x, m, K, w, n0, std::min(N, n0 + kTileN), wf, bias,
              [&](int64_t i, int64_t n, float y) { out[i * N + n] = y; });
}

void gemm(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  const int64_t M = x.size(0), K = x.size(1), N = w.out_features();
  // x as contiguous f32 rows.
  std::vector<float> xs;
  const float* xf = x.data<float>();
  if (x.dtype() != DType::F32 || !x.is_contiguous()) {
    xs.resize(M * K);
    for (int64_t m = 0; m < M; ++m) row_to_f32(x.row_ptr(m), x.dtype(), K, &xs[m * K]);
    xf = xs.data();
  }
  const std::vector<float> bias = bias_f32(w);
  const int64_t tiles = (N + kTileN - 1) / kTileN;
#pragma omp parallel
  {
    std::vector<float> wf;
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile)
      gemm_tile(xf, M, K, w, tile * kTileN, std::min(N, (tile + 1) * kTileN), wf, bias,
                [&](int64_t m, int64_t n, float y) { store_f32(out.row_ptr(m), out.dtype(), n, y); });
  }
}

}  // namespace rotor::cpu
