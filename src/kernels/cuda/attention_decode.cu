// kernels/cuda/attention_decode.cu — flash-decoding over the paged cache. A block of 4 warps
// owns (sequence, KV head, up to 16 query heads of its group, one split); each warp streams
// 16-token KV tiles (cp.async, 3 stages) through mma with an online softmax; the warps, then
// the splits, are merged in a fixed order. Built for head sizes 128 and 64. The splits are
// the fixed kDecodePartition-token ones (grid: splits x head groups x sequences), or a split
// plan's items read from device memory (PLAN; grid: the plan's bound x head groups).
#include <cfloat>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

constexpr int kTile = 16;       // tokens per warp step
constexpr int kWarps = 4;
constexpr int kStages = 3;
template <int HD>
constexpr int kSmem = (16 * HD + kWarps * kStages * 2 * kTile * HD) * 2;

__host__ __device__ int num_splits(int len) { return (len + kDecodePartition - 1) / kDecodePartition; }

template <int HD, bool PLAN>
__global__ void __launch_bounds__(kWarps * 32) attn_decode_kernel(const AttnArgs a, float* __restrict__ part) {
  pdl_wait();
  pdl_launch_dependents();
  constexpr int kCh = HD / 8;  // 16-byte chunks per row
  extern __shared__ __align__(128) uint8_t smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);  // [16][HD]
  bf16* skv = sq + 16 * HD;                      // [warp][stage][K|V][kTile][HD]
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
    const int r = lane % 16;
    ldmatrix_x4(qa[kk], sq + r * HD + swz(r, kk * 2 + lane / 16) * 8);
  }

  const int num_tiles = (end - start + kTile - 1) / kTile;
  const int my_tiles = num_tiles > warp ? (num_tiles - warp + kWarps - 1) / kWarps : 0;
  bf16* wbuf = skv + warp * kStages * 2 * kTile * HD;
  const int32_t* table = a.block_tables + s * a.bt_stride;
  const bf16* kc = static_cast<const bf16*>(a.k_cache);
  const bf16* vc = static_cast<const bf16*>(a.v_cache);
  auto load_tile = [&](int i, int stage) {
    const int tok0 = start + (warp + kWarps * i) * kTile;
    const int64_t block = table[tok0 / a.block_size];
    const int64_t off = ((block * a.Hkv + kvh) * a.block_size + tok0 % a.block_size) * HD;
    bf16* ks = wbuf + stage * 2 * kTile * HD;
    bf16* vs = ks + kTile * HD;
#pragma unroll
    for (int j = 0; j < kTile * kCh / 32; ++j) {
      const int idx = lane + 32 * j, r = idx / kCh, c = idx % kCh;
      const bool ok = tok0 + r < end;
      cp_async16(ks + r * HD + swz(r, c) * 8, kc + off + r * HD + c * 8, ok);
      cp_async16(vs + r * HD + swz(r, c) * 8, vc + off + r * HD + c * 8, ok);
    }
  };

  float o[HD / 8][4];
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const float scale_log2 = a.scale * 1.4426950408889634f;

#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) {
    if (i < my_tiles) load_tile(i, i);
    cp_async_commit();
  }
  for (int i = 0; i < my_tiles; ++i) {
    if (i + kStages - 1 < my_tiles) load_tile(i + kStages - 1, (i + kStages - 1) % kStages);
    cp_async_commit();
    cp_async_wait<kStages - 1>();
    __syncwarp();
    const bf16* ks = wbuf + (i % kStages) * 2 * kTile * HD;
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

  // Merge the warps: [warp][16][HD] partial outputs, row maxima and sums in shared memory.
  float* so = reinterpret_cast<float*>(skv);
  float* sm = so + kWarps * 16 * HD;
  float* sl = sm + kWarps * 16;
  const int r0 = lane / 4;
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) {
    const int c = j * 8 + (lane % 4) * 2;
    so[(warp * 16 + r0) * HD + c] = o[j][0];
    so[(warp * 16 + r0) * HD + c + 1] = o[j][1];
    so[(warp * 16 + r0 + 8) * HD + c] = o[j][2];
    so[(warp * 16 + r0 + 8) * HD + c + 1] = o[j][3];
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
      static_cast<bf16*>(a.out)[s * a.out_stride + static_cast<int64_t>(head) * HD + c] = __float2bfloat16_rn(O / L);
    } else {
      // normalised output, then (max, sum)
      float* p = part + (part_index + head * part_stride) * (HD + 2);
      p[c] = O / L;
      if (c == 0) {
        p[HD] = M;
        p[HD + 1] = L;
      }
    }
  }
}

