// kernels/cuda/attention_prefill.cu — FlashAttention-2 style prefill over the paged cache:
// a block of 4 warps owns 128 query rows of one head (32 per warp: two 16-row MMA tiles that
// share every K and V fragment read from shared memory; Q fragments are re-read from shared
// memory each tile to keep registers for the accumulators) and walks 64-key tiles of K and V
// (cp.async, double-buffered, swizzled shared memory) up to its causal limit, with an online
// softmax in f32. Tiles wholly below the diagonal skip the mask. Built for head size 64; head
// size 128 goes to the Hopper warpgroup kernel (attention_prefill_hopper.cu). An e4m3 cache
// (FP8) is copied as bytes into a double-buffered staging area, converted by the whole block
// into one f16 tile of K and V (the query is converted to f16 once), and multiplied on f16
// tensor cores; K's scale joins the softmax scale and V's the output's normalisation.
#include <cfloat>
#include <type_traits>

#include "kernels/cuda/attention_prefill_block.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fp8.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

constexpr int kMT = 2;  // 16-row MMA tiles per warp
constexpr int kWarps = 4;
constexpr int kBM = kWarps * kMT * 16, kBN = 64;
// Q + 2 stages of K and V; FP8: Q + one f16 tile of K and V + 2 stages of e4m3 K and V.
template <int HD, bool FP8>
constexpr int kSmem = FP8 ? (kBM * HD + 2 * kBN * HD) * 2 + 2 * 2 * kBN * HD : (kBM * HD + 2 * 2 * kBN * HD) * 2;

