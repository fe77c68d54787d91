// kernels/cuda/attention_decode.cu — flash-decoding over the paged cache. A block of 4 warps
// owns (sequence, KV head, up to 16 query heads of its group, one split); each warp streams
// 16-token KV tiles (cp.async, 3 stages; 4 or 3 of half the bytes for e4m3) through mma with an
// online softmax; the warps, then the splits, are merged in a fixed order. Built for head
// sizes 128 and 64, bf16 or e4m3 cache (FP8); with AttnArgs::early_kv, a block whose tokens
// are all older than this step's issues its first K/V tiles before pdl_wait. The splits are
// the fixed kDecodePartition-token ones (grid: splits x head groups x sequences), or a split
// plan's items read from device memory (PLAN; grid: the plan's bound x head groups).
// With AttnArgs::qk_fused the kernel also does qk_norm_rope's work for its rows (a step of
// decode rows only): a block stages its query heads from the raw qkv row, normed and rotated
// (norm_rope.cuh), and the warp whose tile holds a row's newest token computes that token's k
// and v, writes them into the cache (for later steps) and over its tile's copy in shared memory,
// so every block issues its first tiles before pdl_wait; the bits are those of qk_norm_rope,
// then attention.
//
// bf16 cache: the query heads are the MMA's rows (S = Q K^T, O = P V). e4m3 cache: the keys
// are (S^T = K Q^T, O^T = V^T P^T), so a group of 8 heads fills the MMA's 8 columns where the
// query-rows form pads it to 16 rows: half the MMAs and softmax work per byte, which an e4m3
// tile (half the bytes of a bf16 one) needs. Its tile stays bytes in shared memory and each
// thread reads the codes of its own fragments with 16-byte loads, converting them in
// registers (fp8.cuh). Both products may number their inner dimension in any order, so the
// fragments are chosen to make those loads whole: in S^T, thread (g = lane / 4, t = lane % 4)
// takes head dimensions [16 (t + 4 h), +16) (h < HD / 64) of keys g and g + 8, k-step kk using
// 4 of them (k8_dim below; Q's fragments follow the same numbering); in O^T, it takes
// dimensions [g HD / 8, +HD / 8) of keys 2t, 2t + 1, 2t + 8, 2t + 9, so m-tile J's rows g and
// g + 8 are dimensions g HD / 8 + 2 J and + 1. P^T reaches the B operand by movmatrix. The
// shared tile's 16-byte chunks are swizzled so that both reads are free of bank conflicts at
// head size 128 (fp8_swz).
#include <algorithm>
#include <cfloat>
#include <type_traits>
#include <utility>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fp8.cuh"
#include "kernels/cuda/norm_rope.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

constexpr int kTile = 16;       // tokens per warp step
constexpr int kWarps = 4;
// Tiles in flight per warp: 3 of bf16; of e4m3 (half the bytes) 4 by default (68 KB, 3 blocks an
// SM at head size 128) or 3 (52 KB, 4 blocks an SM), AttnArgs::e4m3_stages.
constexpr int kStagesBf16 = 3;
// One cache element: a bf16, or an e4m3 code (a byte).
template <bool FP8>
using KvElem = std::conditional_t<FP8, uint8_t, bf16>;
template <int HD, bool FP8, int STG>
constexpr int kSmem = 16 * HD * 2 + kWarps * STG * 2 * kTile * HD * static_cast<int>(sizeof(KvElem<FP8>));

__host__ __device__ int num_splits(int len) { return (len + kDecodePartition - 1) / kDecodePartition; }

// An e4m3 tile's chunk c (of HD / 16) of row r: rows r and r + 1 (r even) put chunks 0..3 in
// opposite halves of the 128 bytes, rows r, r + 2, r + 4, r + 6 their chunk pairs in distinct
// quarters (the reads of S^T and of O^T respectively, 8 lanes at a time).
template <int HD>
__device__ __forceinline__ int fp8_swz(int r, int c) {
  return c ^ (((r & 6) ^ ((r & 1) << 2)) & (HD / 16 - 1));
}

// The head dimension behind k-step kk, inner index 2t (and 2t + 1; 2t + 8, 2t + 9 are this + 2,
// + 3) of the e4m3 S^T = K Q^T product, t = lane % 4.
__device__ __forceinline__ int k8_dim(int kk, int t) { return (t + 4 * (kk / 4)) * 16 + 4 * (kk % 4); }

// A decode block's work: its sequence, tokens [start, end), whether that is the whole context,
// and where its partials go: part [S, Hq, gridDim.x, HD + 2] (fixed) or [items, Hq, HD + 2]
// (PLAN), the block's first head at part_index, the next heads part_stride apart.
struct DecodeWork {
  int s, len, start, end;
  bool whole;
  int64_t part_index, part_stride;
};

// This block's work; false where it has none (past the plan's items, or the context). It may
// be read before pdl_wait: the plan and the context lengths are the host's, uploaded before the step.
template <bool PLAN>
__device__ __forceinline__ bool decode_work(const AttnArgs& a, DecodeWork& w) {
  if constexpr (PLAN) {
    const int item = blockIdx.x, S = a.seq_end - a.seq_begin;
    if (item >= a.plan[0]) return false;
    const int32_t* first = a.plan + 1;
    const int32_t* it = a.plan + S + 2 + 2 * item;
    w.s = it[0];
    w.len = a.seq_lens[w.s];
    w.start = it[1];
    w.end = item + 1 < first[w.s + 1] ? it[3] : w.len;
    w.whole = first[w.s + 1] - first[w.s] == 1;
    w.part_index = static_cast<int64_t>(item) * a.Hq;
    w.part_stride = 1;
  } else {
    w.s = blockIdx.z;
    w.len = a.seq_lens[w.s];
    w.start = blockIdx.x * kDecodePartition;
    if (w.start >= w.len) return false;
    w.end = min(w.len, w.start + kDecodePartition);
    w.whole = num_splits(w.len) == 1;
    w.part_index = static_cast<int64_t>(w.s) * a.Hq * gridDim.x + blockIdx.x;
    w.part_stride = gridDim.x;
  }
  return true;
}

