// kernels/cuda/moe.cu — MoE experts: align (sort slots by expert, pad each expert to whole
// tiles, one block or for many slots a second launch placing them; for W8A8's decode tiles also
// in one launch with the per-token quantisation of x), gate+up GEMM
// (SiLU·mul), down GEMM, weighted un-permute. The row order inside an expert's tiles does not
// matter: every row is computed alone and the un-permute sums each token's k expert outputs in
// k order, so results are deterministic.
#include <algorithm>
#include <cmath>
#include <cub/block/block_scan.cuh>

#include "kernels/cuda/mma_gemm.cuh"
#include "kernels/cuda/moe.cuh"
#include "kernels/cuda/moe_small.cuh"
#include "kernels/cuda/moe_wgmma.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kAlignThreads = 1024;
constexpr int kAlignPerThread = 4;  // consecutive experts per thread in the tile-offset scan
constexpr int kAlignBatch = 8;      // slots a thread loads before it counts or places them
// Above this many slots one block only counts and lays out the tiles, and blocks of
// kPlaceThreads place kPlaceThreads * kAlignBatch slots each: one SM's scattered 4-byte stores
// of every slot took ~150 us of a 16k-token layer (perf-log 2026-12-06 22:29).
constexpr int kAlignOneBlockSlots = 8192;
constexpr int kPlaceThreads = 256;
static_assert(kAlignThreads * kAlignPerThread >= kMaxExperts, "the offset scan covers every expert");
constexpr int kUnpermuteThreads = 64;
static_assert(kMoeWgmmaRows == 128, "moe_tile_rows' largest tiles are the wgmma tiles");

struct Scratch {
  MoeSorted list;
  bf16* h;  // [padded, I]
  bf16* y;  // [T * topk, H]
};

Scratch carve(ScratchCarver& c, int T, int H, int I, int E, int topk, int bm) {
  const int64_t padded = moe_max_padded_rows(T, topk, E, bm);
  Scratch s{};
  s.list = take_sorted(c, T, topk, E, bm);
  s.h = c.take<bf16>(padded * I);
  s.y = c.take<bf16>(static_cast<size_t>(T) * topk * H);
  return s;
}

// The local expert of slots s0 + k * blockDim.x (k < kAlignBatch), -1 past the slots or outside
// [first, first + E): one batch of independent loads, so a pass over many slots waits for one
// load latency a batch, not a slot.
__device__ __forceinline__ void align_batch(const int32_t* __restrict__ ids, int slots, int first, int E, int s0,
                                            int (&e)[kAlignBatch]) {
#pragma unroll
  for (int k = 0; k < kAlignBatch; ++k) {
    const int s = s0 + k * static_cast<int>(blockDim.x);
    e[k] = s < slots ? ids[s] - first : -1;
    if (e[k] >= E) e[k] = -1;
  }
}

// One block: counts per expert, tile offsets (a block-wide exclusive sum of the counts padded to
// whole tiles), then every slot placed in its expert's range, or (place = false) each expert's
// first row left in out.cursor for moe_place_kernel.
__device__ __forceinline__ void align_block(const int32_t* __restrict__ ids, int slots, int first, int E, int bm,
                                            const MoeSorted& out, bool place = true) {
  extern __shared__ int32_t sh[];
  int32_t* count = sh;           // [E]
  int32_t* offset = sh + E;      // [E + 1]
  int32_t* cursor = sh + 2 * E + 1;  // [E]
  for (int e = threadIdx.x; e < E; e += blockDim.x) count[e] = cursor[e] = 0;
  __syncthreads();
  for (int s0 = threadIdx.x; s0 < slots; s0 += kAlignBatch * blockDim.x) {
    int e[kAlignBatch];
    align_batch(ids, slots, first, E, s0, e);
#pragma unroll
    for (int k = 0; k < kAlignBatch; ++k)
      if (e[k] >= 0) atomicAdd(&count[e[k]], 1);
  }
  __syncthreads();
  using Scan = cub::BlockScan<int32_t, kAlignThreads>;
  __shared__ typename Scan::TempStorage scan;
  int32_t rows[kAlignPerThread];  // experts threadIdx.x * kAlignPerThread + k, padded
#pragma unroll
  for (int k = 0; k < kAlignPerThread; ++k) {
    const int e = threadIdx.x * kAlignPerThread + k;
    rows[k] = e < E ? (count[e] + bm - 1) / bm * bm : 0;
  }
  int32_t total;
  Scan(scan).ExclusiveSum(rows, rows, total);
#pragma unroll
  for (int k = 0; k < kAlignPerThread; ++k) {
    const int e = threadIdx.x * kAlignPerThread + k;
    if (e < E) offset[e] = rows[k];
  }
  if (threadIdx.x == 0) {
    offset[E] = total;
    *out.num_tiles = total / bm;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x)
    for (int t = offset[e] / bm; t < offset[e + 1] / bm; ++t) out.tile_expert[t] = e;
  for (int p = threadIdx.x; p < offset[E]; p += blockDim.x) out.sorted[p] = -1;
  if (!place) {
    for (int e = threadIdx.x; e < E; e += blockDim.x) out.cursor[e] = offset[e];
    return;
  }
  __syncthreads();
  for (int s0 = threadIdx.x; s0 < slots; s0 += kAlignBatch * blockDim.x) {
    int e[kAlignBatch];
    align_batch(ids, slots, first, E, s0, e);
#pragma unroll
    for (int k = 0; k < kAlignBatch; ++k)
      if (e[k] >= 0) out.sorted[offset[e[k]] + atomicAdd(&cursor[e[k]], 1)] = s0 + k * blockDim.x;
  }
}

