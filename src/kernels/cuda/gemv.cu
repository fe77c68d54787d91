// kernels/cuda/gemv.cu — the GEMV kernels of gemv.cuh: out [M, N] = x [M, K] . W [N, K]^T for
// M <= 4, W bf16 (f32 sums, bias, bf16 or f32 out) or int8 (exact i32 sums by dp4a, the
// W8A8 epilogue). A block is 8 warps; `split` warps share kRows W rows, each taking every
// split-th run of 32 16-byte chunks of K, so a lane holds kRows x kUnroll chunks of W (and
// M x kUnroll of x) in flight per step. Lane sums are reduced by a butterfly of shuffles, then
// the split warps' sums are added in warp order. The router's kernel (gemv_route) then counts
// its blocks on a ticket: the last block to store its logits routes every row (route_topk.cuh).
// Early weights (GemvArgs::early): a weight is never written during a forward, so a block may
// load its first step of W into registers, and prefetch its second into L2, before pdl_wait,
// while the kernel before it still runs. A static W8A8 weight's GEMV may take bf16 x and
// quantise it itself (gemv_w8a8_static: every block quantises x into shared memory after the
// wait, with quant_static's arithmetic), one launch instead of quant_static's and the GEMV's.
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemv.cuh"
#include "kernels/cuda/mma_gemm_i8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/route_topk.cuh"
#include "kernels/cuda/split_k_cluster.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256, kWarps = kThreads / 32;
constexpr int kRows = 4;    // W rows per warp
constexpr int kUnroll = 2;  // 16-byte chunks of K per lane per step

struct GemvArgs {
  const uint4* x;      // [M, ldx chunks] 16-byte chunks
  int64_t ldx;         // x's row stride in chunks
  const uint4* w;      // [N, k_chunks]
  int M, N, k_chunks;  // k_chunks: K in 16-byte chunks
  int split;           // warps per kRows W rows (a power of two <= kWarps)
  bool early;          // W's first step loaded (its second prefetched) before pdl_wait
  const bf16* xf;      // gemv_w8a8_static: x [M, K] bf16 (row stride ldxf elements) to quantise
  int64_t ldxf;
  W8A8Round qround;    // ... with this scale and offset (quant_static_value)
  DenseOut dense;      // bf16 weights' output
  W8A8Out w8;          // int8 weights' output
  GemvTopK topk;       // the router's top-k (gemv_route)
};

// Row m, column n of an int8 weight's output through the W8A8 epilogue.
__device__ __forceinline__ void store_w8a8(const W8A8Out& o, int m, int n, int acc) {
  const float v = w8a8_value(o, m, n, acc);
  const int64_t i = m * o.ldo + n;
  if (o.out_f32)
    static_cast<float*>(o.out)[i] = v;
  else
    static_cast<bf16*>(o.out)[i] = __float2bfloat16_rn(v);
}

// gemv_route's end, in every thread of every block once its logits are stored: the block that
// takes the last ticket routes the M rows (a warp a row; M <= kWarps) from every block's logits.
// atomicInc wraps the ticket back to 0 as the last block takes it, ready for the next launch
// (whose blocks pass pdl_wait only once this grid is complete).
__device__ __forceinline__ void route_if_last(const GemvArgs& a) {
  __shared__ bool last;
  __threadfence();  // this block's logits before its ticket
  __syncthreads();
  if (threadIdx.x == 0) last = atomicInc(a.topk.ticket, gridDim.x - 1) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();  // the other blocks' logits, fenced before their tickets, after ours
  const int m = threadIdx.x / 32;
  if (m >= a.M) return;
  const int64_t out = static_cast<int64_t>(m) * a.topk.k;
  route_token(static_cast<const float*>(a.dense.out) + m * a.dense.ldo, a.N, a.topk.k, a.topk.renormalize,
              a.topk.weights + out, a.topk.ids + out);
}

// A lane's W chunks of one step (chunks c0 + u * stride of rows n0 .. n0 + kRows - 1; zeros
// past K or N).
__device__ __forceinline__ void load_w(const GemvArgs& a, int n0, int c0, int stride, uint4 (&w)[kUnroll][kRows]) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int c = c0 + u * stride;
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      w[u][r] = c < a.k_chunks && n0 + r < a.N ? __ldcs(a.w + static_cast<int64_t>(n0 + r) * a.k_chunks + c)
                                               : make_uint4(0, 0, 0, 0);
  }
}

// A warp's W of the step whose first chunk is c0 (lane 0's) into L2 only: a bulk prefetch of
// up to 32 chunks per row and u, from lane 0.
__device__ __forceinline__ void prefetch_w(const GemvArgs& a, int n0, int c0, int stride) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int c = c0 + u * stride, n = min(32, a.k_chunks - c);
    if (n <= 0) return;
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      if (n0 + r < a.N) prefetch_bulk_l2(a.w + static_cast<int64_t>(n0 + r) * a.k_chunks + c, n * 16);
  }
}