template <int HD, bool FP8>
__global__ void __launch_bounds__(kWarps * 32) attn_prefill_kernel(const AttnArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  using T = std::conditional_t<FP8, uint8_t, bf16>;  // a cache element
  constexpr int kCh = HD / 8;  // 16-byte chunks per row of q (and of an f16 tile)
  // Cache elements per 16-byte chunk, and chunks per cached row.
  constexpr int kEl = 16 / static_cast<int>(sizeof(T)), kRowCh = HD / kEl;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);  // [kBM][HD] (FP8: converted to f16)
  bf16* skv = sq + kBM * HD;                     // [stage][K|V][kBN][HD] (FP8: one stage, f16)
  uint8_t* sraw = reinterpret_cast<uint8_t*>(skv + 2 * kBN * HD);  // FP8: [stage][K|V][kBN][HD] e4m3
  // Where the cache's tiles land: [stage][K|V][kBN][HD] cache elements.
  T* sin;
  if constexpr (FP8) sin = sraw;
  else sin = skv;
  PrefillBlock b;
  if (!prefill_block<kBM, kBN>(a, b)) return;
  const int s = b.s, qlen = b.qlen, m0 = b.m0, prefix = b.prefix, head = b.head, kvh = b.kvh;
  const int kv_end = b.kv_end, n_tiles = b.n_tiles, n_full = b.n_full;
  const int64_t row0 = b.row0;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const bf16* q = static_cast<const bf16*>(a.q) + row0 * a.q_stride + static_cast<int64_t>(head) * HD;
  const int32_t* table = a.block_tables + s * a.bt_stride;
  const T* kc = static_cast<const T*>(a.k_cache);
  const T* vc = static_cast<const T*>(a.v_cache);

  for (int i = tid; i < kBM * kCh; i += kWarps * 32) {
    const int r = i / kCh, c = i % kCh;
    const bool ok = m0 + r < qlen;
    cp_async16(sq + r * HD + swz(r, c) * 8, ok ? q + r * a.q_stride + c * 8 : q, ok);
  }
  auto load_kv = [&](int t, int stage) {
    T* ks = sin + stage * 2 * kBN * HD;
    T* vs = ks + kBN * HD;
    for (int i = tid; i < kBN * kRowCh; i += kWarps * 32) {
      const int r = i / kRowCh, c = i % kRowCh, j = t * kBN + r;
      const bool ok = j < kv_end;
      int64_t off = 0;
      if (ok) {
        const int64_t block = table[j / a.block_size];
        off = ((block * a.Hkv + kvh) * a.block_size + j % a.block_size) * HD + c * kEl;
      }
      if constexpr (FP8) {  // staged in order (convert_kv swizzles the f16 tile)
        const int dst = r * HD + c * kEl;
        cp_async16(ks + dst, kc + off, ok);
        cp_async16(vs + dst, vc + off, ok);
      } else {
        cp_async16(ks + r * HD + swz(r, c) * kEl, kc + off, ok);
        cp_async16(vs + r * HD + swz(r, c) * kEl, vc + off, ok);
      }
    }
  };
  // FP8: the staged e4m3 tile of `stage` -> the f16 tile (swizzled as the bf16 one), by the block.
  auto convert_kv = [&](int stage) {
    const uint8_t* raw = sraw + stage * 2 * kBN * HD;
    for (int i = tid; i < 2 * kBN * kRowCh; i += kWarps * 32) {
      const int r = (i / kRowCh) % kBN, c = i % kRowCh;
      uint4 h[2];
      e4m3x16_to_f16(*reinterpret_cast<const uint4*>(raw + i * 16), h);
      bf16* dst = skv + (i / (kBN * kRowCh)) * kBN * HD + r * HD;
      *reinterpret_cast<uint4*>(dst + swz(r, 2 * c) * 8) = h[0];
      *reinterpret_cast<uint4*>(dst + swz(r, 2 * c + 1) * 8) = h[1];
    }
  };
  load_kv(0, 0);
  cp_async_commit();

  float o[kMT][HD / 8][4];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) o[mt][j][0] = o[mt][j][1] = o[mt][j][2] = o[mt][j][3] = 0.0f;
  float m[kMT][2], l[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.0f;
  const float k_scale = FP8 ? a.kv_scales[0] : 1.0f, v_scale = FP8 ? a.kv_scales[1] : 1.0f;
  const float scale_log2 = a.scale * k_scale * 1.4426950408889634f;
  // This thread's query rows: qi0 + mt * 16 and qi0 + mt * 16 + 8.
  const int qi0 = m0 + warp * kMT * 16 + lane / 4;

  for (int t = 0; t < n_tiles; ++t) {
    if (t + 1 < n_tiles) load_kv(t + 1, (t + 1) % 2);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if constexpr (FP8) {
      if (t == 0)  // the query chunks this thread copied (they have landed): bf16 -> f16 in place
        for (int i = tid; i < kBM * kCh; i += kWarps * 32) {
          uint4* p = reinterpret_cast<uint4*>(sq + (i / kCh) * HD + swz(i / kCh, i % kCh) * 8);
          *p = bf16x8_to_f16(*p);
        }
      convert_kv(t % 2);
      __syncthreads();
    }
    const bf16* ks = FP8 ? skv : skv + (t % 2) * 2 * kBN * HD;
    const bf16* vs = ks + kBN * HD;
    float sc[kMT][kBN / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) sc[mt][j][0] = sc[mt][j][1] = sc[mt][j][2] = sc[mt][j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      uint32_t qa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        const int r = (warp * kMT + mt) * 16 + lane % 16;
        ldmatrix_x4(qa[mt], sq + r * HD + swz(r, kk * 2 + lane / 16) * 8);
      }
#pragma unroll
      for (int np = 0; np < kBN / 16; ++np) {
        uint32_t b[4];
        const int r = np * 16 + lane % 8 + (lane / 16) * 8;
        ldmatrix_x4(b, ks + r * HD + swz(r, kk * 2 + (lane / 8) % 2) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816<FP8>(sc[mt][2 * np], qa[mt], b[0], b[1]);
          mma_16816<FP8>(sc[mt][2 * np + 1], qa[mt], b[2], b[3]);
        }
      }
    }
    const bool full = t < n_full;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int nt = 0; nt < kBN / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (full) {
            sc[mt][nt][e] *= scale_log2;
          } else {
            const int j = t * kBN + nt * 8 + (lane % 4) * 2 + (e & 1);
            const int limit = prefix + qi0 + mt * 16 + (e / 2) * 8;  // causal: keys <= this position
            sc[mt][nt][e] = j <= limit && j < kv_end ? sc[mt][nt][e] * scale_log2 : -INFINITY;
          }
          mx[e / 2] = fmaxf(mx[e / 2], sc[mt][nt][e]);
        }
      float corr[2];
      online_softmax_step(m[mt], l[mt], mx, corr);