__global__ void __launch_bounds__(kAlignThreads) moe_align_kernel(const int32_t* __restrict__ ids, int slots,
                                                                  int first, int E, int bm, const MoeSorted out,
                                                                  bool place) {
  pdl_wait();
  pdl_launch_dependents();
  align_block(ids, slots, first, E, bm, out, place);
}

// Places slots [blockIdx.x * kPlaceThreads * kAlignBatch, +kPlaceThreads * kAlignBatch) after
// moe_align_kernel (place = false): ranks within the block's slots of each expert from shared
// atomics, one global atomic an expert a block for where its rows start.
__global__ void __launch_bounds__(kPlaceThreads) moe_place_kernel(const int32_t* __restrict__ ids, int slots,
                                                                  int first, int E, const MoeSorted out) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ int32_t sh[];
  int32_t* count = sh;     // [E]
  int32_t* base = sh + E;  // [E]
  for (int e = threadIdx.x; e < E; e += blockDim.x) count[e] = 0;
  __syncthreads();
  const int s0 = blockIdx.x * kPlaceThreads * kAlignBatch + threadIdx.x;
  int e[kAlignBatch], rank[kAlignBatch];
  align_batch(ids, slots, first, E, s0, e);
#pragma unroll
  for (int k = 0; k < kAlignBatch; ++k) rank[k] = e[k] >= 0 ? atomicAdd(&count[e[k]], 1) : 0;
  __syncthreads();
  for (int x = threadIdx.x; x < E; x += blockDim.x) base[x] = count[x] > 0 ? atomicAdd(&out.cursor[x], count[x]) : 0;
  __syncthreads();
#pragma unroll
  for (int k = 0; k < kAlignBatch; ++k)
    if (e[k] >= 0) out.sorted[base[e[k]] + rank[k]] = s0 + k * kPlaceThreads;
}

// Block 0 aligns (align_block's place); block b > 0 quantises rows (b - 1) * kQuantRowsPerBlock
// + g, one group of kQuantGroup threads each (quant_per_token's block).
constexpr int kQuantGroup = 256;
constexpr int kQuantRowsPerBlock = kAlignThreads / kQuantGroup;
__global__ void __launch_bounds__(kAlignThreads) moe_quant_align_kernel(const bf16* __restrict__ x, int64_t ldx, int T,
                                                                        int H, int8_t* __restrict__ xq,
                                                                        float* __restrict__ xs,
                                                                        const int32_t* __restrict__ ids, int slots,
                                                                        int first, int E, int bm, const MoeSorted out,
                                                                        bool place) {
  pdl_wait();
  pdl_launch_dependents();
  if (blockIdx.x == 0) {
    align_block(ids, slots, first, E, bm, out, place);
    return;
  }
  __shared__ float partial[kAlignThreads / 32];
  const int g = threadIdx.x / kQuantGroup;
  const int64_t t = static_cast<int64_t>(blockIdx.x - 1) * kQuantRowsPerBlock + g;
  const bool live = t < T;
  quant_row_per_token<kQuantGroup>(x + (live ? t : 0) * ldx, H, xq + (live ? t : 0) * H, xs + (live ? t : 0), live,
                                   threadIdx.x % kQuantGroup, partial + g * (kQuantGroup / 32));
}