// gemv_w8a8_static's x: rows [0, M) of the bf16 x quantised into sx [M, k_chunks] (16-byte
// chunks of int8), 8 values a thread at a time.
__device__ __forceinline__ void quantise_x(const GemvArgs& a, uint4* sx) {
  const int vecs = a.k_chunks * 2;  // 8-value groups per row
  for (int i = threadIdx.x; i < a.M * vecs; i += kThreads) {
    const int m = i / vecs, c = i % vecs;
    float v[8];
    load8(a.xf + m * a.ldxf + c * 8, v);
    reinterpret_cast<uint2*>(sx)[i] = quant8_static(v, a.qround);
  }
  __syncthreads();
}

// MT: x rows the kernel is built for (M <= MT; rows from M on load nothing and store nothing).
// Up to 2 rows, 4 blocks an SM (64 registers: left alone, ptxas gives the int8 one-row kernel
// 32 and spills). kRoute: bf16 f32-out logits followed by their top-k (gemv_route), with no
// register cap: the routing would spill under 64, and a router's grid (16-32 blocks for 128
// experts) is far from filling the GPU whatever the cap. kQuantX (int8 weights only): x is a.xf,
// quantised by every block into dynamic shared memory; 3 blocks an SM up to 2 rows (the
// quantisation's doubles spill under 64 registers).
template <int MT, bool kRoute, bool kQuantX>
constexpr int kMinBlocks = kRoute || MT > 2 ? 1 : kQuantX ? 3 : 4;
template <typename T, int MT, bool kRoute = false, bool kQuantX = false>
__global__ void __launch_bounds__(kThreads, kMinBlocks<MT, kRoute, kQuantX>) gemv_kernel(const GemvArgs a) {
  constexpr bool kInt8 = std::is_same_v<T, int8_t>;
  static_assert(kInt8 || !kQuantX, "only int8 weights take bf16 x to quantise");
  using Acc = std::conditional_t<kInt8, int, float>;
  __shared__ Acc part[kWarps][kRows][MT];
  extern __shared__ uint4 sx[];  // kQuantX: x quantised, [M, k_chunks]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = kWarps / a.split, group = warp / a.split, slice = warp % a.split;
  const int n0 = (blockIdx.x * groups + group) * kRows;
  const int stride = 32 * a.split;  // chunks between a lane's consecutive chunks
  const int c_first = slice * 32 + lane, step = stride * kUnroll;
  uint4 w[kUnroll][kRows];
  if (a.early) {
    load_w(a, n0, c_first, stride, w);
    if (lane == 0) prefetch_w(a, n0, c_first + step, stride);
  }
  pdl_wait();
  pdl_launch_dependents();
  if constexpr (kQuantX) quantise_x(a, sx);
  const uint4* xp = kQuantX ? sx : a.x;
  const int64_t ldx = kQuantX ? a.k_chunks : a.ldx;

  Acc acc[kRows][MT];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) acc[r][m] = Acc(0);

  for (int c0 = c_first; c0 < a.k_chunks; c0 += step) {
    if (!a.early || c0 != c_first) load_w(a, n0, c0, stride, w);
    uint4 x[kUnroll][MT];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * stride;
      const bool in_k = c < a.k_chunks;
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        if constexpr (kQuantX)
          x[u][m] = in_k && m < a.M ? xp[m * ldx + c] : make_uint4(0, 0, 0, 0);
        else
          x[u][m] = in_k && m < a.M ? __ldg(xp + m * ldx + c) : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int m = 0; m < MT; ++m) dot_chunk(acc[r][m], w[u][r], x[u][m]);
  }

#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      const Acc v = warp_sum(acc[r][m]);
      if (lane == 0) part[warp][r][m] = v;
    }
  __syncthreads();
  for (int i = threadIdx.x; i < groups * kRows * MT; i += kThreads) {
    const int g = i / (kRows * MT), r = i / MT % kRows, m = i % MT;
    const int n = (blockIdx.x * groups + g) * kRows + r;
    if (n >= a.N || m >= a.M) continue;
    Acc v = Acc(0);
    for (int s = 0; s < a.split; ++s) v += part[g * a.split + s][r][m];
    if constexpr (kInt8)
      store_w8a8(a.w8, m, n, v);
    else
      a.dense.store(m, n, v);
  }
  if constexpr (kRoute) route_if_last(a);
}

// Warps per kRows W rows: the most (up to kWarps) that still give each lane kUnroll chunks.
int split_for(int k_chunks) {
  int s = 1;
  while (s < kWarps && 32 * kUnroll * s * 2 <= k_chunks) s *= 2;
  return s;
}

