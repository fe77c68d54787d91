// kernels/cpu/rms_norm.cpp — RMSNorm (statistics in f32), optionally fused with the residual
// add, writing floats (rms_norm) or the W8A8 static quantisation of the result (rms_norm_quant).
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {
namespace {

// Normalises each row of x (after residual += x when residual is given) into a f32 row and
// hands it to emit(t, row).
template <typename Emit>
void rms_norm_rows(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& residual,
                   Emit&& emit) {
  const int64_t T = x.size(0), H = x.size(1);
  std::vector<float> wf(H), bf(bias.defined() ? H : 0);
  row_to_f32(w.data(), w.dtype(), H, wf.data());
  if (bias.defined()) row_to_f32(bias.data(), bias.dtype(), H, bf.data());
#pragma omp parallel
  {
    std::vector<float> v(H);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      row_to_f32(x.row_ptr(t), x.dtype(), H, v.data());
      if (residual.defined()) {
        void* r = residual.row_ptr(t);
        for (int64_t h = 0; h < H; ++h) {
          v[h] += load_f32(r, residual.dtype(), h);
          store_f32(r, residual.dtype(), h, v[h]);
          v[h] = load_f32(r, residual.dtype(), h);  // the stored (possibly rounded) sum is what later layers see
        }
      }
      double ss = 0;
      for (int64_t h = 0; h < H; ++h) ss += static_cast<double>(v[h]) * v[h];
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / H) + eps);
      for (int64_t h = 0; h < H; ++h) {
        v[h] = v[h] * inv * wf[h];
        if (!bf.empty()) v[h] += bf[h];
      }
      emit(t, v.data());
    }
  }
}

}  // namespace

void rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
              const Tensor& residual) {
  const int64_t H = x.size(1);
  rms_norm_rows(x, w, bias, eps, residual, [&](int64_t t, const float* y) {
    void* o = out.row_ptr(t);
    for (int64_t h = 0; h < H; ++h) store_f32(o, out.dtype(), h, y[h]);
  });
}

void rms_norm_quant(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, float scale, float offset,
                    const Tensor& out, const Tensor& residual) {
  const int64_t H = x.size(1);
  rms_norm_rows(x, w, bias, eps, residual, [&](int64_t t, const float* y) {
    quant_row_static(y, H, scale, offset, static_cast<int8_t*>(out.row_ptr(t)));
  });
}

}  // namespace rotor::cpu
