// kernels/cuda/attention_decode.cu — flash-decoding over the paged cache. A block of 4 warps
// owns (sequence, KV head, up to 16 query heads of its group, one split); each warp streams
// 16-token KV tiles (cp.async, 3 stages; 4 of half the bytes for e4m3) through mma with an
// online softmax; the warps, then the splits, are merged in a fixed order. Built for head
// sizes 128 and 64, bf16 or e4m3 cache (FP8). The splits are the fixed kDecodePartition-token
// ones (grid: splits x head groups x sequences), or a split plan's items read from device
// memory (PLAN; grid: the plan's bound x head groups).
//
// An e4m3 tile stays bytes in shared memory and each thread reads the codes of its own MMA
// fragments with 16-byte loads, converting them in registers (fp8.cuh). Both products may
// number their inner dimension in any order, so the fragments are chosen to make those loads
// whole: in S = Q K^T, thread (n = lane / 4, t = lane % 4) takes head dimensions
// [16 (t + 4 h), +16) (h < HD / 64) of key n, k-step kk using 4 of them (k8_dim below; Q's
// fragments follow the same numbering); in O = P V, it takes output dimensions
// [n HD / 8, +HD / 8) of keys 2t, 2t + 1, 2t + 8, 2t + 9, so output column j of n-tile J is
// dimension j HD / 8 + J. The shared tile's 16-byte chunks are swizzled so that both reads
// are free of bank conflicts at head size 128 (fp8_swz).
#include <cfloat>
#include <type_traits>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fp8.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

constexpr int kTile = 16;       // tokens per warp step
constexpr int kWarps = 4;
template <bool FP8>
constexpr int kStages = FP8 ? 4 : 3;
// One cache element: a bf16, or an e4m3 code (a byte).
template <bool FP8>
using KvElem = std::conditional_t<FP8, uint8_t, bf16>;
template <int HD, bool FP8>
constexpr int kSmem = 16 * HD * 2 + kWarps * kStages<FP8> * 2 * kTile * HD * static_cast<int>(sizeof(KvElem<FP8>));

__host__ __device__ int num_splits(int len) { return (len + kDecodePartition - 1) / kDecodePartition; }

// An e4m3 tile's chunk c (of HD / 16) of row r: rows r and r + 1 (r even) put chunks 0..3 in
// opposite halves of the 128 bytes, rows r, r + 2, r + 4, r + 6 their chunk pairs in distinct
// quarters (the reads of S and of O respectively, 8 lanes at a time).
template <int HD>
__device__ __forceinline__ int fp8_swz(int r, int c) {
  return c ^ (((r & 6) ^ ((r & 1) << 2)) & (HD / 16 - 1));
}

// The head dimension behind k-step kk, inner index 2t (and 2t + 1; 2t + 8, 2t + 9 are this + 2,
// + 3) of the e4m3 S = Q K^T product, t = lane % 4.
__device__ __forceinline__ int k8_dim(int kk, int t) { return (t + 4 * (kk / 4)) * 16 + 4 * (kk % 4); }

