// kernels/cuda/attention_prefill_hopper.cu — prefill attention for head size 128 on Hopper
// warpgroup MMA (wgmma). A block owns 128 query rows of one head and has three warpgroups:
// a producer that copies 128-key tiles of K and V from the paged cache into a 3-stage ring of
// 128-byte-swizzled shared panels (cp.async; full/empty barriers per stage), and two
// consumers of 64 rows each that, per tile, compute S = Q K^T [64 x 128] (Q and K in shared
// memory), an online softmax in f32 on the accumulators, and O += P V with P taken from
// registers (S rounded to bf16) and V read MN-major. The consumers run unsynchronised, so one
// warpgroup's softmax overlaps the other's products (taking turns, FlashAttention-3's
// ping-pong, measured slower here). Tiles wholly below the diagonal skip the mask.
//
// An e4m3 cache (FP8): the producer copies each tile's codes into a 2-stage staging ring of
// its own (each thread the 16-byte chunks it will convert, so no barrier between copy and
// conversion), converts them to f16 into the panels (a 2-stage ring: the staging takes the
// third stage's room), and the consumers multiply on f16 wgmma with Q converted to f16 once;
// K's scale joins the softmax scale, V's the output's normalisation.
#include "kernels/cuda/attention_prefill_block.cuh"
#include "kernels/cuda/fp8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace rotor::cuda {
namespace {

constexpr int kHD = 128;
constexpr int kBM = 128, kBN = 128;             // query rows per block, keys per tile
template <bool FP8>
constexpr int kStages = FP8 ? 2 : 3;            // K/V tiles (bf16, or f16 from e4m3) in the ring
constexpr int kThreads = 384;                   // producer + two consumer warpgroups
constexpr int kPanel = 128 * 128;               // bytes of one 64-column panel of a 128-row tile
constexpr int kTile = 2 * kPanel;               // a 128 x 128 bf16 tile: two panels
constexpr int kRawTile = kBN * kHD;             // bytes of a 128 x 128 e4m3 tile
// Q, the K/V ring, (FP8) two stages of staged e4m3 K and V, alignment slack
template <bool FP8>
constexpr int kSmem = (1 + 2 * kStages<FP8>) * kTile + (FP8 ? 2 * 2 * kRawTile : 0) + 1024;
// Registers after setmaxnreg: 40 + 2 x 232 = 3 x 168, what the launch gives each thread (asking
// for more than the launch's total blocks setmaxnreg.inc forever).
constexpr int kProducerRegs = 40, kConsumerRegs = 232;

// The producer's work over an e4m3 cache (FP8), for its thread p; group_offset(t) is the
// kernel's lookup (elements from the head's first row to row 0 of 16-row group lane % 8 of tile t).
template <class GroupOffset>
__device__ __forceinline__ void produce_e4m3(const AttnArgs& a, int kvh, int kv_end, int n_tiles, int p, uint8_t* sraw,
                                             uint8_t* skv, uint64_t* full, uint64_t* empty,
                                             const GroupOffset& group_offset) {
  // Thread p: 16-byte chunk c = p / 16 (dimensions 16c .. 16c + 15) of row p % 16 of each
  // 16-row group; it converts what it copied into f16 units 2c and 2c + 1 of the row.
  constexpr int kStg = kStages<true>;
  const int c = p / 16, rr = p % 16;
  const int64_t first = static_cast<int64_t>(kvh) * a.block_size * kHD + rr * kHD + c * 16;
  const uint8_t* kc = static_cast<const uint8_t*>(a.k_cache) + first;
  const uint8_t* vc = static_cast<const uint8_t*>(a.v_cache) + first;
  auto copy = [&](int t, int64_t goff) {
    uint8_t* dst = sraw + (t % 2) * 2 * kRawTile + p * 16;
#pragma unroll
    for (int g = 0; g < kBN / 16; ++g) {
      const int64_t base = __shfl_sync(0xffffffffu, goff, g);
      const bool ok = t * kBN + 16 * g + rr < kv_end;
      cp_async16(dst + g * 2048, kc + (ok ? base : 0), ok);
      cp_async16(dst + kRawTile + g * 2048, vc + (ok ? base : 0), ok);
    }
  };
  copy(0, group_offset(0));
  cp_async_commit();
  int64_t next = group_offset(1);
  for (int t = 0; t < n_tiles; ++t) {
    const int st = t % kStg;
    if (t + 1 < n_tiles) copy(t + 1, next);
    cp_async_commit();
    next = group_offset(t + 2);
    cp_async_wait<1>();  // this thread's copies of tile t
    if (t >= kStg) mbar_wait(&empty[st], (t / kStg + 1) & 1);
    const uint8_t* src = sraw + (t % 2) * 2 * kRawTile + p * 16;
    uint8_t* ks = skv + st * 2 * kTile;
#pragma unroll 2
    for (int i = 0; i < 2 * kBN / 16; ++i) {  // K then V, 16-row group i % 8
      const int r = 16 * (i % 8) + rr;
      uint4 h[2];
      e4m3x16_to_f16(lds128(src + (i / 8) * kRawTile + (i % 8) * 2048), h);
      uint8_t* dst = ks + (i / 8) * kTile + (c / 4) * kPanel;
      sts128(dst + swz128(r, (2 * c) % 8), h[0]);
      sts128(dst + swz128(r, (2 * c + 1) % 8), h[1]);
    }
    fence_proxy_async();
    mbar_arrive(&full[st]);
    __syncwarp();  // the reads of this staging stage come before the copies into it next time
  }
}

template <bool FP8>
__global__ void __launch_bounds__(kThreads, 1) attn_prefill_wgmma_kernel(const AttnArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  constexpr int kStg = kStages<FP8>;
  extern __shared__ uint8_t smem_raw[];
  __shared__ uint64_t full[kStg], empty[kStg];
  uint8_t* smem = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t{1023});
  uint8_t* sq = smem;                          // [2 panels][128 rows][128 B]
  uint8_t* skv = smem + kTile;                 // [stage][K | V] tiles
  uint8_t* sraw = skv + 2 * kStg * kTile;      // FP8: [stage][K | V][16-row group][producer thread][16 B]
  PrefillBlock b;
  if (!prefill_block<kBM, kBN>(a, b)) return;
  const int s = b.s, qlen = b.qlen, m0 = b.m0, prefix = b.prefix, head = b.head, kvh = b.kvh;
  const int kv_end = b.kv_end, n_tiles = b.n_tiles, n_full = b.n_full;
  const int64_t row0 = b.row0;
  const int tid = threadIdx.x, wg = tid / 128, warp = (tid / 32) % 4, lane = tid % 32;
  const bf16* q = static_cast<const bf16*>(a.q) + row0 * a.q_stride + static_cast<int64_t>(head) * kHD;