// A decode block's start: its work, KV head kvh and first query head g0 of the group; false
// where it has none. It waits for the kernel before first, unless a.early_kv and its tokens end
// before the context's last (waited false). That token is this step's, which the kernel before
// writes; with qk_fused (QK) the block holding it computes it itself after its wait and puts it
// into its shared tile over what the tile's copy read (NewKv), so that block goes early too.
// The work is the host's (the plan, lengths and block tables are uploaded before the step) and
// the older tokens were written by completed kernels, so a block may issue its first K/V tiles
// and then wait, before it reads the query or the cache's scales.
template <bool PLAN, bool QK>
__device__ __forceinline__ bool begin_block(const AttnArgs& a, DecodeWork& w, int& kvh, int& g0, bool& waited) {
  waited = !a.early_kv;
  if (waited) {
    pdl_wait();
    pdl_launch_dependents();
  }
  if (!decode_work<PLAN>(a, w)) return false;
  const int gchunks = (a.Hq / a.Hkv + 15) / 16;
  kvh = blockIdx.y / gchunks;
  g0 = (blockIdx.y % gchunks) * 16;
  if (!QK && !waited && w.end >= w.len) {
    pdl_wait();
    pdl_launch_dependents();
    waited = true;
  }
  return true;
}

// The wait begin_block left to the caller, after its first tiles are issued.
__device__ __forceinline__ void finish_wait(bool waited) {
  if (!waited) {
    pdl_wait();
    pdl_launch_dependents();
  }
}

// The block's query heads [head0, head0 + rows) of its KV head's group into sq [16][HD]
// (swizzled 16-byte chunks; rows from `rows` on zero).
template <int HD>
__device__ __forceinline__ void stage_q(const bf16* q, int rows, bf16* sq) {
  constexpr int kCh = HD / 8;
  for (int i = threadIdx.x; i < 16 * kCh; i += kWarps * 32) {
    const int r = i / kCh, c = i % kCh;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < rows) v = *reinterpret_cast<const uint4*>(q + r * HD + c * 8);
    *reinterpret_cast<uint4*>(sq + r * HD + swz(r, c) * 8) = v;
  }
}

// qk_fused: stage_q's rows from row s's raw qkv: query heads [head0, head0 + rows) normed and
// rotated (norm_rope.cuh) and rounded to bf16, as qk_norm_rope writes q, into sq [16][HD] at
// stage_q's places (rows from `rows` on zero). Warp w takes rows w + kWarps k (k < kRowsPerWarp),
// all its loads issued before the first head's arithmetic.
template <int HD>
__device__ __forceinline__ void stage_q_fused(const AttnArgs& a, int s, int head0, int rows, bf16* sq) {
  constexpr int kPairs = HD / 64, kRowsPerWarp = 16 / kWarps;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const bf16* q = static_cast<const bf16*>(a.q) + s * a.q_stride + static_cast<int64_t>(head0) * HD;
  float lo[kRowsPerWarp][kPairs] = {}, hi[kRowsPerWarp][kPairs] = {};
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) {
    const int r = warp + kWarps * k;
    if (r < rows) load_head_pairs(q + r * HD, HD, lo[k], hi[k]);
  }
  const float* cs = rope_row(a.qk.rope, a.qk.max_pos, HD, a.qk.positions[s]);
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) {
    const int r = warp + kWarps * k;
    if (r < rows) norm_rope_head(lo[k], hi[k], HD, static_cast<const bf16*>(a.qk.q_norm_w), cs, a.qk.eps);
#pragma unroll
    for (int j = 0; j < kPairs; ++j) {
      const int d0 = lane + 32 * j, d1 = HD / 2 + d0;
      sq[r * HD + swz(r, d0 / 8) * 8 + d0 % 8] = __float2bfloat16_rn(lo[k][j]);
      sq[r * HD + swz(r, d1 / 8) * 8 + d1 % 8] = __float2bfloat16_rn(hi[k][j]);
    }
  }
}

// A value of this step's k or v as the cache holds it: e4m3(x / scale), or bf16.
template <bool FP8>
__device__ __forceinline__ KvElem<FP8> cache_value(float x, float scale) {
  if constexpr (FP8)
    return f32_to_e4m3_rn(x / scale);
  else
    return __float2bfloat16_rn(x);
}

// Element d of row r of a shared K or V tile (load_kv_tile's places: bf16 rows in swz's chunk
// order, e4m3 rows in fp8_swz's).
template <int HD, bool FP8>
__device__ __forceinline__ int tile_elem(int r, int d) {
  if constexpr (FP8)
    return r * HD + fp8_swz<HD>(r, d / 16) * 16 + d % 16;
  else
    return r * HD + swz(r, d / 8) * 8 + d % 8;
}

// qk_fused: this step's k (normed and rotated) and v of KV head kvh for row s as the cache holds
// them, in the lanes of the warp whose tiles hold the newest token (load_head_pairs' layout),
// with the tile (that warp's i of WarpTiles) and its row; tile -1 in other warps and blocks, and
// where the row's slot is outside the cache (nothing written: the tile keeps what the cache
// holds, as qk_norm_rope then the attention would read).
template <int HD, bool FP8>
struct NewKv {
  static constexpr int kPairs = HD / 64;
  int tile = -1, row = 0;
  KvElem<FP8> k_lo[kPairs], k_hi[kPairs], v_lo[kPairs], v_hi[kPairs];