template <int HD, bool PLAN, bool FP8>
__global__ void __launch_bounds__(kWarps * 32) attn_decode_kernel(const AttnArgs a, float* __restrict__ part) {
  pdl_wait();
  pdl_launch_dependents();
  using T = KvElem<FP8>;
  constexpr int kCh = HD / 8;  // 16-byte chunks per row of q
  // Cache elements per 16-byte chunk, and chunks per cache row.
  constexpr int kStg = kStages<FP8>, kEl = 16 / static_cast<int>(sizeof(T)), kRowCh = HD / kEl;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);  // [16][HD]
  T* skv = reinterpret_cast<T*>(sq + 16 * HD);   // [warp][stage][K|V][kTile][HD]
  // This block's sequence, tokens [start, end), whether that is the whole context, and the
  // index of its partials: part [S, Hq, gridDim.x, HD + 2] (fixed) or [items, Hq, HD + 2] (PLAN).
  int s, len, start, end;
  bool whole;
  int64_t part_index;  // of the block's first head; consecutive heads follow at part_stride
  int64_t part_stride;
  if constexpr (PLAN) {
    const int item = blockIdx.x, S = a.seq_end - a.seq_begin;
    if (item >= a.plan[0]) return;
    const int32_t* first = a.plan + 1;
    const int32_t* it = a.plan + S + 2 + 2 * item;
    s = it[0];
    len = a.seq_lens[s];
    start = it[1];
    end = item + 1 < first[s + 1] ? it[3] : len;
    whole = first[s + 1] - first[s] == 1;
    part_index = static_cast<int64_t>(item) * a.Hq;
    part_stride = 1;
  } else {
    s = blockIdx.z;
    len = a.seq_lens[s];
    start = blockIdx.x * kDecodePartition;
    if (start >= len) return;
    end = min(len, start + kDecodePartition);
    whole = num_splits(len) == 1;
    part_index = static_cast<int64_t>(s) * a.Hq * gridDim.x + blockIdx.x;
    part_stride = gridDim.x;
  }
  const int G = a.Hq / a.Hkv, gchunks = (G + 15) / 16;
  const int kvh = blockIdx.y / gchunks, g0 = (blockIdx.y % gchunks) * 16;
  const int rows = min(16, G - g0), head0 = kvh * G + g0;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const bf16* q = static_cast<const bf16*>(a.q) + s * a.q_stride + static_cast<int64_t>(head0) * HD;

  for (int i = threadIdx.x; i < 16 * kCh; i += kWarps * 32) {
    const int r = i / kCh, c = i % kCh;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < rows) v = *reinterpret_cast<const uint4*>(q + r * HD + c * 8);
    *reinterpret_cast<uint4*>(sq + r * HD + swz(r, c) * 8) = v;
  }
  __syncthreads();
  uint32_t qa[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    if constexpr (FP8) {  // rows lane / 4 (+ 8), dimensions k8_dim .. + 3, as f16
      const int d = k8_dim(kk, lane % 4);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = lane / 4 + 8 * h;
        const uint2 x = *reinterpret_cast<const uint2*>(sq + r * HD + swz(r, d / 8) * 8 + d % 8);
        qa[kk][h] = bf16x2_to_f16x2(x.x);
        qa[kk][2 + h] = bf16x2_to_f16x2(x.y);
      }
    } else {
      const int r = lane % 16;
      ldmatrix_x4(qa[kk], sq + r * HD + swz(r, kk * 2 + lane / 16) * 8);
    }
  }

  const int num_tiles = (end - start + kTile - 1) / kTile;
  const int my_tiles = num_tiles > warp ? (num_tiles - warp + kWarps - 1) / kWarps : 0;
  T* wbuf = skv + warp * kStg * 2 * kTile * HD;
  const int32_t* table = a.block_tables + s * a.bt_stride;
  const T* kc = static_cast<const T*>(a.k_cache);
  const T* vc = static_cast<const T*>(a.v_cache);
  auto load_tile = [&](int i, int stage) {
    const int tok0 = start + (warp + kWarps * i) * kTile;
    const int64_t block = table[tok0 / a.block_size];
    const int64_t off = ((block * a.Hkv + kvh) * a.block_size + tok0 % a.block_size) * HD;
    T* ks = wbuf + stage * 2 * kTile * HD;
    T* vs = ks + kTile * HD;
#pragma unroll
    for (int j = 0; j < kTile * kRowCh / 32; ++j) {
      const int idx = lane + 32 * j, r = idx / kRowCh, c = idx % kRowCh;
      const bool ok = tok0 + r < end;
      if constexpr (FP8) {
        const int dst = r * HD + fp8_swz<HD>(r, c) * kEl;
        cp_async16(ks + dst, kc + off + r * HD + c * kEl, ok);
        cp_async16(vs + dst, vc + off + r * HD + c * kEl, ok);
      } else {
        cp_async16(ks + r * HD + swz(r, c) * kEl, kc + off + r * HD + c * kEl, ok);
        cp_async16(vs + r * HD + swz(r, c) * kEl, vc + off + r * HD + c * kEl, ok);
      }
    }
  };

  float o[HD / 8][4];
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  // e4m3: K's scale joins the softmax scale, V's multiplies the normalised output.
  const float k_scale = FP8 ? a.kv_scales[0] : 1.0f, v_scale = FP8 ? a.kv_scales[1] : 1.0f;
  const float scale_log2 = a.scale * k_scale * 1.4426950408889634f;

