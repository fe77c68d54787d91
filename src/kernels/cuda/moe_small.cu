// kernels/cuda/moe_small.cu — the small-batch experts (moe_small.cuh): gate+up by slot, then
// down by token with the weighted sum over the token's experts, one template over the weight
// type (bf16: f32 sums on CUDA cores; int8: exact i32 sums by dp4a and the W8A8 epilogues of
// w8a8_math.cuh). Weights stream straight from global memory into registers in 16-byte chunks,
// several per lane in flight; every sum runs in a fixed order, so the bits never vary.
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/moe_small.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kGuWarps = 8;      // gate+up: columns per block, one warp each
constexpr int kGuChunks = 8;     // gate+up: chunks of each of the two rows in flight per lane
constexpr int kDownWarps = 4;    // down: warps per block
constexpr int kDownExperts = 8;  // down: experts whose chunks are in flight together (top-8: all)
constexpr int kDownChunks = 3;   // down: chunks of each row per lane and pass
constexpr size_t kMaxSmem = 200 * 1024;

template <typename W>
constexpr int kPerChunk = 16 / static_cast<int>(sizeof(W));  // weight elements per 16-byte chunk

struct SmallArgs {
  const bf16* x;               // [T, H], row stride ldx
  int64_t ldx;
  const float* topk_weights;   // [T, topk]
  const int32_t* ids;          // [T, topk] router ids (expert id - first)
  const void* w13;             // [E, 2I, H] bf16 or int8
  const float* w13_scale;      // W8A8: [E, 2I]
  const void* w2;              // [E, H, I] bf16 or int8
  const float* w2_scale;       // W8A8: [E, H]
  void* h;                     // [T * topk, I]: bf16 (bf16 experts) or f32 (W8A8)
  bf16* out;                   // [T, H], row stride ldo
  int64_t ldo;
  int T, H, I, E, topk, first;
  bool early;                  // down: its inputs other than h loaded before pdl_wait
};

__device__ __forceinline__ uint4 ldg16(const void* p) { return __ldg(static_cast<const uint4*>(p)); }

// The sum over G adjacent lanes (an xor butterfly: every lane ends with the same bits).
template <int G, typename Acc>
__device__ __forceinline__ Acc group_sum(Acc v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// x_t [H] quantised into xq (int8, 16-byte chunks) by the gate+up block as quant_per_token
// does (row_scale_per_token, then every value rint(x / scale)). Returns the scale; xq is
// complete after the caller's barrier.
__device__ float stage_quantised_x(const bf16* __restrict__ xr, int H, uint4* xq) {
  __shared__ float partial[kGuWarps];
  const float scale = row_scale_per_token<kGuWarps * 32>(xr, H, true, threadIdx.x, partial);
  const W8A8Round r = w8a8_round_params(scale, 0.0f);
  for (int c = threadIdx.x; c < H / 16; c += kGuWarps * 32) {
    float lo[8], hi[8];
    load8(xr + c * 16, lo);
    load8(xr + c * 16 + 8, hi);
    const uint2 a = quant8_dynamic(lo, r), b = quant8_dynamic(hi, r);
    xq[c] = make_uint4(a.x, a.y, b.x, b.y);
  }
  return scale;
}

// Gate+up of one slot s = t * topk + j: block (column block, slot); warp w owns column
// i = blockIdx.x * kGuWarps + w and computes h[s, i] = silu(x_t . gate_i) * (x_t . up_i) of
// the slot's expert. Lane l reads chunks l, l + 32, ... of both rows (kGuChunks of each in
// flight; the first ones are issued before x is staged) against x_t in shared memory (bf16:
// copied; W8A8: quantised per token here), sums them in order, and the warp adds the lanes.
// bf16 rounds h as the tiled GateUp epilogue does; W8A8 dequantises as it does (f32 h).
template <typename W>
__global__ void __launch_bounds__(kGuWarps * 32) moe_small_gate_up_kernel(const SmallArgs a) {
  constexpr bool kInt8 = std::is_same_v<W, int8_t>;
  using Acc = std::conditional_t<kInt8, int, float>;
  extern __shared__ uint4 x_smem[];  // [H / kPerChunk] x_t (W8A8: quantised)
  pdl_wait();
  pdl_launch_dependents();
  const int s = blockIdx.y, t = s / a.topk;
  const int e = a.ids[s] - a.first;
  if (e < 0 || e >= a.E) return;  // not this rank's expert: the down kernel skips the slot
  const int lane = threadIdx.x % 32, i = blockIdx.x * kGuWarps + threadIdx.x / 32;
  const bool live = i < a.I;
  const int chunks = a.H / kPerChunk<W>;  // of each row
  const W* gate = static_cast<const W*>(a.w13) + (static_cast<int64_t>(e) * 2 * a.I + (live ? i : 0)) * a.H;
  const W* up = gate + static_cast<int64_t>(a.I) * a.H;
  uint4 wg[kGuChunks], wu[kGuChunks];
  auto load = [&](int c0) {
#pragma unroll
    for (int k = 0; k < kGuChunks; ++k) {
      const int c = c0 + lane + 32 * k;
      if (live && c < chunks) {
        wg[k] = ldg16(gate + static_cast<int64_t>(c) * kPerChunk<W>);
        wu[k] = ldg16(up + static_cast<int64_t>(c) * kPerChunk<W>);
      }
    }
  };
  load(0);
  [[maybe_unused]] float w_gate = 0.0f, w_up = 0.0f;  // W8A8: the two rows' weight scales
  if constexpr (kInt8) {
    if (live) {
      const float* ws = a.w13_scale + static_cast<int64_t>(e) * 2 * a.I;
      w_gate = ws[i];
      w_up = ws[a.I + i];
    }
  }
  const bf16* xr = a.x + t * a.ldx;
  [[maybe_unused]] float x_scale = 0.0f;
  if constexpr (kInt8) {
    x_scale = stage_quantised_x(xr, a.H, x_smem);
  } else {
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) x_smem[c] = *reinterpret_cast<const uint4*>(xr + c * 8);
  }
  __syncthreads();
  if (!live) return;
  Acc g = 0, u = 0;
  for (int c0 = 0;;) {
#pragma unroll
    for (int k = 0; k < kGuChunks; ++k) {
      const int c = c0 + lane + 32 * k;
      if (c < chunks) {
        const uint4 xv = x_smem[c];
        dot_chunk(g, wg[k], xv);
        dot_chunk(u, wu[k], xv);
      }
    }
    c0 += 32 * kGuChunks;
    if (c0 >= chunks) break;
    load(c0);
  }
  g = warp_sum(g);
  u = warp_sum(u);
  if (lane != 0) return;
  const int64_t hi = static_cast<int64_t>(s) * a.I + i;
  if constexpr (kInt8) {
    static_cast<float*>(a.h)[hi] = silu_mul(dequant_dynamic(g, w_gate, x_scale), dequant_dynamic(u, w_up, x_scale));
  } else {
    static_cast<bf16*>(a.h)[hi] = __float2bfloat16_rn(g / (1.0f + expf(-g)) * u);
  }
}

