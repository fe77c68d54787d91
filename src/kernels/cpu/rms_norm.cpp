// kernels/cpu/rms_norm.cpp — RMSNorm (statistics in f32), optionally fused with the residual add.
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void rms_norm(const Tensor& x, const Tensor& w, const Tensor& bias, float eps, const Tensor& out,
              const Tensor& residual) {
  const int64_t T = x.size(0), H = x.size(1);
  ROTOR_CHECK(w.numel() == H && out.size(0) == T && out.size(1) == H, "rms_norm: bad shapes x {} w {} out {}",
              x.str(), w.str(), out.str());
  ROTOR_CHECK(!residual.defined() || (residual.size(0) == T && residual.size(1) == H),
              "rms_norm: residual {} does not match x {}", residual.str(), x.str());
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
      void* o = out.row_ptr(t);
      for (int64_t h = 0; h < H; ++h) {
        float y = v[h] * inv * wf[h];
        if (!bf.empty()) y += bf[h];
        store_f32(o, out.dtype(), h, y);
      }
    }
  }
}

}  // namespace rotor::cpu