#pragma unroll
  for (int i = 0; i < kStg - 1; ++i) {
    if (i < my_tiles) load_tile(i, i);
    cp_async_commit();
  }
  for (int i = 0; i < my_tiles; ++i) {
    if (i + kStg - 1 < my_tiles) load_tile(i + kStg - 1, (i + kStg - 1) % kStg);
    cp_async_commit();
    cp_async_wait<kStg - 1>();
    __syncwarp();
    const T* ks = wbuf + (i % kStg) * 2 * kTile * HD;
    const T* vs = ks + kTile * HD;
    float sc[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    if constexpr (FP8) {
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        const int r = nt * 8 + lane / 4;
#pragma unroll
        for (int h = 0; h < HD / 64; ++h) {
          const uint4 w = *reinterpret_cast<const uint4*>(ks + r * HD + fp8_swz<HD>(r, lane % 4 + 4 * h) * 16);
          const uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
          for (int j = 0; j < 4; ++j)
            mma_16816<true>(sc[nt], qa[4 * h + j], e4m3x2_to_f16x2(words[j]), e4m3x2_to_f16x2(words[j] >> 16));
        }
      }
    } else {
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk) {
        uint32_t b[4];
        const int r = lane % 8 + (lane / 16) * 8;
        ldmatrix_x4(b, ks + r * HD + swz(r, kk * 2 + (lane / 8) % 2) * 8);
        mma_16816(sc[0], qa[kk], b[0], b[1]);
        mma_16816(sc[1], qa[kk], b[2], b[3]);
      }
    }
    const int tok0 = start + (warp + kWarps * i) * kTile;
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int tok = tok0 + nt * 8 + (lane % 4) * 2 + (e & 1);
        sc[nt][e] = tok < end ? sc[nt][e] * scale_log2 : -INFINITY;
        mx[e / 2] = fmaxf(mx[e / 2], sc[nt][e]);
      }
    float corr[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
      const float mn = fmaxf(m[h], mx[h]);
      corr[h] = exp2f(m[h] - mn);
      m[h] = mn;
      l[h] *= corr[h];
    }
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        sc[nt][e] = exp2f(sc[nt][e] - m[e / 2]);
        l[e / 2] += sc[nt][e];
      }
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) {
      o[j][0] *= corr[0];
      o[j][1] *= corr[0];
      o[j][2] *= corr[1];
      o[j][3] *= corr[1];
    }
    const uint32_t pa[4] = {pack_mma<FP8>(sc[0][0], sc[0][1]), pack_mma<FP8>(sc[0][2], sc[0][3]),
                            pack_mma<FP8>(sc[1][0], sc[1][1]), pack_mma<FP8>(sc[1][2], sc[1][3])};
    if constexpr (FP8) {
      // Keys 2t, 2t + 1, 2t + 8, 2t + 9, dimensions [n HD / 8, +HD / 8): HD / 32 words each.
      uint32_t vw[4][HD / 32];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int r = 2 * (lane % 4) + (j & 1) + (j / 2) * 8, byte = (lane / 4) * (HD / 8);
        const uint8_t* p = vs + r * HD + fp8_swz<HD>(r, byte / 16) * 16 + byte % 16;
        if constexpr (HD == 128) {
          const uint4 w = *reinterpret_cast<const uint4*>(p);
          vw[j][0] = w.x, vw[j][1] = w.y, vw[j][2] = w.z, vw[j][3] = w.w;
        } else {
          const uint2 w = *reinterpret_cast<const uint2*>(p);
          vw[j][0] = w.x, vw[j][1] = w.y;
        }
      }
