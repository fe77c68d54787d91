// kernels/cuda/qk_norm_rope.cu — one warp per (token, head): q and k heads are normed and
// rotated by norm_rope.cuh (lane i holds the rotation pairs (i + 32 j, i + 32 j + hd/2)), v
// heads are copied; into an e4m3 cache as e4m3(x / scale). With calculate_scales a first pass
// of the same warps takes max|k| and max|v| over the rows written (atomicMax on the f32 bits,
// NaN skipped) and one thread turns them into the scales before the writing pass. The decode
// attention with QK-norm + RoPE fused in (attention_decode.cu) computes the same bits.
#include "core/fp8.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fp8.cuh"
#include "kernels/cuda/norm_rope.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/qk_norm_rope.cuh"

namespace rotor::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxPairs = 4;  // hd <= 2 * 32 * kMaxPairs

enum class Pass { WriteBf16, WriteE4m3, Max };

template <Pass kPass>
__global__ void __launch_bounds__(kWarps * 32) qk_norm_rope_kernel(const QkNormRopeArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int heads = a.Hq + 2 * a.Hkv;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (item >= static_cast<int64_t>(a.T) * heads) return;
  const int lane = threadIdx.x % 32;
  const int t = static_cast<int>(item / heads), h = static_cast<int>(item % heads);
  if (kPass == Pass::Max && h < a.Hq) return;
  const int half = a.hd / 2, pairs = half / 32;
  const bf16* src = static_cast<const bf16*>(a.qkv) + t * a.qkv_stride + static_cast<int64_t>(h) * a.hd;
  float lo[kMaxPairs], hi[kMaxPairs];
  load_head_pairs(src, a.hd, lo, hi);
  const int64_t slot = a.slots[t];
  const bool to_cache = slot >= 0 && slot < a.num_slots;
  if (kPass == Pass::Max && !to_cache) return;
  const int kv_h = h - a.Hq;  // k head index (0 <= kv_h < Hkv) or v head (Hkv <= kv_h)
  int64_t cache_off = 0;
  if (h >= a.Hq) {
    const int64_t block = slot / a.block_size, off = slot % a.block_size;
    cache_off = ((block * a.Hkv + (kv_h % a.Hkv)) * a.block_size + off) * a.hd;
  }
  // One value of this head (at element i) into the cache.
  const auto store = [&](void* cache, int64_t i, float x, float scale) {
    if constexpr (kPass == Pass::WriteE4m3)
      static_cast<uint8_t*>(cache)[cache_off + i] = f32_to_e4m3_rn(x / scale);
    else
      static_cast<bf16*>(cache)[cache_off + i] = __float2bfloat16_rn(x);
  };
  // The largest |x| of this head's values (NaN skipped) into *bits (f32 bits, all >= 0).
  const auto take_max = [&](float m, unsigned* bits) {
#pragma unroll
    for (int o = 16; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) atomicMax(bits, __float_as_uint(m));
  };
  if (h >= a.Hq + a.Hkv) {  // v: copy into the cache
    if (!to_cache) return;
    if constexpr (kPass == Pass::Max) {
      float m = 0.0f;  // fmaxf drops NaN
#pragma unroll
      for (int j = 0; j < kMaxPairs; ++j)
        if (j < pairs) m = fmaxf(m, fmaxf(fabsf(lo[j]), fabsf(hi[j])));
      take_max(m, reinterpret_cast<unsigned*>(a.kv_scales) + 1);
    } else {
      const float scale = kPass == Pass::WriteE4m3 ? a.kv_scales[1] : 1.0f;
#pragma unroll
      for (int j = 0; j < kMaxPairs; ++j)
        if (j < pairs) {
          store(a.v_cache, lane + 32 * j, lo[j], scale);
          store(a.v_cache, half + lane + 32 * j, hi[j], scale);
        }
    }
    return;
  }
  if (h >= a.Hq && !to_cache) return;
  norm_rope_head(lo, hi, a.hd, static_cast<const bf16*>(h < a.Hq ? a.q_norm_w : a.k_norm_w),
                 rope_row(a.rope, a.max_pos, a.hd, a.positions[t]), a.eps);
  const float k_scale = kPass == Pass::WriteE4m3 && h >= a.Hq ? a.kv_scales[0] : 1.0f;
  float m = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) {
      const int i = lane + 32 * j;
      const float r0 = lo[j], r1 = hi[j];
      if constexpr (kPass == Pass::Max) {
        m = fmaxf(m, fmaxf(fabsf(r0), fabsf(r1)));
      } else if (h < a.Hq) {
        bf16* q_dst = static_cast<bf16*>(a.q_out) + t * a.q_stride + static_cast<int64_t>(h) * a.hd;
        q_dst[i] = __float2bfloat16_rn(r0);
        q_dst[half + i] = __float2bfloat16_rn(r1);
      } else {
        store(a.k_cache, i, r0, k_scale);
        store(a.k_cache, half + i, r1, k_scale);
      }
    }
  if constexpr (kPass == Pass::Max) take_max(m, reinterpret_cast<unsigned*>(a.kv_scales));
}

// scales[0..1] as f32 bits zeroed (before the max pass) or maxima made scales (after it).
__global__ void kv_scales_kernel(float* scales, bool finish) {
  pdl_wait();
  pdl_launch_dependents();
  if (threadIdx.x != 0) return;
  if (!finish) {
    scales[0] = scales[1] = 0.0f;
    return;
  }
  scales[0] = scales[0] > 0.0f ? scales[0] / kKScaleRange : 1.0f;
  scales[1] = scales[1] > 0.0f ? scales[1] / kVScaleRange : 1.0f;
}

}  // namespace

cudaError_t qk_norm_rope(const QkNormRopeArgs& a, cudaStream_t stream) {
  if (a.T == 0) return cudaSuccess;
  if (a.hd % 64 != 0 || a.hd > 64 * kMaxPairs) return cudaErrorInvalidValue;
  const int64_t items = static_cast<int64_t>(a.T) * (a.Hq + 2 * a.Hkv);
  const unsigned blocks = static_cast<unsigned>((items + kWarps - 1) / kWarps);
  if (a.kv_scales == nullptr) return launch(qk_norm_rope_kernel<Pass::WriteBf16>, blocks, kWarps * 32, 0, stream, a);
  if (a.calculate_scales) {
    cudaError_t err = launch(kv_scales_kernel, 1, 32, 0, stream, a.kv_scales, false);
    if (err == cudaSuccess) err = launch(qk_norm_rope_kernel<Pass::Max>, blocks, kWarps * 32, 0, stream, a);
    if (err == cudaSuccess) err = launch(kv_scales_kernel, 1, 32, 0, stream, a.kv_scales, true);
    if (err != cudaSuccess) return err;
  }
  return launch(qk_norm_rope_kernel<Pass::WriteE4m3>, blocks, kWarps * 32, 0, stream, a);
}

}  // namespace rotor::cuda
