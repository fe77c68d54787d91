// kernels/cuda/norm_rope.cuh — one head's QK-norm + NeoX RoPE on a warp: RMSNorm in f32 times
// the bf16 norm weight, then the rotation by the position's row of the f32 cos | sin table.
// Lane i holds the rotation pairs (i + 32 j, i + 32 j + hd / 2), j < hd / 64. qk_norm_rope and
// the decode attention with it fused in (AttnArgs::qk_fused) both call it, so a head's q and k
// come out as the same bits on either path: each product and sum is rounded on its own
// (__fmul_rn, __fadd_rn: never contracted into an FMA, which the compiler could choose
// differently in each caller).
#pragma once
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace rotor::cuda {

// The table row of a position, clamped to [0, max_pos): rope [max_pos, hd] f32, cos in
// [:hd / 2], sin in [hd / 2:].
__device__ __forceinline__ const float* rope_row(const float* rope, int max_pos, int hd, int pos) {
  pos = pos < 0 ? 0 : (pos >= max_pos ? max_pos - 1 : pos);
  return rope + static_cast<int64_t>(pos) * hd;
}

// A head's values src [hd] bf16 into this lane's pairs: lo[j] = src[i + 32 j], hi[j] =
// src[hd / 2 + i + 32 j] (i the lane, j < hd / 64 <= kMaxPairs).
template <int kMaxPairs>
__device__ __forceinline__ void load_head_pairs(const bf16* src, int hd, float (&lo)[kMaxPairs],
                                                float (&hi)[kMaxPairs]) {
  const int lane = threadIdx.x % 32, half = hd / 2, pairs = hd / 64;
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) {
      lo[j] = __bfloat162float(src[lane + 32 * j]);
      hi[j] = __bfloat162float(src[half + lane + 32 * j]);
    }
}

// The head in lo / hi (load_head_pairs' layout, the whole warp holding it) normed and rotated in
// place: x = v / sqrt(mean(v^2) + eps) * w (w [hd] bf16), then (x_lo, x_hi) turned by the angle
// whose cos and sin are cs[i] and cs[hd / 2 + i] (cs: rope_row's row).
template <int kMaxPairs>
__device__ __forceinline__ void norm_rope_head(float (&lo)[kMaxPairs], float (&hi)[kMaxPairs], int hd, const bf16* w,
                                               const float* cs, float eps) {
  const int lane = threadIdx.x % 32, half = hd / 2, pairs = hd / 64;
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) ss = __fadd_rn(ss, __fadd_rn(__fmul_rn(lo[j], lo[j]), __fmul_rn(hi[j], hi[j])));
  ss = warp_sum(ss);
  const float inv = rsqrtf(__fadd_rn(__fdiv_rn(ss, static_cast<float>(hd)), eps));
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) {
      const int i = lane + 32 * j;
      const float x = __fmul_rn(__fmul_rn(lo[j], inv), __bfloat162float(w[i]));
      const float y = __fmul_rn(__fmul_rn(hi[j], inv), __bfloat162float(w[half + i]));
      const float c = cs[i], s = cs[half + i];
      lo[j] = __fsub_rn(__fmul_rn(x, c), __fmul_rn(y, s));
      hi[j] = __fadd_rn(__fmul_rn(y, c), __fmul_rn(x, s));
    }
}

}  // namespace rotor::cuda