#pragma unroll
      for (int w = 0; w < HD / 32; ++w) {
        // (key 2t, key 2t + 1) of bytes 0 and 1, then of bytes 2 and 3; the same for 2t + 8, 2t + 9.
        const uint32_t ab[2] = {__byte_perm(vw[0][w], vw[1][w], 0x5140), __byte_perm(vw[0][w], vw[1][w], 0x7362)};
        const uint32_t cd[2] = {__byte_perm(vw[2][w], vw[3][w], 0x5140), __byte_perm(vw[2][w], vw[3][w], 0x7362)};
#pragma unroll
        for (int e = 0; e < 4; ++e)
          mma_16816<true>(o[4 * w + e], pa, e4m3x2_to_f16x2(ab[e / 2] >> (16 * (e % 2))),
                          e4m3x2_to_f16x2(cd[e / 2] >> (16 * (e % 2))));
      }
    } else {
#pragma unroll
      for (int np = 0; np < HD / 16; ++np) {
        uint32_t b[4];
        const int r = lane % 8 + ((lane / 8) % 2) * 8;
        ldmatrix_x4_trans(b, vs + r * HD + swz(r, np * 2 + lane / 16) * 8);
        mma_16816(o[2 * np], pa, b[0], b[1]);
        mma_16816(o[2 * np + 1], pa, b[2], b[3]);
      }
    }
    __syncwarp();
  }
  cp_async_wait<0>();
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }
  __syncthreads();

  // Merge the warps: [warp][16][HD] partial outputs, row maxima and sums in shared memory.
  float* so = reinterpret_cast<float*>(skv);
  float* sm = so + kWarps * 16 * HD;
  float* sl = sm + kWarps * 16;
  const int r0 = lane / 4;
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) {
    // Output columns (lane % 4) * 2 and + 1 of n-tile j: those dimensions (FP8: see the top).
    const int c0 = FP8 ? (2 * (lane % 4)) * (HD / 8) + j : j * 8 + (lane % 4) * 2;
    const int c1 = FP8 ? c0 + HD / 8 : c0 + 1;
    so[(warp * 16 + r0) * HD + c0] = o[j][0];
    so[(warp * 16 + r0) * HD + c1] = o[j][1];
    so[(warp * 16 + r0 + 8) * HD + c0] = o[j][2];
    so[(warp * 16 + r0 + 8) * HD + c1] = o[j][3];
  }
  if (lane % 4 == 0) {
    sm[warp * 16 + r0] = m[0];
    sm[warp * 16 + r0 + 8] = m[1];
    sl[warp * 16 + r0] = l[0];
    sl[warp * 16 + r0 + 8] = l[1];
  }
  __syncthreads();
  const int c = threadIdx.x;  // one column per thread (blockDim >= HD)
  for (int r = 0; r < rows && c < HD; ++r) {
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm[w * 16 + r]);
    float L = 0.0f, O = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float f = exp2f(sm[w * 16 + r] - M);
      L += sl[w * 16 + r] * f;
      O += so[(w * 16 + r) * HD + c] * f;
    }
    const int head = head0 + r;
    if (whole) {
      static_cast<bf16*>(a.out)[s * a.out_stride + static_cast<int64_t>(head) * HD + c] =
          __float2bfloat16_rn(O / L * v_scale);
    } else {
      // normalised output, then (max, sum)
      float* p = part + (part_index + head * part_stride) * (HD + 2);
      p[c] = O / L * v_scale;
      if (c == 0) {
        p[HD] = M;
        p[HD + 1] = L;
      }
    }
  }
}