  // After pdl_wait, in a block whose tokens end with row s's newest: the owning warp computes
  // k and v from the raw qkv row and writes them into the cache at the row's slot (for the
  // steps after this one; this step's tile gets them from put()). The blocks of the row's
  // other head groups (gridDim.y > Hkv) write the same bytes.
  __device__ __forceinline__ void make(const AttnArgs& a, const DecodeWork& w, int kvh) {
    const int idx = w.len - 1 - w.start, t = idx / kTile;
    if (w.end < w.len || t % kWarps != static_cast<int>(threadIdx.x) / 32) return;
    const int64_t slot = a.qk.slots[w.s];
    if (slot < 0 || slot >= a.qk.num_slots) return;
    tile = t / kWarps;
    row = idx % kTile;
    const bf16* raw = static_cast<const bf16*>(a.q) + w.s * a.q_stride;
    float klo[kPairs], khi[kPairs], vlo[kPairs], vhi[kPairs];
    load_head_pairs(raw + static_cast<int64_t>(a.Hq + kvh) * HD, HD, klo, khi);
    load_head_pairs(raw + static_cast<int64_t>(a.Hq + a.Hkv + kvh) * HD, HD, vlo, vhi);
    norm_rope_head(klo, khi, HD, static_cast<const bf16*>(a.qk.k_norm_w),
                   rope_row(a.qk.rope, a.qk.max_pos, HD, a.qk.positions[w.s]), a.qk.eps);
    float k_scale = 1.0f, v_scale = 1.0f;
    if constexpr (FP8) {
      k_scale = a.kv_scales[0];
      v_scale = a.kv_scales[1];
    }
    const int64_t off = ((slot / a.block_size * a.Hkv + kvh) * a.block_size + slot % a.block_size) * HD;
    KvElem<FP8>* kc = static_cast<KvElem<FP8>*>(a.k_cache) + off;
    KvElem<FP8>* vc = static_cast<KvElem<FP8>*>(a.v_cache) + off;
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int j = 0; j < kPairs; ++j) {
      k_lo[j] = cache_value<FP8>(klo[j], k_scale);
      k_hi[j] = cache_value<FP8>(khi[j], k_scale);
      v_lo[j] = cache_value<FP8>(vlo[j], v_scale);
      v_hi[j] = cache_value<FP8>(vhi[j], v_scale);
      kc[lane + 32 * j] = k_lo[j];
      kc[HD / 2 + lane + 32 * j] = k_hi[j];
      vc[lane + 32 * j] = v_lo[j];
      vc[HD / 2 + lane + 32 * j] = v_hi[j];
    }
  }

  // The warp's tile i, its copy complete (ks: K, vs: V): the newest token's row over what the
  // copy read, before the warp reads the tile.
  __device__ __forceinline__ void put(int i, KvElem<FP8>* ks, KvElem<FP8>* vs) const {
    if (i != tile) return;
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int j = 0; j < kPairs; ++j) {
      const int d0 = lane + 32 * j, d1 = HD / 2 + d0;
      ks[tile_elem<HD, FP8>(row, d0)] = k_lo[j];
      ks[tile_elem<HD, FP8>(row, d1)] = k_hi[j];
      vs[tile_elem<HD, FP8>(row, d0)] = v_lo[j];
      vs[tile_elem<HD, FP8>(row, d1)] = v_hi[j];
    }
    __syncwarp();
  }
};

// Both decode kernels after the wait: the block's `rows` query heads from head0 into sq, from
// the q rows, or (QK) normed and rotated from the raw qkv row, with this step's k and v made
// into new_kv (NewKv::make).
template <int HD, bool QK, bool FP8>
__device__ __forceinline__ void stage_query(const AttnArgs& a, const DecodeWork& w, int kvh, int head0, int rows,
                                            bf16* sq, NewKv<HD, FP8>& new_kv) {
  if constexpr (QK) {
    stage_q_fused<HD>(a, w.s, head0, rows, sq);
    new_kv.make(a, w, kvh);
  } else {
    stage_q<HD>(static_cast<const bf16*>(a.q) + w.s * a.q_stride + static_cast<int64_t>(head0) * HD, rows, sq);
  }
}

// Token `tok`'s cache block (index into its block table) and its row in that block; a
// power-of-two block_size by shift and mask instead of a division.
struct BlockPos {
  int index, offset;
};
__device__ __forceinline__ BlockPos block_pos(int tok, int bs) {
  if ((bs & (bs - 1)) == 0) return {tok >> (__ffs(bs) - 1), tok & (bs - 1)};
  return {tok / bs, tok % bs};
}

// A tile of 16 tokens from `tok0` (K then V, cp.async into a warp's stage `dst`), in cache
// block `block` (a tile never straddles two: block_size is a multiple of kTile): bf16 rows in
// swz's chunk order, e4m3 rows in fp8_swz's.
template <int HD, bool FP8>
__device__ __forceinline__ void load_kv_tile(const AttnArgs& a, int64_t block, int kvh, int tok0, int end,
                                             KvElem<FP8>* dst) {
  using T = KvElem<FP8>;
  constexpr int kEl = 16 / static_cast<int>(sizeof(T)), kRowCh = HD / kEl;
  const int lane = threadIdx.x % 32, bs = a.block_size;
  const int64_t off = ((block * a.Hkv + kvh) * bs + block_pos(tok0, bs).offset) * HD;
  // Lane's chunk j: row lane / kRowCh + j 32 / kRowCh, chunk lane % kRowCh; its source is the
  // lane's first plus j 32 / kRowCh rows, an immediate offset of the copy.
  const int r0 = lane / kRowCh, c = lane % kRowCh;
  const T* kc = static_cast<const T*>(a.k_cache) + off + r0 * HD + c * kEl;
  const T* vc = static_cast<const T*>(a.v_cache) + off + r0 * HD + c * kEl;
  T* vs = dst + kTile * HD;
  [&]<int... J>(std::integer_sequence<int, J...>) {
    (
        [&] {
          constexpr int kRows = J * 32 / kRowCh, kOff = kRows * HD * static_cast<int>(sizeof(T));
          const int r = r0 + kRows;
          const bool ok = tok0 + r < end;
          const int d = r * HD + (FP8 ? fp8_swz<HD>(r, c) : swz(r, c)) * kEl;
          cp_async16_at<kOff>(dst + d, kc, ok);
          cp_async16_at<kOff>(vs + d, vc, ok);
        }(),
        ...);
  }(std::make_integer_sequence<int, kTile * kRowCh / 32>{});
}