// Shared memory of the down kernel: the token's topk rows of h (bf16, or requantised int8) as
// 16-byte chunks, then (W8A8) their topk f32 scales.
template <typename W>
size_t down_smem(int I, int topk) {
  return static_cast<size_t>(topk) * I * sizeof(W) + (std::is_same_v<W, int8_t> ? topk * sizeof(float) : 0);
}

// Down of one token with the weighted sum: block (row block, token); G adjacent lanes own row n
// of down (32 / G rows per warp), lane g of them chunks g, g + G, ... of it. The token's rows
// of h are staged in shared memory (W8A8: each requantised as moe_requant_kernel does: its max
// |h|, per_token_scale, rint(h / scale)); the chunks of the first experts, their weight scales
// and the token's router weights are issued before. For j = 0 .. topk - 1 in order (ids outside
// this rank's experts skipped): y_j = down_e[n] . h[s_j] summed in order per lane, then over the
// G lanes; rounded to bf16 as the tiled Down epilogue does (W8A8: dequantised first);
// out[t, n] = sum_j w_j * y_j as moe_unpermute does.
// Early (SmallArgs::early): everything but h is an input of the op, written before the gate+up
// kernel passed its pdl_wait, so this kernel, launched once every gate+up block has, reads it
// (through L2: ids and router weights by ld.global.cg) before its own pdl_wait, and its weights
// stream while gate+up still runs; only h waits.
template <typename W, int G>
__global__ void __launch_bounds__(kDownWarps * 32) moe_small_down_kernel(const SmallArgs a) {
  constexpr bool kInt8 = std::is_same_v<W, int8_t>;
  constexpr int kRows = 32 / G, kBN = kDownWarps * kRows;
  using Acc = std::conditional_t<kInt8, int, float>;
  extern __shared__ uint4 h_smem[];  // [topk, I / kPerChunk] then (W8A8) [topk] f32 scales
  if (!a.early) {
    pdl_wait();
    pdl_launch_dependents();
  }
  const int t = blockIdx.y, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int n = blockIdx.x * kBN + warp * kRows + lane / G, g = lane % G;
  const bool live = n < a.H;
  const int cpr = a.I / kPerChunk<W>;  // chunks per row
  const int32_t* ids = a.ids + static_cast<int64_t>(t) * a.topk;
  const int64_t slot0 = static_cast<int64_t>(t) * a.topk;
  auto expert = [&](int j) {  // the local expert of slot j, or -1
    const int e = j < a.topk ? __ldcg(ids + j) - a.first : -1;
    return e >= 0 && e < a.E ? e : -1;
  };
  uint4 wv[kDownExperts][kDownChunks];
  auto load = [&](int j0, int pass) {
#pragma unroll
    for (int jj = 0; jj < kDownExperts; ++jj) {
      const int e = expert(j0 + jj);
      if (e < 0 || !live) continue;
      const W* row = static_cast<const W*>(a.w2) + (static_cast<int64_t>(e) * a.H + n) * a.I;
#pragma unroll
      for (int cc = 0; cc < kDownChunks; ++cc) {
        const int c = g + G * (pass * kDownChunks + cc);
        if (c < cpr) wv[jj][cc] = ldg16(row + static_cast<int64_t>(c) * kPerChunk<W>);
      }
    }
  };
  // The epilogue's inputs of experts j0 .. j0 + kDownExperts - 1: row n's weight scale (W8A8)
  // and the router weight.
  float w_scale[kDownExperts], w_router[kDownExperts];
  auto epilogue_inputs = [&](int j0) {
#pragma unroll
    for (int jj = 0; jj < kDownExperts; ++jj) {
      const int e = expert(j0 + jj);
      w_scale[jj] = kInt8 && e >= 0 && live ? __ldg(a.w2_scale + static_cast<int64_t>(e) * a.H + n) : 0.0f;
      w_router[jj] = e >= 0 ? __ldcg(a.topk_weights + slot0 + j0 + jj) : 0.0f;
    }
  };
  load(0, 0);
  epilogue_inputs(0);
  if (a.early) {
    pdl_wait();
    pdl_launch_dependents();
  }
  [[maybe_unused]] float* scales = reinterpret_cast<float*>(reinterpret_cast<char*>(h_smem) + a.topk * a.I * sizeof(W));
  if constexpr (kInt8) {
    for (int j = warp; j < a.topk; j += kDownWarps) {
      if (expert(j) < 0) continue;
      const float* hr = static_cast<const float*>(a.h) + (slot0 + j) * a.I;
      float amax = 0.0f;
      for (int c = lane * 4; c < a.I; c += 32 * 4) {
        const float4 v = *reinterpret_cast<const float4*>(hr + c);
        amax = fmaxf(fmaxf(fmaxf(amax, fabsf(v.x)), fmaxf(fabsf(v.y), fabsf(v.z))), fabsf(v.w));
      }
      const float scale = per_token_scale(warp_max(amax));
      if (lane == 0) scales[j] = scale;
      const W8A8Round r = w8a8_round_params(scale, 0.0f);
      uint32_t* q = reinterpret_cast<uint32_t*>(reinterpret_cast<int8_t*>(h_smem) + static_cast<int64_t>(j) * a.I);
      for (int c = lane * 4; c < a.I; c += 32 * 4) {
        const float4 v = *reinterpret_cast<const float4*>(hr + c);
        q[c / 4] = pack_i8x4(quant_dynamic_value(v.x, r), quant_dynamic_value(v.y, r), quant_dynamic_value(v.z, r),
                             quant_dynamic_value(v.w, r));
      }
    }
  } else {
    const bf16* h = static_cast<const bf16*>(a.h);
    for (int k = threadIdx.x; k < a.topk * cpr; k += blockDim.x) {
      const int j = k / cpr;
      if (expert(j) >= 0) h_smem[k] = *reinterpret_cast<const uint4*>(h + (slot0 + j) * a.I + (k % cpr) * 8);
    }
  }
  __syncthreads();
  const int passes = (cpr + G * kDownChunks - 1) / (G * kDownChunks);
  float acc = 0.0f;
  for (int j0 = 0; j0 < a.topk; j0 += kDownExperts) {
    if (j0 > 0) epilogue_inputs(j0);
    Acc part[kDownExperts];
#pragma unroll
    for (int jj = 0; jj < kDownExperts; ++jj) part[jj] = Acc(0);
    for (int pass = 0; pass < passes; ++pass) {
      if (j0 > 0 || pass > 0) load(j0, pass);
#pragma unroll
      for (int jj = 0; jj < kDownExperts; ++jj) {
        if (expert(j0 + jj) < 0 || !live) continue;
        const uint4* hj = h_smem + static_cast<int64_t>(j0 + jj) * cpr;
#pragma unroll
        for (int cc = 0; cc < kDownChunks; ++cc) {
          const int c = g + G * (pass * kDownChunks + cc);
          if (c < cpr) dot_chunk(part[jj], wv[jj][cc], hj[c]);
        }
      }
    }
#pragma unroll
    for (int jj = 0; jj < kDownExperts; ++jj) {
      if (expert(j0 + jj) < 0) continue;  // the same for the whole warp
      const Acc sum = group_sum<G>(part[jj]);
      float y;
      if constexpr (kInt8)
        y = __bfloat162float(__float2bfloat16_rn(dequant_dynamic(sum, w_scale[jj], scales[j0 + jj])));
      else
        y = __bfloat162float(__float2bfloat16_rn(sum));
      acc += w_router[jj] * y;
    }
  }
  if (live && g == 0) a.out[t * a.ldo + n] = __float2bfloat16_rn(acc);
}