  // Q by every thread; barriers by one. Row r, 16-byte unit c of a tile goes to panel c / 8.
  for (int i = tid; i < kBM * 16; i += kThreads) {
    const int r = i / 16, c = i % 16;
    const bool ok = m0 + r < qlen;
    cp_async16(sq + (c / 8) * kPanel + swz128(r, c % 8), ok ? q + r * a.q_stride + c * 8 : q, ok);
  }
  cp_async_commit();
  if (tid == 0)
    for (int st = 0; st < kStg; ++st) {
      mbar_init(&full[st], 128);
      mbar_init(&empty[st], 256);
    }
  cp_async_wait<0>();
  if constexpr (FP8)  // the chunks this thread copied: bf16 -> f16 in place
    for (int i = tid; i < kBM * 16; i += kThreads) {
      const int r = i / 16, c = i % 16;
      uint8_t* q16 = sq + (c / 8) * kPanel + swz128(r, c % 8);
      sts128(q16, bf16x8_to_f16(lds128(q16)));
    }
  fence_proxy_async();
  __syncthreads();

  if (wg == 2) {
    // Producer: thread p copies 16-byte unit c = p % 16 of rows p / 16 + 8 i of each tile. The
    // block size is a multiple of 16, so each 16-row group of a tile lies in one cache block:
    // lane g < 8 of each warp looks up group g's offset once per tile (one division), and the
    // rows take it by shuffle. The lookup for the next tile is issued before this one's copies.
    // An e4m3 cache: produce_e4m3.
    setmaxnreg_dec<kProducerRegs>();
    const int p = tid - 256, c = p % 16;
    const int32_t* table = a.block_tables + s * a.bt_stride;
    const bf16* kc = static_cast<const bf16*>(a.k_cache) + static_cast<int64_t>(kvh) * a.block_size * kHD + c * 8;
    const bf16* vc = static_cast<const bf16*>(a.v_cache) + static_cast<int64_t>(kvh) * a.block_size * kHD + c * 8;
    const int64_t block_elems = static_cast<int64_t>(a.Hkv) * a.block_size * kHD;
    auto group_offset = [&](int t) -> int64_t {  // elements from kc / vc to row 0 of group lane % 8
      const int j0 = t * kBN + 16 * (lane % 8);
      return j0 < kv_end ? table[j0 / a.block_size] * block_elems + (j0 % a.block_size) * kHD : 0;
    };
    if constexpr (FP8) {
      produce_e4m3(a, kvh, kv_end, n_tiles, p, sraw, skv, full, empty, group_offset);
      return;
    }
    int64_t next = group_offset(0);
    for (int t = 0; t < n_tiles; ++t) {
      const int st = t % kStg;
      const int64_t goff = next;
      if (t + 1 < n_tiles) next = group_offset(t + 1);
      if (t >= kStg) mbar_wait(&empty[st], (t / kStg + 1) & 1);
      uint8_t* ks = skv + st * 2 * kTile;
#pragma unroll
      for (int g = 0; g < kBN / 16; ++g) {
        const int64_t base = __shfl_sync(0xffffffffu, goff, g);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = 16 * g + 8 * h + p / 16;
          const bool ok = t * kBN + r < kv_end;
          const int64_t off = ok ? base + (8 * h + p / 16) * kHD : 0;
          const int dst = (c / 8) * kPanel + swz128(r, c % 8);
          cp_async16(ks + dst, kc + off, ok);
          cp_async16(ks + kTile + dst, vc + off, ok);
        }
      }
      cp_async_commit();
      if (t > 0) {
        cp_async_wait<1>();
        fence_proxy_async();
        mbar_arrive(&full[(t - 1) % kStg]);
      }
    }
    cp_async_wait<0>();
    fence_proxy_async();
    mbar_arrive(&full[(n_tiles - 1) % kStg]);
    return;
  }

  setmaxnreg_inc<kConsumerRegs>();
  float o[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const float k_scale = FP8 ? a.kv_scales[0] : 1.0f, v_scale = FP8 ? a.kv_scales[1] : 1.0f;
  const float scale_log2 = a.scale * k_scale * 1.4426950408889634f;
  // This thread's query rows (in the chunk): qi0 and qi0 + 8.
  const int qi0 = m0 + wg * 64 + warp * 16 + lane / 4;
  const uint8_t* sq_wg = sq + wg * 64 * 128;

  for (int t = 0; t < n_tiles; ++t) {
    const int st = t % kStg;
    mbar_wait(&full[st], (t / kStg) & 1);
    const uint8_t* ks = skv + st * 2 * kTile;
    const uint8_t* vs = ks + kTile;

    // S [64 x 128] = Q [64 x 128] . K^T, eight k-steps of 16 over the head dimension.
    float sc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) sc[i] = 0.0f;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kHD / 16; ++kk) {
      const int off = (kk / 4) * kPanel + (kk % 4) * 32;
      wgmma_m64n128k16_ss<FP8>(sc, wgmma_desc(sq_wg + off, 16, 1024), wgmma_desc(ks + off, 16, 1024), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    fence_regs(sc);

    // Online softmax over this tile's keys: column 8j + 2(lane % 4) + (e % 2) of sc[4j + e]. Only
    // tiles on the diagonal or past kv_end mask; the maxima are taken on the raw scores and
    // scaled once (the scale is positive), and exp2 takes score * scale - max in one FMA.
    if (t >= n_full) {
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = t * kBN + j * 8 + (lane % 4) * 2 + (e & 1);
          const int limit = prefix + qi0 + (e / 2) * 8;  // causal: keys <= this position
          if (key > limit || key >= kv_end) sc[4 * j + e] = -INFINITY;
        }
    }
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) mx[e / 2] = fmaxf(mx[e / 2], sc[4 * j + e]);
    mx[0] *= scale_log2;
    mx[1] *= scale_log2;
    float corr[2];
    online_softmax_step(m, l, mx, corr);
    uint32_t p[kBN / 16][4];
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
      float e4[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        e4[e] = exp2_approx(fmaf(sc[4 * j + e], scale_log2, -mx[e / 2]));
        l[e / 2] += e4[e];
      }
      p[j / 2][(j % 2) * 2] = pack_mma<FP8>(e4[0], e4[1]);
      p[j / 2][(j % 2) * 2 + 1] = pack_mma<FP8>(e4[2], e4[3]);
    }