// out[t] = sum_j w[t, j] * y[t * topk + j] over the slots of local experts, in j order: a block
// per (token, 8 * kUnpermuteThreads columns), 8 columns per thread; the loads of 4 slots are
// issued before their sums.
__global__ void __launch_bounds__(kUnpermuteThreads) moe_unpermute_kernel(const bf16* __restrict__ y,
                                                                          const float* __restrict__ w,
                                                                          const int32_t* __restrict__ ids, int topk,
                                                                          int first, int E, int H,
                                                                          bf16* __restrict__ out, int64_t ldo) {
  constexpr int kBatch = 4;
  pdl_wait();
  pdl_launch_dependents();
  const int64_t t = blockIdx.x;
  const int c = (blockIdx.y * kUnpermuteThreads + threadIdx.x) * 8;
  if (c >= H) return;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int j0 = 0; j0 < topk; j0 += kBatch) {
    bool local[kBatch];
    float wj[kBatch], v[kBatch][8];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int j = j0 + u;
      const int e = j < topk ? ids[t * topk + j] - first : -1;
      local[u] = e >= 0 && e < E;
      wj[u] = local[u] ? w[t * topk + j] : 0.0f;
      if (local[u]) load8(y + (t * topk + j) * H + c, v[u]);
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (!local[u]) continue;
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[i] += wj[u] * v[u][i];
    }
  }
  store8(out + t * ldo + c, acc);
}

// Shared memory of the align block for E experts: counts, offsets, cursors.
size_t align_smem(int E) { return (3 * static_cast<size_t>(E) + 1) * sizeof(int32_t); }

}  // namespace

int moe_tile_rows(int T, int topk, int E) {
  const int64_t slots = static_cast<int64_t>(T) * topk;
  return slots >= int64_t{kMoeWgmmaRows} * E ? kMoeWgmmaRows : slots >= 16LL * E ? 64 : 16;
}

int64_t moe_max_padded_rows(int T, int topk, int E, int bm) {
  const int64_t slots = static_cast<int64_t>(T) * topk;
  return (slots + bm - 1) / bm * bm + static_cast<int64_t>(std::min<int64_t>(E, slots)) * bm;
}

MoeSorted take_sorted(ScratchCarver& c, int T, int topk, int E, int bm) {
  const int64_t padded = moe_max_padded_rows(T, topk, E, bm);
  MoeSorted l{};
  l.sorted = c.take<int32_t>(padded);
  l.tile_expert = c.take<int32_t>(padded / bm);
  l.num_tiles = c.take<int32_t>(1);
  l.cursor = c.take<int32_t>(E);
  return l;
}

namespace {

// The slots of an align that left them unplaced (more than kAlignOneBlockSlots), placed from
// many blocks.
cudaError_t launch_place(const int32_t* ids, int slots, int first, int E, const MoeSorted& out, cudaStream_t stream) {
  constexpr int per_block = kPlaceThreads * kAlignBatch;
  return launch(moe_place_kernel, static_cast<unsigned>((slots + per_block - 1) / per_block), kPlaceThreads,
                2 * static_cast<size_t>(E) * sizeof(int32_t), stream, ids, slots, first, E, out);
}

}  // namespace

cudaError_t moe_align(const int32_t* ids, int slots, int first, int E, int bm, const MoeSorted& out,
                      cudaStream_t stream) {
  if (E > kMaxExperts) return cudaErrorInvalidValue;
  const bool one_block = slots <= kAlignOneBlockSlots;
  const cudaError_t err =
      launch(moe_align_kernel, 1, kAlignThreads, align_smem(E), stream, ids, slots, first, E, bm, out, one_block);
  if (err != cudaSuccess || one_block) return err;
  return launch_place(ids, slots, first, E, out, stream);
}

cudaError_t moe_quant_align(const void* x, int64_t ldx, int T, int H, int8_t* xq, float* xs, const int32_t* ids,
                            int slots, int first, int E, int bm, const MoeSorted& out, cudaStream_t stream) {
  if (E > kMaxExperts || H % 8 != 0 || ldx % 8 != 0) return cudaErrorInvalidValue;
  const bool one_block = slots <= kAlignOneBlockSlots;
  const unsigned blocks = 1 + static_cast<unsigned>((T + kQuantRowsPerBlock - 1) / kQuantRowsPerBlock);
  const cudaError_t err = launch(moe_quant_align_kernel, blocks, kAlignThreads, align_smem(E), stream,
                                 static_cast<const bf16*>(x), ldx, T, H, xq, xs, ids, slots, first, E, bm, out, one_block);
  if (err != cudaSuccess || one_block) return err;
  return launch_place(ids, slots, first, E, out, stream);
}

cudaError_t moe_unpermute(const void* y, const float* topk_weights, const int32_t* ids, int T, int topk, int first,
                          int E, int H, void* out, int64_t ldo, cudaStream_t stream) {
  if (H % 8 != 0) return cudaErrorInvalidValue;
  const dim3 grid(T, (H / 8 + kUnpermuteThreads - 1) / kUnpermuteThreads);
  return launch(moe_unpermute_kernel, grid, kUnpermuteThreads, 0, stream, static_cast<const bf16*>(y), topk_weights, ids, topk,
                first, E, H, static_cast<bf16*>(out), ldo);
}

