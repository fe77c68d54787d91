// kernels/cpu/qk_norm_rope.cpp — split fused QKV, per-head RMSNorm of q and k, NeoX RoPE,
// q to q_out and k/v into the paged cache [num_blocks, Hkv, block_size, hd] (FP8: divided by
// the layer's scales, rounded to e4m3; the scales first computed from the step when asked).
#include <cmath>
#include <vector>

#include "core/fp8.h"

#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {
namespace {

// In place on v[hd]: RMSNorm with weight w, then NeoX rotation with cos/sin of this position.
void norm_rope_head(float* v, const float* w, float eps, const float* cs, int64_t hd) {
  double ss = 0;
  for (int64_t i = 0; i < hd; ++i) ss += static_cast<double>(v[i]) * v[i];
  const float inv = 1.0f / std::sqrt(static_cast<float>(ss / hd) + eps);
  for (int64_t i = 0; i < hd; ++i) v[i] = v[i] * inv * w[i];
  const int64_t half = hd / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cs[i], s = cs[half + i];
    const float a = v[i], b = v[half + i];
    v[i] = a * c - b * s;
    v[half + i] = b * c + a * s;
  }
}

}  // namespace

void qk_norm_rope(const Tensor& qkv, const Tensor& q_norm_w, const Tensor& k_norm_w, float eps,
                  const Tensor& rope_cos_sin, const AttentionBatch& batch, const LayerKVCache& cache,
                  const Tensor& q_out) {
  const int64_t T = batch.num_tokens, Hq = q_out.size(1), hd = q_out.size(2);
  const int64_t Hkv = cache.k.size(1), bs = cache.k.size(2), num_blocks = cache.k.size(0);
  const bool fp8 = cache.fp8();
  std::vector<float> qw(hd), kw(hd);
  row_to_f32(q_norm_w.data(), q_norm_w.dtype(), hd, qw.data());
  row_to_f32(k_norm_w.data(), k_norm_w.dtype(), hd, kw.data());
  const int32_t* pos = batch.positions.data<int32_t>();
  const int32_t* slots = batch.slot_mapping.data<int32_t>();
  const int64_t max_pos = rope_cos_sin.size(0);
  // Row t of qkv as f32 in v, q and k heads normed and rotated.
  const auto prepare = [&](int64_t t, std::vector<float>& v) {
    ROTOR_CHECK(pos[t] >= 0 && pos[t] < max_pos, "qk_norm_rope: position {} outside the rope table", pos[t]);
    row_to_f32(qkv.row_ptr(t), qkv.dtype(), v.size(), v.data());
    const float* cs = rope_cos_sin.data<float>() + pos[t] * hd;
    for (int64_t h = 0; h < Hq + Hkv; ++h) norm_rope_head(&v[h * hd], h < Hq ? qw.data() : kw.data(), eps, cs, hd);
  };
  if (fp8 && cache.calculate_scales) {
    float kmax = 0.0f, vmax = 0.0f;  // NaN never compares greater: ignored
#pragma omp parallel reduction(max : kmax, vmax)
    {
      std::vector<float> v((Hq + 2 * Hkv) * hd);
#pragma omp for schedule(static)
      for (int64_t t = 0; t < T; ++t) {
        if (slots[t] < 0) continue;
        prepare(t, v);
        for (int64_t i = 0; i < Hkv * hd; ++i) {
          if (std::fabs(v[Hq * hd + i]) > kmax) kmax = std::fabs(v[Hq * hd + i]);
          if (std::fabs(v[(Hq + Hkv) * hd + i]) > vmax) vmax = std::fabs(v[(Hq + Hkv) * hd + i]);
        }
      }
    }
    cache.scales.data<float>()[0] = kmax > 0.0f ? kmax / kKScaleRange : 1.0f;
    cache.scales.data<float>()[1] = vmax > 0.0f ? vmax / kVScaleRange : 1.0f;
  }
  const float k_scale = fp8 ? cache.scales.data<float>()[0] : 1.0f, v_scale = fp8 ? cache.scales.data<float>()[1] : 1.0f;
#pragma omp parallel
  {
    std::vector<float> v((Hq + 2 * Hkv) * hd);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      prepare(t, v);
      void* qo = q_out.row_ptr(t);
      for (int64_t i = 0; i < Hq * hd; ++i) store_f32(qo, q_out.dtype(), i, v[i]);
      const int64_t slot = slots[t];
      if (slot < 0) continue;
      const int64_t block = slot / bs, off = slot % bs;
      ROTOR_CHECK(block < num_blocks, "qk_norm_rope: slot {} outside the cache", slot);
      for (int64_t h = 0; h < Hkv; ++h) {
        const int64_t base = ((block * Hkv + h) * bs + off) * hd;
        const float* k = &v[(Hq + h) * hd];
        const float* val = &v[(Hq + Hkv + h) * hd];
        if (fp8) {
          uint8_t* kc = cache.k.data<uint8_t>() + base;
          uint8_t* vc = cache.v.data<uint8_t>() + base;
          for (int64_t i = 0; i < hd; ++i) {
            kc[i] = f32_to_e4m3(k[i] / k_scale);
            vc[i] = f32_to_e4m3(val[i] / v_scale);
          }
          continue;
        }
        for (int64_t i = 0; i < hd; ++i) {
          store_f32(cache.k.data(), cache.k.dtype(), base + i, k[i]);
          store_f32(cache.v.data(), cache.v.dtype(), base + i, val[i]);
        }
      }
    }
  }
}

}  // namespace rotor::cpu