#pragma unroll
    for (int j = 0; j < kHD / 8; ++j) {
      o[4 * j] *= corr[0];
      o[4 * j + 1] *= corr[0];
      o[4 * j + 2] *= corr[1];
      o[4 * j + 3] *= corr[1];
    }

    // O [64 x 128] += P [64 x 128 keys] . V [128 keys x 128], eight k-steps of 16 keys.
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk)
      wgmma_m64n128k16_rs_mn<FP8>(o, p[kk], wgmma_desc(vs + kk * 16 * 128, kPanel, 1024));
    wgmma_commit();
    wgmma_wait<0>();
    fence_regs(o);
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk)
#pragma unroll
      for (int i = 0; i < 4; ++i) fence_reg(p[kk][i]);
    mbar_arrive(&empty[st]);  // this thread is done reading the stage
  }

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = l[h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int qi = qi0 + h * 8;
    if (qi >= qlen) continue;
    const float inv = sum > 0.0f ? v_scale / sum : 0.0f;
    bf16* out = static_cast<bf16*>(a.out) + (row0 + qi - m0) * a.out_stride + static_cast<int64_t>(head) * kHD;
#pragma unroll
    for (int j = 0; j < kHD / 8; ++j) {
      const int c = j * 8 + (lane % 4) * 2;
      *reinterpret_cast<__nv_bfloat162*>(out + c) =
          __floats2bfloat162_rn(o[4 * j + 2 * h] * inv, o[4 * j + 2 * h + 1] * inv);
    }
  }
}

template <bool FP8>
cudaError_t launch_hopper(const AttnArgs& a, cudaStream_t stream) {
  const cudaError_t attr = raise_smem_limit(attn_prefill_wgmma_kernel<FP8>, kSmem<FP8>);
  if (attr != cudaSuccess) return attr;
  const dim3 grid((a.max_query_len + kBM - 1) / kBM, a.Hq, a.seq_end - a.seq_begin);
  return launch(attn_prefill_wgmma_kernel<FP8>, grid, kThreads, kSmem<FP8>, stream, a);
}

}  // namespace

cudaError_t attention_prefill_hd128_hopper(const AttnArgs& a, cudaStream_t stream) {
  return a.kv_fp8 ? launch_hopper<true>(a, stream) : launch_hopper<false>(a, stream);
}

}  // namespace rotor::cuda