// A warp's tiles of its block's tokens: tiles warp, warp + kWarps, ... of kTile tokens from
// w.start, cache blocks looked up in table. The block of the next tile to copy is read one
// iteration ahead (next), so the table's load is in flight while the warp computes instead of
// in front of its copies.
struct WarpTiles {
  int count, start, warp;
  const int32_t* table;
  int next;  // the cache block of the tile issue_tile copies next

  __device__ int tile_start(int i) const { return start + (warp + kWarps * i) * kTile; }
  __device__ int lookup(const AttnArgs& a, int i) const {
    if (i >= count) return 0;
    return table[block_pos(tile_start(i), a.block_size).index];
  }
};

// The warp's tiles, its first kStg - 1 issued into stages 0 .. kStg - 2 of wbuf (one cp.async
// group each, empty past its tiles).
template <int HD, bool FP8, int kStg>
__device__ __forceinline__ WarpTiles issue_first_tiles(const AttnArgs& a, const DecodeWork& w, int kvh,
                                                       KvElem<FP8>* wbuf) {
  WarpTiles t;
  t.warp = threadIdx.x / 32;
  const int num_tiles = (w.end - w.start + kTile - 1) / kTile;
  t.count = num_tiles > t.warp ? (num_tiles - t.warp + kWarps - 1) / kWarps : 0;
  t.start = w.start;
  t.table = a.block_tables + w.s * a.bt_stride;
#pragma unroll
  for (int i = 0; i < kStg - 1; ++i) {
    if (i < t.count) load_kv_tile<HD, FP8>(a, t.lookup(a, i), kvh, t.tile_start(i), w.end, wbuf + i * 2 * kTile * HD);
    cp_async_commit();
  }
  t.next = t.lookup(a, kStg - 1);
  return t;
}

// Iteration i's copy: tile i + kStg - 1 into its stage of wbuf (a cp.async group, empty past
// the warp's tiles), and the block of the tile after it looked up for the next iteration.
template <int HD, bool FP8, int kStg>
__device__ __forceinline__ void issue_tile(const AttnArgs& a, WarpTiles& t, int i, int kvh, int end,
                                           KvElem<FP8>* wbuf) {
  const int n = i + kStg - 1;
  if (n < t.count) {
    const int block = t.next;
    t.next = t.lookup(a, n + 1);
    load_kv_tile<HD, FP8>(a, block, kvh, t.tile_start(n), end, wbuf + (n % kStg) * 2 * kTile * HD);
  }
  cp_async_commit();
}

// The block's end: the warps' partial outputs so [kWarps][16][HD] f32 (rows: query heads,
// columns: dimensions), maxima sm and sums sl [kWarps][16] (log2 units) merged in warp order,
// then written: bf16 into out where the block holds its sequence's whole context, else the
// normalised output and (max, sum) into its partials. One thread per output dimension.
template <int HD>
__device__ __forceinline__ void store_block(const AttnArgs& a, const DecodeWork& w, int head0, int rows,
                                            const float* so, const float* sm, const float* sl, float v_scale,
                                            float* __restrict__ part) {
  const int c = threadIdx.x;  // blockDim >= HD
  for (int r = 0; r < rows && c < HD; ++r) {
    float M = -INFINITY;
#pragma unroll
    for (int wp = 0; wp < kWarps; ++wp) M = fmaxf(M, sm[wp * 16 + r]);
    float L = 0.0f, O = 0.0f;
#pragma unroll
    for (int wp = 0; wp < kWarps; ++wp) {
      const float f = exp2f(sm[wp * 16 + r] - M);
      L += sl[wp * 16 + r] * f;
      O += so[(wp * 16 + r) * HD + c] * f;
    }
    const int head = head0 + r;
    if (w.whole) {
      static_cast<bf16*>(a.out)[w.s * a.out_stride + static_cast<int64_t>(head) * HD + c] =
          __float2bfloat16_rn(O / L * v_scale);
    } else {
      float* p = part + (w.part_index + head * w.part_stride) * (HD + 2);
      p[c] = O / L * v_scale;
      if (c == 0) {
        p[HD] = M;
        p[HD + 1] = L;
      }
    }
  }
}

