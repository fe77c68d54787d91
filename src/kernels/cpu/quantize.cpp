// kernels/cpu/quantize.cpp — W8A8 activation quantisation: static per-tensor asymmetric and
// dynamic per-token symmetric, rounding half to even with the quotient taken in double
// (exactly what ../shared/reference/w8a8_ref.py computes).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void quant_row_static(const float* x, int64_t n, float scale, float offset, int8_t* out) {
  const double s = scale, o = offset;
  for (int64_t i = 0; i < n; ++i) {
    const double q = std::nearbyint(static_cast<double>(x[i]) / s + o);
    out[i] = static_cast<int8_t>(std::clamp(q, -128.0, 127.0));
  }
}

float quant_row_per_token(const float* x, int64_t n, int8_t* out) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = static_cast<float>(std::max(static_cast<double>(amax) / 127.0, 1e-12));
  const double s = scale;
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<int8_t>(std::clamp(std::nearbyint(static_cast<double>(x[i]) / s), -127.0, 127.0));
  return scale;
}

void quant_static(const Tensor& x, float scale, float offset, const Tensor& out) {
  const int64_t T = x.size(0), K = x.size(1);
#pragma omp parallel
  {
    std::vector<float> v(K);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      row_to_f32(x.row_ptr(t), x.dtype(), K, v.data());
      quant_row_static(v.data(), K, scale, offset, static_cast<int8_t*>(out.row_ptr(t)));
    }
  }
}

void quant_per_token(const Tensor& x, const Tensor& out, const Tensor& scales) {
  const int64_t T = x.size(0), K = x.size(1);
#pragma omp parallel
  {
    std::vector<float> v(K);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      row_to_f32(x.row_ptr(t), x.dtype(), K, v.data());
      scales.data<float>()[t] = quant_row_per_token(v.data(), K, static_cast<int8_t*>(out.row_ptr(t)));
    }
  }
}

}  // namespace rotor::cpu