#pragma unroll
      for (int nt = 0; nt < kBN / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          sc[mt][nt][e] = exp2f(sc[mt][nt][e] - mx[e / 2]);
          l[mt][e / 2] += sc[mt][nt][e];
        }
#pragma unroll
      for (int j = 0; j < HD / 8; ++j) {
        o[mt][j][0] *= corr[0];
        o[mt][j][1] *= corr[0];
        o[mt][j][2] *= corr[1];
        o[mt][j][3] *= corr[1];
      }
    }
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t pa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        pa[mt][0] = pack_mma<FP8>(sc[mt][2 * kk][0], sc[mt][2 * kk][1]);
        pa[mt][1] = pack_mma<FP8>(sc[mt][2 * kk][2], sc[mt][2 * kk][3]);
        pa[mt][2] = pack_mma<FP8>(sc[mt][2 * kk + 1][0], sc[mt][2 * kk + 1][1]);
        pa[mt][3] = pack_mma<FP8>(sc[mt][2 * kk + 1][2], sc[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int np = 0; np < HD / 16; ++np) {
        uint32_t b[4];
        const int r = kk * 16 + lane % 8 + ((lane / 8) % 2) * 8;
        ldmatrix_x4_trans(b, vs + r * HD + swz(r, np * 2 + lane / 16) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816<FP8>(o[mt][2 * np], pa[mt], b[0], b[1]);
          mma_16816<FP8>(o[mt][2 * np + 1], pa[mt], b[2], b[3]);
        }
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float sum = l[mt][h];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int qi = qi0 + mt * 16 + h * 8;
      if (qi >= qlen) continue;
      const float inv = sum > 0.0f ? v_scale / sum : 0.0f;
      bf16* out = static_cast<bf16*>(a.out) + (row0 + qi - m0) * a.out_stride + static_cast<int64_t>(head) * HD;
#pragma unroll
      for (int j = 0; j < HD / 8; ++j) {
        const int c = j * 8 + (lane % 4) * 2;
        *reinterpret_cast<__nv_bfloat162*>(out + c) =
            __floats2bfloat162_rn(o[mt][j][2 * h] * inv, o[mt][j][2 * h + 1] * inv);
      }
    }
}

template <int HD, bool FP8>
cudaError_t launch_prefill(const AttnArgs& a, cudaStream_t stream) {
  const cudaError_t attr = raise_smem_limit(attn_prefill_kernel<HD, FP8>, kSmem<HD, FP8>);
  if (attr != cudaSuccess) return attr;
  const dim3 grid((a.max_query_len + kBM - 1) / kBM, a.Hq, a.seq_end - a.seq_begin);
  return launch(attn_prefill_kernel<HD, FP8>, grid, kWarps * 32, kSmem<HD, FP8>, stream, a);
}

}  // namespace

cudaError_t attention_prefill(const AttnArgs& a, cudaStream_t stream) {
  const int S = a.seq_end - a.seq_begin;
  if (S <= 0 || a.max_query_len <= 0) return cudaSuccess;
  if (a.block_size % 16 != 0 || a.Hq % a.Hkv != 0 || a.out_stride % 2 != 0) return cudaErrorInvalidValue;
  if (a.kv_fp8 && a.kv_scales == nullptr) return cudaErrorInvalidValue;
  switch (a.hd) {
    case 128: return attention_prefill_hd128_hopper(a, stream);
    case 64: return a.kv_fp8 ? launch_prefill<64, true>(a, stream) : launch_prefill<64, false>(a, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace rotor::cuda