// bf16 cache: S = Q K^T with the block's (up to) 16 query heads as the MMA's rows, 8 keys a
// column tile; P from S's registers as the A operand of O = P V. QK: AttnArgs::qk_fused.
template <int HD, bool PLAN, bool QK>
__global__ void __launch_bounds__(kWarps * 32) attn_decode_kernel(const AttnArgs a, float* __restrict__ part) {
  constexpr int kStg = kStagesBf16;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);  // [16][HD]
  bf16* skv = sq + 16 * HD;                      // [warp][stage][K|V][kTile][HD]
  DecodeWork w;
  int kvh, g0;
  bool waited;
  if (!begin_block<PLAN, QK>(a, w, kvh, g0, waited)) return;
  const int G = a.Hq / a.Hkv;
  const int rows = min(16, G - g0), head0 = kvh * G + g0;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  bf16* wbuf = skv + warp * kStg * 2 * kTile * HD;
  WarpTiles tiles = issue_first_tiles<HD, false, kStg>(a, w, kvh, wbuf);
  finish_wait(waited);

  [[maybe_unused]] NewKv<HD, false> new_kv;
  stage_query<HD, QK>(a, w, kvh, head0, rows, sq, new_kv);
  __syncthreads();
  uint32_t qa[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    const int r = lane % 16;
    ldmatrix_x4(qa[kk], sq + r * HD + swz(r, kk * 2 + lane / 16) * 8);
  }

  float o[HD / 8][4];
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const float scale_log2 = a.scale * 1.4426950408889634f;

  for (int i = 0; i < tiles.count; ++i) {
    issue_tile<HD, false, kStg>(a, tiles, i, kvh, w.end, wbuf);
    cp_async_wait<kStg - 1>();
    __syncwarp();
    if constexpr (QK) {
      bf16* stage = wbuf + (i % kStg) * 2 * kTile * HD;
      new_kv.put(i, stage, stage + kTile * HD);
    }
    const bf16* ks = wbuf + (i % kStg) * 2 * kTile * HD;
    const bf16* vs = ks + kTile * HD;
    float sc[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      uint32_t b[4];
      const int r = lane % 8 + (lane / 16) * 8;
      ldmatrix_x4(b, ks + r * HD + swz(r, kk * 2 + (lane / 8) % 2) * 8);
      mma_16816(sc[0], qa[kk], b[0], b[1]);
      mma_16816(sc[1], qa[kk], b[2], b[3]);
    }
    const int tok0 = tiles.tile_start(i);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int tok = tok0 + nt * 8 + (lane % 4) * 2 + (e & 1);
        sc[nt][e] = tok < w.end ? sc[nt][e] * scale_log2 : -INFINITY;
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
    const uint32_t pa[4] = {pack_bf16(sc[0][0], sc[0][1]), pack_bf16(sc[0][2], sc[0][3]),
                            pack_bf16(sc[1][0], sc[1][1]), pack_bf16(sc[1][2], sc[1][3])};
#pragma unroll
    for (int np = 0; np < HD / 16; ++np) {
      uint32_t b[4];
      const int r = lane % 8 + ((lane / 8) % 2) * 8;
      ldmatrix_x4_trans(b, vs + r * HD + swz(r, np * 2 + lane / 16) * 8);
      mma_16816(o[2 * np], pa, b[0], b[1]);
      mma_16816(o[2 * np + 1], pa, b[2], b[3]);
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

  // The warps' partials into shared memory: [warp][16][HD] outputs, row maxima and sums.
  float* so = reinterpret_cast<float*>(skv);
  float* sm = so + kWarps * 16 * HD;
  float* sl = sm + kWarps * 16;
  const int r0 = lane / 4;
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) {
    const int c0 = j * 8 + (lane % 4) * 2;
    so[(warp * 16 + r0) * HD + c0] = o[j][0];
    so[(warp * 16 + r0) * HD + c0 + 1] = o[j][1];
    so[(warp * 16 + r0 + 8) * HD + c0] = o[j][2];
    so[(warp * 16 + r0 + 8) * HD + c0 + 1] = o[j][3];
  }
  if (lane % 4 == 0) {
    sm[warp * 16 + r0] = m[0];
    sm[warp * 16 + r0 + 8] = m[1];
    sl[warp * 16 + r0] = l[0];
    sl[warp * 16 + r0 + 8] = l[1];
  }
  __syncthreads();
  store_block<HD>(a, w, head0, rows, so, sm, sl, 1.0f, part);
}