// Merge groups of a row with `splits` splits: one per 16 splits (a group's chain of loads), at
// most `most` (AttnArgs::merge_ranges) and kMergeGroups, a power of two.
constexpr int kMergeGroups = 8;
__host__ __device__ int merge_groups(int splits, int most) {
  int g = 1;
  while (g < kMergeGroups && 2 * g <= most && g * 16 < splits) g *= 2;
  return g;
}

// One block per (head, sequence), a thread per output dimension in each of blockDim.x / HD
// thread groups. The row's splits are cut into merge_groups(splits, ...) contiguous ranges (logical
// groups, dealt round-robin to the thread groups); each range is summed in split order, each
// thread computing the splits' weights L_i 2^(M_i - M) itself (the same loads across a warp),
// so a range's loads are independent and in flight together; then the ranges' sums are added
// in range order. The result depends only on the row's partials, not on the block's size or
// the batch (a split plan gives one sequence ~130 splits at batch 1: 8 ranges cut its chain
// of loads 8-fold). The splits' maximum is taken by all threads (exact in any order).
template <int HD, bool PLAN>
__global__ void __launch_bounds__(HD * kMergeGroups) attn_decode_merge_kernel(const AttnArgs a,
                                                                              const float* __restrict__ part,
                                                                              int max_splits) {
  static_assert(HD % 32 == 0, "one warp per 32 output dimensions");
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float warp_max[HD * kMergeGroups / 32];
  __shared__ float range_o[kMergeGroups][HD];
  __shared__ float range_l[kMergeGroups];
  const int head = blockIdx.x, s = blockIdx.y, c = threadIdx.x % HD, g = threadIdx.x / HD;
  const int thread_groups = blockDim.x / HD;
  int splits;
  const float* p;
  int64_t step;  // floats from one split's partials to the next
  if constexpr (PLAN) {
    const int32_t* first = a.plan + 1;
    splits = first[s + 1] - first[s];
    p = part + (static_cast<int64_t>(first[s]) * a.Hq + head) * (HD + 2);
    step = static_cast<int64_t>(a.Hq) * (HD + 2);
  } else {
    splits = num_splits(a.seq_lens[s]);
    p = part + (static_cast<int64_t>(s) * a.Hq + head) * max_splits * (HD + 2);
    step = HD + 2;
  }
  if (splits <= 1) return;
  float M = -INFINITY;
  for (int i = threadIdx.x; i < splits; i += blockDim.x) M = fmaxf(M, p[i * step + HD]);
#pragma unroll
  for (int o = 16; o > 0; o /= 2) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, o));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = M;
  __syncthreads();
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) M = fmaxf(M, warp_max[w]);
  const int ranges = merge_groups(splits, a.merge_ranges), per = (splits + ranges - 1) / ranges;
  for (int r = g; r < ranges; r += thread_groups) {
    const int lo = min(splits, r * per), hi = min(splits, lo + per);
    float L = 0.0f, O = 0.0f;
#pragma unroll 8
    for (int j = lo; j < hi; ++j) {
      const float* pj = p + j * step;
      const float w = pj[HD + 1] * exp2f(pj[HD] - M);
      L += w;
      O += pj[c] * w;
    }
    range_o[r][c] = O;
    if (c == 0) range_l[r] = L;
  }
  __syncthreads();
  if (g != 0) return;
  float L = 0.0f, O = 0.0f;
  for (int r = 0; r < ranges; ++r) {
    L += range_l[r];
    O += range_o[r][c];
  }
  static_cast<bf16*>(a.out)[s * a.out_stride + static_cast<int64_t>(head) * HD + c] = __float2bfloat16_rn(O / L);
}