size_t moe_workspace(int T, int H, int I, int E, int topk) {
  return std::max(largest_scratch([&](ScratchCarver& c, int bm) { carve(c, T, H, I, E, topk, bm); }),
                  moe_small_workspace(T, I, topk, false));
}

bool gate_up_3_stages(int T, int topk, int E, int I, int num_sms) {
  constexpr int kBlocksPerSm4Stages = 5;
  const double touched = E * (1.0 - std::pow(1.0 - 1.0 / E, static_cast<double>(T) * topk));
  return (I + 31) / 32 * touched > static_cast<double>(kBlocksPerSm4Stages) * num_sms;
}

bool gate_up_runs_3_stages(int gate_up_stages, int T, int topk, int E, int I, int num_sms) {
  return gate_up_stages == 3 || (gate_up_stages == 0 && gate_up_3_stages(T, topk, E, I, num_sms));
}

cudaError_t moe_experts(const MoeArgs& a, MoeSmall small, int gate_up_stages, void* workspace, cudaStream_t stream) {
  if (a.T == 0) return cudaSuccess;
  if (a.H % 8 != 0 || a.I % 8 != 0 || a.E > kMaxExperts) return cudaErrorInvalidValue;
  if (moe_small_takes(small, a.T, a.H, a.I, a.topk, false)) return moe_small_experts(a, workspace, stream);
  const int bm = moe_tile_rows(a.T, a.topk, a.E);
  ScratchCarver scratch(workspace);
  const Scratch s = carve(scratch, a.T, a.H, a.I, a.E, a.topk, bm);
  const int slots = a.T * a.topk;
  const unsigned max_tiles = static_cast<unsigned>(moe_max_padded_rows(a.T, a.topk, a.E, bm) / bm);
  cudaError_t err = moe_align(a.topk_ids, slots, a.first, a.E, bm, s.list, stream);
  if (err != cudaSuccess) return err;

  GemmArgs g{};
  g.sorted = s.list.sorted;
  g.tile_expert = s.list.tile_expert;
  g.num_tiles = s.list.num_tiles;
  g.topk = a.topk;
  // gate + up: [rows, H] x [2I, H]^T -> h [rows, I]
  g.A = static_cast<const bf16*>(a.x);
  g.lda = a.ldx;
  g.W = static_cast<const bf16*>(a.w13);
  g.w_expert_stride = 2LL * a.I * a.H;
  g.N = a.I;
  g.K = a.H;
  g.h = s.h;
  if (bm == 16)
    err = gate_up_runs_3_stages(gate_up_stages, a.T, a.topk, a.E, a.I, a.num_sms)
              ? launch_mma_gemm<bf16, 16, 64, 1, 4, 3, GemmMode::GateUp>(g, dim3((a.I + 31) / 32, max_tiles), stream)
              : launch_mma_gemm<bf16, 16, 64, 1, 4, 4, GemmMode::GateUp>(g, dim3((a.I + 31) / 32, max_tiles), stream);
  else if (bm == 64)
    err = launch_mma_gemm<bf16, 64, 128, 2, 4, 3, GemmMode::GateUp>(g, dim3((a.I + 63) / 64, max_tiles), stream);
  else
    err = moe_wgmma_gate_up(g, max_tiles, stream);
  if (err != cudaSuccess) return err;
  // down: h [rows, I] x [H, I]^T -> y [slot, H]
  g.A = s.h;
  g.lda = a.I;
  g.W = static_cast<const bf16*>(a.w2);
  g.w_expert_stride = static_cast<int64_t>(a.H) * a.I;
  g.N = a.H;
  g.K = a.I;
  g.y = s.y;
  // A short K (a tensor-parallel rank's I: 192 on 235B-A22B over 8 ranks) is a few 64-element
  // steps: 64 W rows a block with the 3 stages they fill (as the int8 experts: moe_w8a8.cu).
  if (bm == 16 && a.I <= kShortK)
    err = launch_mma_gemm<bf16, 16, 64, 1, 4, 3, GemmMode::Down>(g, dim3((a.H + 63) / 64, max_tiles), stream);
  else if (bm == 16)
    err = launch_mma_gemm<bf16, 16, 64, 1, 4, 4, GemmMode::Down>(g, dim3((a.H + 63) / 64, max_tiles), stream);
  else if (bm == 64)
    err = launch_mma_gemm<bf16, 64, 128, 2, 4, 3, GemmMode::Down>(g, dim3((a.H + 127) / 128, max_tiles), stream);
  else
    err = moe_wgmma_down(g, max_tiles, stream);
  if (err != cudaSuccess) return err;
  return moe_unpermute(s.y, a.topk_weights, a.topk_ids, a.T, a.topk, a.first, a.E, a.H, a.out, a.ldo, stream);
}

}  // namespace rotor::cuda