// e4m3 cache, keys on the MMA's rows (see the top): S^T = K Q^T, 16 keys x 8 heads an n-tile
// (NT tiles: a group of up to 8 heads needs one, where the query-rows form padded 8 to 16);
// P^T into the B operand by movmatrix; O^T = V^T P^T, 16 dimensions x 8 heads an m-tile. Half
// the MMAs, exponentials and output rescales of the query-rows form, and half its accumulators.
// QK: AttnArgs::qk_fused.
template <int HD, bool PLAN, int NT, int kStg, bool QK>
__global__ void __launch_bounds__(kWarps * 32) attn_decode_e4m3_kernel(const AttnArgs a, float* __restrict__ part) {
  extern __shared__ __align__(128) uint8_t smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);           // [16][HD]
  uint8_t* skv = reinterpret_cast<uint8_t*>(sq + 16 * HD);  // [warp][stage][K|V][kTile][HD] codes
  DecodeWork w;
  int kvh, g0;
  bool waited;
  if (!begin_block<PLAN, QK>(a, w, kvh, g0, waited)) return;
  const int G = a.Hq / a.Hkv;
  const int rows = min(8 * NT, G - g0), head0 = kvh * G + g0;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  uint8_t* wbuf = skv + warp * kStg * 2 * kTile * HD;
  WarpTiles tiles = issue_first_tiles<HD, true, kStg>(a, w, kvh, wbuf);
  finish_wait(waited);

  [[maybe_unused]] NewKv<HD, true> new_kv;
  stage_query<HD, QK>(a, w, kvh, head0, rows, sq, new_kv);
  __syncthreads();
  // Q^T as the B operand: n-tile nt's column g is head 8 nt + g; k-step kk's inner indices 2t,
  // 2t + 1 are dimensions k8_dim(kk, t) + 0, 1 (word 0), and 2t + 8, 2t + 9 are + 2, 3 (word 1).
  uint32_t qb[NT][HD / 16][2];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    const int d = k8_dim(kk, t);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const int r = g + 8 * nt;
      const uint2 x = *reinterpret_cast<const uint2*>(sq + r * HD + swz(r, d / 8) * 8 + d % 8);
      qb[nt][kk][0] = bf16x2_to_f16x2(x.x);
      qb[nt][kk][1] = bf16x2_to_f16x2(x.y);
    }
  }

  // ot[nt][J]: rows g and g + 8 are dimensions g HD / 8 + 2 J and + 1, columns 2t, 2t + 1
  // heads 8 nt + 2t and + 1. m, l per (nt, head 2t + i); l summed over the lanes at the end.
  float ot[NT][HD / 16][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int j = 0; j < HD / 16; ++j) ot[nt][j][0] = ot[nt][j][1] = ot[nt][j][2] = ot[nt][j][3] = 0.0f;
  float m[NT][2], l[NT][2];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) m[nt][0] = m[nt][1] = -INFINITY, l[nt][0] = l[nt][1] = 0.0f;
  // K's scale joins the softmax scale, V's multiplies the normalised output.
  const float scale_log2 = a.scale * a.kv_scales[0] * 1.4426950408889634f, v_scale = a.kv_scales[1];

  for (int i = 0; i < tiles.count; ++i) {
    issue_tile<HD, true, kStg>(a, tiles, i, kvh, w.end, wbuf);
    cp_async_wait<kStg - 1>();
    __syncwarp();
    if constexpr (QK) {
      uint8_t* stage = wbuf + (i % kStg) * 2 * kTile * HD;
      new_kv.put(i, stage, stage + kTile * HD);
    }
    const uint8_t* ks = wbuf + (i % kStg) * 2 * kTile * HD;
    const uint8_t* vs = ks + kTile * HD;
    // S^T: A rows g, g + 8 are keys g, g + 8; their chunks t + 4h hold k-steps 4h .. 4h + 3.
    float st[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) st[nt][0] = st[nt][1] = st[nt][2] = st[nt][3] = 0.0f;
#pragma unroll
    for (int h = 0; h < HD / 64; ++h) {
      const uint4 k0 = *reinterpret_cast<const uint4*>(ks + g * HD + fp8_swz<HD>(g, t + 4 * h) * 16);
      const uint4 k1 = *reinterpret_cast<const uint4*>(ks + (g + 8) * HD + fp8_swz<HD>(g + 8, t + 4 * h) * 16);
      const uint32_t w0[4] = {k0.x, k0.y, k0.z, k0.w}, w1[4] = {k1.x, k1.y, k1.z, k1.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        uint32_t ka[4];
        e4m3x4_to_f16x4(w0[j], ka[0], ka[2]);
        e4m3x4_to_f16x4(w1[j], ka[1], ka[3]);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) mma_16816<true>(st[nt], ka, qb[nt][4 * h + j][0], qb[nt][4 * h + j][1]);
      }
    }
    // Softmax over the keys (the rows: lanes g = 0..7 and e / 2), per head column.
    const int tok0 = tiles.tile_start(i);
    const bool valid[2] = {tok0 + g < w.end, tok0 + g + 8 < w.end};
    uint32_t pb[NT][2];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      float corr[2];
#pragma unroll
      for (int e = 0; e < 4; ++e) st[nt][e] = valid[e / 2] ? st[nt][e] * scale_log2 : -INFINITY;
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        float mx = fmaxf(st[nt][c], st[nt][2 + c]);
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
        const float mn = fmaxf(m[nt][c], mx);
        corr[c] = exp2f(m[nt][c] - mn);
        m[nt][c] = mn;
        l[nt][c] *= corr[c];
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        st[nt][e] = exp2f(st[nt][e] - m[nt][e % 2]);
        l[nt][e % 2] += st[nt][e];
      }
#pragma unroll
      for (int j = 0; j < HD / 16; ++j) {
        ot[nt][j][0] *= corr[0];
        ot[nt][j][1] *= corr[1];
        ot[nt][j][2] *= corr[0];
        ot[nt][j][3] *= corr[1];
      }
      // (key g | g + 8, heads 2t, 2t + 1) -> (head g, keys 2t, 2t + 1 | 2t + 8, 2t + 9).
      pb[nt][0] = movmatrix_trans(pack_f16(st[nt][0], st[nt][1]));
      pb[nt][1] = movmatrix_trans(pack_f16(st[nt][2], st[nt][3]));
    }
    // V^T: keys 2t, 2t + 1, 2t + 8, 2t + 9 of this lane's dimensions [g HD / 8, +HD / 8).
    uint32_t vw[4][HD / 32];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int r = 2 * t + (j & 1) + (j / 2) * 8, byte = g * (HD / 8);
      const uint8_t* p = vs + r * HD + fp8_swz<HD>(r, byte / 16) * 16 + byte % 16;
      if constexpr (HD == 128) {
        const uint4 x = *reinterpret_cast<const uint4*>(p);
        vw[j][0] = x.x, vw[j][1] = x.y, vw[j][2] = x.z, vw[j][3] = x.w;
      } else {
        const uint2 x = *reinterpret_cast<const uint2*>(p);
        vw[j][0] = x.x, vw[j][1] = x.y;
      }
    }
#pragma unroll
    for (int wd = 0; wd < HD / 32; ++wd) {
      // Dimensions 4 wd + 2 e and + 1 (m-tile J = 2 wd + e): keys (2t, 2t + 1) of each, then (2t + 8, 2t + 9).
      const uint32_t ab[2] = {__byte_perm(vw[0][wd], vw[1][wd], 0x5140), __byte_perm(vw[0][wd], vw[1][wd], 0x7362)};
      const uint32_t cd[2] = {__byte_perm(vw[2][wd], vw[3][wd], 0x5140), __byte_perm(vw[2][wd], vw[3][wd], 0x7362)};
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        uint32_t va[4];
        e4m3x4_to_f16x4(ab[e], va[0], va[1]);
        e4m3x4_to_f16x4(cd[e], va[2], va[3]);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) mma_16816<true>(ot[nt][2 * wd + e], va, pb[nt][0], pb[nt][1]);
      }
    }
    __syncwarp();
  }
  cp_async_wait<0>();
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int c = 0; c < 2; ++c)
#pragma unroll
      for (int o = 4; o < 32; o *= 2) l[nt][c] += __shfl_xor_sync(0xffffffffu, l[nt][c], o);
  __syncthreads();

  // The warps' partials into shared memory: [warp][16][HD] outputs (rows: heads), maxima, sums.
  float* so = reinterpret_cast<float*>(skv);
  float* sm = so + kWarps * 16 * HD;
  float* sl = sm + kWarps * 16;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const int h = warp * 16 + 8 * nt + 2 * t;