// The arguments both weight types share: x [M, ldx_chunks] and W [N, k_chunks] in 16-byte chunks.
GemvArgs chunked(const void* x, int64_t ldx_chunks, const void* w, int M, int N, int k_chunks, bool early) {
  GemvArgs a{};
  a.early = early;
  a.x = static_cast<const uint4*>(x);
  a.ldx = ldx_chunks;
  a.w = static_cast<const uint4*>(w);
  a.M = M;
  a.N = N;
  a.k_chunks = k_chunks;
  a.split = split_for(k_chunks);
  return a;
}

template <typename T, bool kRoute = false, bool kQuantX = false>
cudaError_t launch_gemv(const GemvArgs& a, cudaStream_t stream) {
  const int rows_per_block = kWarps / a.split * kRows;
  const dim3 grid(static_cast<unsigned>((a.N + rows_per_block - 1) / rows_per_block));
  const size_t smem = kQuantX ? static_cast<size_t>(a.M) * a.k_chunks * 16 : 0;
  if (a.M <= 1) return launch(gemv_kernel<T, 1, kRoute, kQuantX>, grid, kThreads, smem, stream, a);
  if (a.M <= 2) return launch(gemv_kernel<T, 2, kRoute, kQuantX>, grid, kThreads, smem, stream, a);
  static_assert(kGemvRows <= 2, "gemv_route builds the kernels of up to 2 rows only");
  if constexpr (kRoute)
    return cudaErrorInvalidValue;
  else
    return launch(gemv_kernel<T, 4, false, kQuantX>, grid, kThreads, smem, stream, a);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool gemv_fits(const DenseGemm& g) {
  return g.M >= 1 && g.M <= kGemvRows && g.K % 8 == 0 && g.ldx % 8 == 0 && aligned16(g.x) && aligned16(g.w);
}

bool gemv_fits(const W8A8Gemm& g) {
  return g.M >= 1 && g.M <= kGemvRowsW8A8 && g.K % 16 == 0 && aligned16(g.x) && aligned16(g.w);
}

cudaError_t gemv_bf16(const DenseGemm& g, bool early, cudaStream_t stream) {
  if (g.N == 0) return cudaSuccess;
  if (!gemv_fits(g)) return cudaErrorInvalidValue;
  GemvArgs a = chunked(g.x, g.ldx / 8, g.w, g.M, g.N, g.K / 8, early);
  a.dense = DenseOut{g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M, g.N};
  return launch_gemv<bf16>(a, stream);
}

cudaError_t gemv_route(const DenseGemm& g, const GemvTopK& topk, bool early, cudaStream_t stream) {
  if (!gemv_fits(g) || !g.out_f32 || g.N < 1 || g.N > kMaxRouteExperts || topk.k < 1 || topk.k > g.N ||
      topk.ticket == nullptr)
    return cudaErrorInvalidValue;
  GemvArgs a = chunked(g.x, g.ldx / 8, g.w, g.M, g.N, g.K / 8, early);
  a.dense = DenseOut{g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M, g.N};
  a.topk = topk;
  return launch_gemv<bf16, true>(a, stream);
}

cudaError_t gemv_w8a8(const W8A8Gemm& g, bool early, cudaStream_t stream) {
  if (g.N == 0) return cudaSuccess;
  if (!gemv_fits(g)) return cudaErrorInvalidValue;
  GemvArgs a = chunked(g.x, g.K / 16, g.w, g.M, g.N, g.K / 16, early);
  a.w8 = g.out;
  return launch_gemv<int8_t>(a, stream);
}

bool gemv_static_fits(const W8A8Gemm& g, const void* x, int64_t ldx) {
  return g.M >= 1 && g.M <= kGemvRowsW8A8 && g.K % 16 == 0 && aligned16(g.w) && aligned16(x) && ldx % 8 == 0 &&
         static_cast<int64_t>(g.M) * g.K <= kGemvStaticXBytes;
}

cudaError_t gemv_w8a8_static(const W8A8Gemm& g, const void* x, int64_t ldx, float scale, float offset, bool early,
                             cudaStream_t stream) {
  if (g.N == 0) return cudaSuccess;
  if (!gemv_static_fits(g, x, ldx)) return cudaErrorInvalidValue;
  GemvArgs a = chunked(nullptr, 0, g.w, g.M, g.N, g.K / 16, early);
  a.xf = static_cast<const bf16*>(x);
  a.ldxf = ldx;
  a.qround = w8a8_round_params(scale, offset);
  a.w8 = g.out;
  return launch_gemv<int8_t, false, true>(a, stream);
}

}  // namespace rotor::cuda