template <int HD, bool PLAN>
__global__ void __launch_bounds__(HD) attn_decode_merge_kernel(const AttnArgs a, const float* __restrict__ part,
                                                               int max_splits) {
  pdl_wait();
  pdl_launch_dependents();
  const int head = blockIdx.x, s = blockIdx.y, c = threadIdx.x;
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
  for (int i = 0; i < splits; ++i) M = fmaxf(M, p[i * step + HD]);
  float L = 0.0f, O = 0.0f;
  for (int i = 0; i < splits; ++i) {
    const float w = p[i * step + HD + 1] * exp2f(p[i * step + HD] - M);
    L += w;
    O += p[i * step + c] * w;
  }
  static_cast<bf16*>(a.out)[s * a.out_stride + static_cast<int64_t>(head) * HD + c] = __float2bfloat16_rn(O / L);
}

template <int HD>
cudaError_t launch_decode(const AttnArgs& a, float* part, cudaStream_t stream) {
  const int S = a.seq_end - a.seq_begin, heads = attention_decode_blocks_per_item(a.Hq, a.Hkv);
  if (a.plan != nullptr) {
    const cudaError_t attr = raise_smem_limit(attn_decode_kernel<HD, true>, kSmem<HD>);
    if (attr != cudaSuccess) return attr;
    const dim3 grid(a.plan_max_items, heads, 1);
    const cudaError_t err = launch(attn_decode_kernel<HD, true>, grid, kWarps * 32, kSmem<HD>, stream, a, part);
    if (err != cudaSuccess) return err;
    return launch(attn_decode_merge_kernel<HD, true>, dim3(a.Hq, S), HD, 0, stream, a, part, 0);
  }
  const cudaError_t attr = raise_smem_limit(attn_decode_kernel<HD, false>, kSmem<HD>);
  if (attr != cudaSuccess) return attr;
  const int max_splits = num_splits(a.max_seq_len);
  const dim3 grid(max_splits, heads, S);
  const cudaError_t err = launch(attn_decode_kernel<HD, false>, grid, kWarps * 32, kSmem<HD>, stream, a, part);
  if (err != cudaSuccess || max_splits == 1) return err;
  return launch(attn_decode_merge_kernel<HD, false>, dim3(a.Hq, S), HD, 0, stream, a, part, max_splits);
}

template <int HD>
int blocks_per_sm() {
  if (raise_smem_limit(attn_decode_kernel<HD, true>, kSmem<HD>) != cudaSuccess) return 0;
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, attn_decode_kernel<HD, true>, kWarps * 32, kSmem<HD>) !=
      cudaSuccess) {
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

int attention_decode_blocks_per_sm(int hd) {
  switch (hd) {
    case 128: return blocks_per_sm<128>();
    case 64: return blocks_per_sm<64>();
    default: return 0;
  }
}

cudaError_t attention_decode(const AttnArgs& a, void* workspace, cudaStream_t stream) {
  const int S = a.seq_end - a.seq_begin;
  if (S <= 0) return cudaSuccess;
  if (a.seq_begin != 0 || a.block_size % kTile != 0 || a.Hq % a.Hkv != 0) return cudaErrorInvalidValue;
  if (a.plan == nullptr && num_splits(a.max_seq_len) == 0) return cudaSuccess;
  if (a.plan != nullptr && a.plan_max_items <= 0) return cudaErrorInvalidValue;
  float* part = static_cast<float*>(workspace);
  switch (a.hd) {
    case 128: return launch_decode<128>(a, part, stream);
    case 64: return launch_decode<64>(a, part, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace rotor::cuda