#pragma unroll
    for (int j = 0; j < HD / 16; ++j) {
      const int d = g * (HD / 8) + 2 * j;
      so[h * HD + d] = ot[nt][j][0];
      so[(h + 1) * HD + d] = ot[nt][j][1];
      so[h * HD + d + 1] = ot[nt][j][2];
      so[(h + 1) * HD + d + 1] = ot[nt][j][3];
    }
    if (g == 0) {
      sm[h] = m[nt][0];
      sm[h + 1] = m[nt][1];
      sl[h] = l[nt][0];
      sl[h + 1] = l[nt][1];
    }
  }
  __syncthreads();
  store_block<HD>(a, w, head0, rows, so, sm, sl, v_scale, part);
}

// One block per (head, sequence): G groups of HD threads, a thread per output dimension. The
// splits' maximum is taken by all threads at once (a maximum is exact in any order); each
// split's weight L_i 2^(M_i - M) is computed once into shared memory, kMergeChunk splits at a
// time; group g sums the weights and its dimension's outputs of its share of the chunk in split
// order, kBatch loads in flight before their sums, and group 0 adds the groups' sums in
// group order: a fixed order, so the bits never vary. G = 8 where a sequence has ~100 splits
// (a split plan at batch 1-4: one round of loads a thread instead of one per 8 splits), 1 for
// the few splits of larger batches.
constexpr int kMergeChunk = 512;  // splits whose weights are in shared memory at once

template <int HD, bool PLAN, int G>
__global__ void __launch_bounds__(HD * G, G > 1 ? 1 : 8)
    attn_decode_merge_kernel(const AttnArgs a, const float* __restrict__ part, int max_splits) {
  static_assert(HD % 32 == 0, "one warp per 32 output dimensions");
  constexpr int kThreads = HD * G;
  constexpr int kBatch = G > 1 ? 32 : 16;  // a thread's loads in flight
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float weight[kMergeChunk];
  __shared__ float warp_max[kThreads / 32];
  __shared__ float group_o[G][HD];
  __shared__ float group_l[G];
  const int head = blockIdx.x, s = blockIdx.y, tid = threadIdx.x, c = tid % HD, g = tid / HD;
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
  for (int i = tid; i < splits; i += kThreads) M = fmaxf(M, p[i * step + HD]);
#pragma unroll
  for (int o = 16; o > 0; o /= 2) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, o));
  if (tid % 32 == 0) warp_max[tid / 32] = M;
  __syncthreads();
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) M = fmaxf(M, warp_max[w]);
  float L = 0.0f, O = 0.0f;
  for (int i0 = 0; i0 < splits; i0 += kMergeChunk) {
    const int n = min(kMergeChunk, splits - i0);
    __syncthreads();  // the previous chunk's weights are read
    for (int i = tid; i < n; i += kThreads)
      weight[i] = p[(i0 + i) * step + HD + 1] * exp2f(p[(i0 + i) * step + HD] - M);
    __syncthreads();
    const int share = (n + G - 1) / G, lo = min(n, g * share), hi = min(n, lo + share);
    const float* pi = p + static_cast<int64_t>(i0) * step + c;
    for (int j0 = lo; j0 < hi; j0 += kBatch) {
      float v[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) v[u] = j0 + u < hi ? pi[(j0 + u) * step] : 0.0f;
#pragma unroll
      for (int u = 0; u < kBatch; ++u)
        if (j0 + u < hi) {
          L += weight[j0 + u];
          O += v[u] * weight[j0 + u];
        }
    }
  }
  if constexpr (G > 1) {
    group_o[g][c] = O;
    if (c == 0) group_l[g] = L;
    __syncthreads();
    if (g != 0) return;
    for (int k = 1; k < G; ++k) {
      O += group_o[k][c];
      L += group_l[k];
    }
  }
  static_cast<bf16*>(a.out)[s * a.out_stride + static_cast<int64_t>(head) * HD + c] = __float2bfloat16_rn(O / L);
}

// The merge of S sequences' splits, G = 8 where the grid's items average kMergeWideSplits or
// more a sequence (and a.merge_wide).
constexpr int kMergeWideSplits = 32;
template <int HD, bool PLAN>
cudaError_t launch_merge(const AttnArgs& a, const float* part, int S, int64_t splits_per_seq, int max_splits,
                         cudaStream_t stream) {
  if (a.merge_wide && splits_per_seq >= kMergeWideSplits)
    return launch(attn_decode_merge_kernel<HD, PLAN, 8>, dim3(a.Hq, S), HD * 8, 0, stream, a, part, max_splits);
  return launch(attn_decode_merge_kernel<HD, PLAN, 1>, dim3(a.Hq, S), HD, 0, stream, a, part, max_splits);
}

// The decode kernel for a bf16 cache, or for an e4m3 one with NT 8-head column tiles and STG
// stages (STG is the bf16 kernel's kStagesBf16 for a bf16 cache); QK: with QK-norm + RoPE fused
// in (a kernel apart, so that the plain one stays as it was).
template <int HD, bool PLAN, bool FP8, int NT, int STG, bool QK>
constexpr auto decode_kernel() {
  if constexpr (FP8)
    return attn_decode_e4m3_kernel<HD, PLAN, NT, STG, QK>;
  else
    return attn_decode_kernel<HD, PLAN, QK>;
}