template <int HD, bool FP8>
cudaError_t launch_decode(const AttnArgs& a, float* part, cudaStream_t stream) {
  const int S = a.seq_end - a.seq_begin, heads = attention_decode_blocks_per_item(a.Hq, a.Hkv);
  constexpr int smem = kSmem<HD, FP8>;
  if (a.plan != nullptr) {
    const cudaError_t attr = raise_smem_limit(attn_decode_kernel<HD, true, FP8>, smem);
    if (attr != cudaSuccess) return attr;
    const dim3 grid(a.plan_max_items, heads, 1);
    const cudaError_t err = launch(attn_decode_kernel<HD, true, FP8>, grid, kWarps * 32, smem, stream, a, part);
    if (err != cudaSuccess) return err;
    // The plan's items are shared by its sequences: ~plan_max_items / S splits each (the thread
    // groups only set the merge's speed, not its result).
    const int groups = merge_groups((a.plan_max_items + S - 1) / S, a.merge_ranges);
    return launch(attn_decode_merge_kernel<HD, true>, dim3(a.Hq, S), HD * groups, 0, stream, a, part, 0);
  }
  const cudaError_t attr = raise_smem_limit(attn_decode_kernel<HD, false, FP8>, smem);
  if (attr != cudaSuccess) return attr;
  const int max_splits = num_splits(a.max_seq_len);
  const dim3 grid(max_splits, heads, S);
  const cudaError_t err = launch(attn_decode_kernel<HD, false, FP8>, grid, kWarps * 32, smem, stream, a, part);
  if (err != cudaSuccess || max_splits == 1) return err;
  return launch(attn_decode_merge_kernel<HD, false>, dim3(a.Hq, S), HD * merge_groups(max_splits, a.merge_ranges), 0, stream, a, part,
                max_splits);
}

template <int HD, bool FP8>
int blocks_per_sm() {
  if (raise_smem_limit(attn_decode_kernel<HD, true, FP8>, kSmem<HD, FP8>) != cudaSuccess) return 0;
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, attn_decode_kernel<HD, true, FP8>, kWarps * 32,
                                                    kSmem<HD, FP8>) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

}  // namespace

size_t attention_decode_workspace(int rows, int Hq, int max_seq_len) {
  return static_cast<size_t>(rows) * Hq * num_splits(max_seq_len) * (kAttnMaxHeadDim + 2) * sizeof(float);
}

size_t attention_decode_plan_workspace(int max_items, int Hq) {
  return static_cast<size_t>(max_items) * Hq * (kAttnMaxHeadDim + 2) * sizeof(float);
}

int attention_decode_blocks_per_sm(int hd, bool kv_fp8) {
  switch (hd) {
    case 128: return kv_fp8 ? blocks_per_sm<128, true>() : blocks_per_sm<128, false>();
    case 64: return kv_fp8 ? blocks_per_sm<64, true>() : blocks_per_sm<64, false>();
    default: return 0;
  }
}

cudaError_t attention_decode(const AttnArgs& a, void* workspace, cudaStream_t stream) {
  const int S = a.seq_end - a.seq_begin;
  if (S <= 0) return cudaSuccess;
  if (a.seq_begin != 0 || a.block_size % kTile != 0 || a.Hq % a.Hkv != 0) return cudaErrorInvalidValue;
  if (a.plan == nullptr && num_splits(a.max_seq_len) == 0) return cudaSuccess;
  if (a.plan != nullptr && a.plan_max_items <= 0) return cudaErrorInvalidValue;
  if (a.kv_fp8 && a.kv_scales == nullptr) return cudaErrorInvalidValue;
  float* part = static_cast<float*>(workspace);
  switch (a.hd * 2 + a.kv_fp8) {
    case 128 * 2: return launch_decode<128, false>(a, part, stream);
    case 128 * 2 + 1: return launch_decode<128, true>(a, part, stream);
    case 64 * 2: return launch_decode<64, false>(a, part, stream);
    case 64 * 2 + 1: return launch_decode<64, true>(a, part, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace rotor::cuda