template <typename W, int G>
cudaError_t launch_down(const SmallArgs& a, cudaStream_t stream) {
  constexpr int kBN = kDownWarps * (32 / G);
  auto kernel = moe_small_down_kernel<W, G>;
  const size_t smem = down_smem<W>(a.I, a.topk);
  const cudaError_t err = raise_smem_limit(kernel, static_cast<int>(smem));
  if (err != cudaSuccess) return err;
  return launch(kernel, dim3((a.H + kBN - 1) / kBN, a.T), kDownWarps * 32, smem, stream, a);
}

// The two kernels; G (lanes per down row) is the least power of two from 2 to 32 that covers
// a row in kDownChunks chunks per lane.
template <typename W>
cudaError_t run(const SmallArgs& a, cudaStream_t stream) {
  auto gate_up = moe_small_gate_up_kernel<W>;
  const size_t gu_smem = static_cast<size_t>(a.H) * sizeof(W);
  cudaError_t err = raise_smem_limit(gate_up, static_cast<int>(gu_smem));
  if (err != cudaSuccess) return err;
  err = launch(gate_up, dim3((a.I + kGuWarps - 1) / kGuWarps, a.T * a.topk), kGuWarps * 32, gu_smem, stream, a);
  if (err != cudaSuccess) return err;
  const int cpr = a.I / kPerChunk<W>;
  int G = 2;
  while (G < 32 && G * kDownChunks < cpr) G *= 2;
  switch (G) {
    case 2: return launch_down<W, 2>(a, stream);
    case 4: return launch_down<W, 4>(a, stream);
    case 8: return launch_down<W, 8>(a, stream);
    case 16: return launch_down<W, 16>(a, stream);
    default: return launch_down<W, 32>(a, stream);
  }
}

}  // namespace

