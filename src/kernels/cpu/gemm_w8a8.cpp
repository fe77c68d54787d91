// kernels/cpu/gemm_w8a8.cpp — int8 x int8 -> i32 GEMM with the W8A8 dequantisation epilogues
// (static: (acc + quant_bias) * deq_scale; dynamic: acc * weight_scale * token scale), the
// epilogue in double as in the reference. Integer sums are exact.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {
namespace {

constexpr int64_t kTileN = 16;

int32_t dot_i8(const int8_t* a, const int8_t* b, int64_t k) {
  int32_t acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < k; ++i) acc += static_cast<int16_t>(a[i]) * static_cast<int16_t>(b[i]);
  return acc;
}

// The epilogue of one weight: out value of (m, n) from the exact sum.
struct Epilogue {
  QuantKind kind;
  const float* deq_scale = nullptr;    // [N] static
  const int32_t* quant_bias = nullptr; // [N] static, optional
  const float* weight_scale = nullptr; // [N] dynamic
  const float* x_scales = nullptr;     // [M] dynamic

  float operator()(int64_t m, int64_t n, int32_t acc) const {
    if (kind == QuantKind::W8A8Static) {
      const int64_t s = static_cast<int64_t>(acc) + (quant_bias ? quant_bias[n] : 0);
      return static_cast<float>(static_cast<double>(s) * deq_scale[n]);
    }
    return static_cast<float>(static_cast<double>(acc) * weight_scale[n] * x_scales[m]);
  }
};

Epilogue epilogue(const LinearWeight& w, const float* x_scales) {
  Epilogue e{w.kind};
  if (w.kind == QuantKind::W8A8Static) {
    e.deq_scale = w.deq_scale.data<float>();
    e.quant_bias = w.quant_bias.defined() ? w.quant_bias.data<int32_t>() : nullptr;
  } else {
    e.weight_scale = w.weight_scale.data<float>();
    e.x_scales = x_scales;
  }
  return e;
}

// Rows [n0, n1) of W against all M rows of x_q, stored through store(m, n, value).
template <typename Store>
void tile(const int8_t* xq, int64_t M, int64_t K, const int8_t* w, int64_t n0, int64_t n1, const Epilogue& e,
          Store&& store) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = n0; n < n1; ++n) store(m, n, e(m, n, dot_i8(xq + m * K, w + n * K, K)));
}

}  // namespace

void gemm_w8a8_serial(const int8_t* xq, const float* x_scales, int64_t m, const LinearWeight& w, float* out) {
  const int64_t N = w.out_features(), K = w.in_features();
  const Epilogue e = epilogue(w, x_scales);
  tile(xq, m, K, w.weight.data<int8_t>(), 0, N, e, [&](int64_t i, int64_t n, float y) { out[i * N + n] = y; });
}

void gemm_w8a8(const Tensor& x_q, const Tensor& x_scales, const LinearWeight& w, const Tensor& out) {
  const int64_t M = x_q.size(0), K = x_q.size(1), N = w.out_features();
  const Epilogue e = epilogue(w, x_scales.defined() ? x_scales.data<float>() : nullptr);
  const int8_t* xq = x_q.data<int8_t>();
  const int8_t* wq = w.weight.data<int8_t>();
  const int64_t tiles = (N + kTileN - 1) / kTileN;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tiles; ++t)
    tile(xq, M, K, wq, t * kTileN, std::min(N, (t + 1) * kTileN), e,
         [&](int64_t m, int64_t n, float y) { store_f32(out.row_ptr(m), out.dtype(), n, y); });
}

}  // namespace rotor::cpu
