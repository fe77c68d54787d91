// kernels/cuda/qk_norm_rope.cu — one warp per (token, head): q and k heads are normed and
// rotated (lane i holds the rotation pairs (i + 32 j, i + 32 j + hd/2)), v heads are copied.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/qk_norm_rope.cuh"

namespace rotor::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxPairs = 4;  // hd <= 2 * 32 * kMaxPairs

__global__ void __launch_bounds__(kWarps * 32) qk_norm_rope_kernel(const QkNormRopeArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int heads = a.Hq + 2 * a.Hkv;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (item >= static_cast<int64_t>(a.T) * heads) return;
  const int lane = threadIdx.x % 32;
  const int t = static_cast<int>(item / heads), h = static_cast<int>(item % heads);
  const int half = a.hd / 2, pairs = half / 32;
  const bf16* src = static_cast<const bf16*>(a.qkv) + t * a.qkv_stride + static_cast<int64_t>(h) * a.hd;
  float lo[kMaxPairs], hi[kMaxPairs];
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) {
      lo[j] = __bfloat162float(src[lane + 32 * j]);
      hi[j] = __bfloat162float(src[half + lane + 32 * j]);
    }
  const int64_t slot = a.slots[t];
  const bool to_cache = slot >= 0 && slot < a.num_slots;
  const int kv_h = h - a.Hq;  // k head index (0 <= kv_h < Hkv) or v head (Hkv <= kv_h)
  int64_t cache_off = 0;
  if (h >= a.Hq) {
    const int64_t block = slot / a.block_size, off = slot % a.block_size;
    cache_off = ((block * a.Hkv + (kv_h % a.Hkv)) * a.block_size + off) * a.hd;
  }
  if (h >= a.Hq + a.Hkv) {  // v: copy into the cache
    if (!to_cache) return;
    bf16* dst = static_cast<bf16*>(a.v_cache) + cache_off;
#pragma unroll
    for (int j = 0; j < kMaxPairs; ++j)
      if (j < pairs) {
        dst[lane + 32 * j] = __float2bfloat16_rn(lo[j]);
        dst[half + lane + 32 * j] = __float2bfloat16_rn(hi[j]);
      }
    return;
  }
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) ss += lo[j] * lo[j] + hi[j] * hi[j];
  ss = warp_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(a.hd) + a.eps);
  const bf16* w = static_cast<const bf16*>(h < a.Hq ? a.q_norm_w : a.k_norm_w);
  int pos = a.positions[t];
  pos = pos < 0 ? 0 : (pos >= a.max_pos ? a.max_pos - 1 : pos);
  const float* cs = a.rope + static_cast<int64_t>(pos) * a.hd;
  bf16* dst = h < a.Hq ? static_cast<bf16*>(a.q_out) + t * a.q_stride + static_cast<int64_t>(h) * a.hd
                       : static_cast<bf16*>(a.k_cache) + cache_off;
  if (h >= a.Hq && !to_cache) return;
#pragma unroll
  for (int j = 0; j < kMaxPairs; ++j)
    if (j < pairs) {
      const int i = lane + 32 * j;
      const float x = lo[j] * inv * __bfloat162float(w[i]);
      const float y = hi[j] * inv * __bfloat162float(w[half + i]);
      const float c = cs[i], s = cs[half + i];
      dst[i] = __float2bfloat16_rn(x * c - y * s);
      dst[half + i] = __float2bfloat16_rn(y * c + x * s);
    }
}

}  // namespace

cudaError_t qk_norm_rope(const QkNormRopeArgs& a, cudaStream_t stream) {
  if (a.T == 0) return cudaSuccess;
  if (a.hd % 64 != 0 || a.hd > 64 * kMaxPairs) return cudaErrorInvalidValue;
  const int64_t items = static_cast<int64_t>(a.T) * (a.Hq + 2 * a.Hkv);
  const unsigned blocks = static_cast<unsigned>((items + kWarps - 1) / kWarps);
  return launch(qk_norm_rope_kernel, blocks, kWarps * 32, 0, stream, a);
}

}  // namespace rotor::cuda