bool moe_small_takes(MoeSmall mode, int T, int H, int I, int topk, bool int8) {
  const size_t es = int8 ? 1 : 2;
  const int64_t slots = static_cast<int64_t>(T) * topk;
  if (mode == MoeSmall::Off || T < 1 || slots > kMoeSmallSlots) return false;
  if (mode == MoeSmall::Measured && (slots > kMoeSmallFastSlots || I > kShortK)) return false;
  return static_cast<size_t>(H) * es <= kMaxSmem &&
         (int8 ? down_smem<int8_t>(I, topk) : down_smem<bf16>(I, topk)) <= kMaxSmem;
}

size_t moe_small_workspace(int T, int I, int topk, bool int8) {
  ScratchCarver sizing(nullptr);
  sizing.take<char>(static_cast<size_t>(T) * topk * I * (int8 ? sizeof(float) : sizeof(bf16)));
  return sizing.bytes();
}

// The arguments both expert types share (MoeArgs, MoeW8A8Args), h carved from the workspace.
template <typename A, typename H>
SmallArgs small_args(const A& a, void* workspace) {
  SmallArgs s{};
  s.x = static_cast<const bf16*>(a.x);
  s.ldx = a.ldx;
  s.topk_weights = a.topk_weights;
  s.ids = a.topk_ids;
  s.w13 = a.w13;
  s.w2 = a.w2;
  s.h = ScratchCarver(workspace).take<H>(static_cast<size_t>(a.T) * a.topk * a.I);
  s.out = static_cast<bf16*>(a.out);
  s.ldo = a.ldo;
  s.T = a.T;
  s.H = a.H;
  s.I = a.I;
  s.E = a.E;
  s.topk = a.topk;
  s.first = a.first;
  s.early = a.early;
  return s;
}

cudaError_t moe_small_experts(const MoeArgs& a, void* workspace, cudaStream_t stream) {
  return run<bf16>(small_args<MoeArgs, bf16>(a, workspace), stream);
}

cudaError_t moe_small_w8a8_experts(const MoeW8A8Args& a, void* workspace, cudaStream_t stream) {
  SmallArgs s = small_args<MoeW8A8Args, float>(a, workspace);
  s.w13_scale = a.w13_scale;
  s.w2_scale = a.w2_scale;
  return run<int8_t>(s, stream);
}

}  // namespace rotor::cuda