template <int HD, bool FP8, int NT, int STG, bool QK>
cudaError_t launch_decode_kernel(const AttnArgs& a, float* part, cudaStream_t stream) {
  const int S = a.seq_end - a.seq_begin, heads = attention_decode_blocks_per_item(a.Hq, a.Hkv);
  constexpr int smem = kSmem<HD, FP8, STG>;
  if (a.plan != nullptr) {
    constexpr auto kernel = decode_kernel<HD, true, FP8, NT, STG, QK>();
    const cudaError_t attr = raise_smem_limit(kernel, smem);
    if (attr != cudaSuccess) return attr;
    const dim3 grid(a.plan_max_items, heads, 1);
    const cudaError_t err = launch(kernel, grid, kWarps * 32, smem, stream, a, part);
    if (err != cudaSuccess) return err;
    return launch_merge<HD, true>(a, part, S, a.plan_max_items / S, 0, stream);
  }
  constexpr auto kernel = decode_kernel<HD, false, FP8, NT, STG, QK>();
  const cudaError_t attr = raise_smem_limit(kernel, smem);
  if (attr != cudaSuccess) return attr;
  const int max_splits = num_splits(a.max_seq_len);
  const dim3 grid(max_splits, heads, S);
  const cudaError_t err = launch(kernel, grid, kWarps * 32, smem, stream, a, part);
  if (err != cudaSuccess || max_splits == 1) return err;
  return launch_merge<HD, false>(a, part, S, max_splits, max_splits, stream);
}

template <int HD, bool FP8, int NT, int STG>
cudaError_t launch_decode(const AttnArgs& a, float* part, cudaStream_t stream) {
  return a.qk_fused ? launch_decode_kernel<HD, FP8, NT, STG, true>(a, part, stream)
                    : launch_decode_kernel<HD, FP8, NT, STG, false>(a, part, stream);
}

// An e4m3 cache's launch: NT column tiles from the group size, STG from the arguments.
template <int HD, int NT>
cudaError_t launch_decode_e4m3(const AttnArgs& a, float* part, cudaStream_t stream) {
  return a.e4m3_stages == 3 ? launch_decode<HD, true, NT, 3>(a, part, stream)
                            : launch_decode<HD, true, NT, 4>(a, part, stream);
}

template <int HD, bool FP8, int NT, int STG, bool QK>
int blocks_per_sm() {
  constexpr auto kernel = decode_kernel<HD, true, FP8, NT, STG, QK>();
  constexpr int smem = kSmem<HD, FP8, STG>;
  if (raise_smem_limit(kernel, smem) != cudaSuccess) return 0;
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kWarps * 32, smem) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

// An e4m3 cache's kernel for a group of `group` query heads: one 8-head column tile up to 8.
template <int HD, int STG, bool QK>
int blocks_per_sm_e4m3(int group) {
  return group <= 8 ? blocks_per_sm<HD, true, 1, STG, QK>() : blocks_per_sm<HD, true, 2, STG, QK>();
}

template <int HD, bool QK>
int blocks_per_sm(bool kv_fp8, int e4m3_stages, int group) {
  if (!kv_fp8) return blocks_per_sm<HD, false, 1, kStagesBf16, QK>();
  return e4m3_stages == 3 ? blocks_per_sm_e4m3<HD, 3, QK>(group) : blocks_per_sm_e4m3<HD, 4, QK>(group);
}

}  // namespace

size_t attention_decode_workspace(int rows, int Hq, int max_seq_len) {
  return static_cast<size_t>(rows) * Hq * num_splits(max_seq_len) * (kAttnMaxHeadDim + 2) * sizeof(float);
}

size_t attention_decode_plan_workspace(int max_items, int Hq) {
  return static_cast<size_t>(max_items) * Hq * (kAttnMaxHeadDim + 2) * sizeof(float);
}

int attention_decode_blocks_per_sm(int hd, bool kv_fp8, int e4m3_stages, int group, bool qk_fused) {
  switch (hd * 2 + qk_fused) {
    case 128 * 2: return blocks_per_sm<128, false>(kv_fp8, e4m3_stages, group);
    case 128 * 2 + 1: return blocks_per_sm<128, true>(kv_fp8, e4m3_stages, group);
    case 64 * 2: return blocks_per_sm<64, false>(kv_fp8, e4m3_stages, group);
    case 64 * 2 + 1: return blocks_per_sm<64, true>(kv_fp8, e4m3_stages, group);
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
  if (a.kv_fp8 && a.e4m3_stages != 3 && a.e4m3_stages != 4) return cudaErrorInvalidValue;
  float* part = static_cast<float*>(workspace);
  const bool one_tile = a.Hq / a.Hkv <= 8;  // an e4m3 block's heads fit one 8-column tile
  switch (a.hd * 4 + a.kv_fp8 * 2 + one_tile) {
    case 128 * 4:
    case 128 * 4 + 1: return launch_decode<128, false, 1, kStagesBf16>(a, part, stream);
    case 128 * 4 + 2: return launch_decode_e4m3<128, 2>(a, part, stream);
    case 128 * 4 + 3: return launch_decode_e4m3<128, 1>(a, part, stream);
    case 64 * 4:
    case 64 * 4 + 1: return launch_decode<64, false, 1, kStagesBf16>(a, part, stream);
    case 64 * 4 + 2: return launch_decode_e4m3<64, 2>(a, part, stream);
    case 64 * 4 + 3: return launch_decode_e4m3<64, 1>(a, part, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace rotor::cuda
