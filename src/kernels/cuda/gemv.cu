// kernels/cuda/gemv.cu — the GEMV kernels of gemv.cuh: out [M, N] = x [M, K] . W [N, K]^T for
// M <= 4, W bf16 (f32 sums, bias, bf16 or f32 out) or int8 (exact i32 sums by dp4a, the
// W8A8 epilogue). A block is 8 warps; `split` warps share kRows W rows, each taking every
// split-th run of 32 16-byte chunks of K, so a lane holds kRows x kUnroll chunks of W (and
// M x kUnroll of x) in flight per step. Lane sums are reduced by a butterfly of shuffles, then
// the split warps' sums are added in warp order. The router's kernel (gemv_route) then counts
// its blocks on a ticket: the last block to store its logits routes every row (route_topk.cuh).
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemv.cuh"
#include "kernels/cuda/mma_gemm_i8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/route_topk.cuh"
#include "kernels/cuda/split_k_cluster.cuh"

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

// MT: x rows the kernel is built for (M <= MT; rows from M on load nothing and store nothing).
// Up to 2 rows, 4 blocks an SM (64 registers: left alone, ptxas gives the int8 one-row kernel
// 32 and spills). kRoute: bf16 f32-out logits followed by their top-k (gemv_route), with no
// register cap: the routing would spill under 64, and a router's grid (16-32 blocks for 128
// experts) is far from filling the GPU whatever the cap.
template <typename T, int MT, bool kRoute = false>
__global__ void __launch_bounds__(kThreads, !kRoute && MT <= 2 ? 4 : 1) gemv_kernel(const GemvArgs a) {
  constexpr bool kInt8 = std::is_same_v<T, int8_t>;
  using Acc = std::conditional_t<kInt8, int, float>;
  __shared__ Acc part[kWarps][kRows][MT];
  pdl_wait();
  pdl_launch_dependents();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = kWarps / a.split, group = warp / a.split, slice = warp % a.split;
  const int n0 = (blockIdx.x * groups + group) * kRows;
  const int stride = 32 * a.split;  // chunks between a lane's consecutive chunks

  Acc acc[kRows][MT];
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) acc[r][m] = Acc(0);

  for (int c0 = slice * 32 + lane; c0 < a.k_chunks; c0 += stride * kUnroll) {
    uint4 w[kUnroll][kRows], x[kUnroll][MT];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * stride;
      const bool in_k = c < a.k_chunks;
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        w[u][r] = in_k && n0 + r < a.N ? __ldcs(a.w + static_cast<int64_t>(n0 + r) * a.k_chunks + c)
                                       : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int m = 0; m < MT; ++m) x[u][m] = in_k && m < a.M ? __ldg(a.x + m * a.ldx + c) : make_uint4(0, 0, 0, 0);
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
GemvArgs chunked(const void* x, int64_t ldx_chunks, const void* w, int M, int N, int k_chunks) {
  GemvArgs a{};
  a.x = static_cast<const uint4*>(x);
  a.ldx = ldx_chunks;
  a.w = static_cast<const uint4*>(w);
  a.M = M;
  a.N = N;
  a.k_chunks = k_chunks;
  a.split = split_for(k_chunks);
  return a;
}

template <typename T, bool kRoute = false>
cudaError_t launch_gemv(const GemvArgs& a, cudaStream_t stream) {
  const int rows_per_block = kWarps / a.split * kRows;
  const dim3 grid(static_cast<unsigned>((a.N + rows_per_block - 1) / rows_per_block));
  if (a.M <= 1) return launch(gemv_kernel<T, 1, kRoute>, grid, kThreads, 0, stream, a);
  if (a.M <= 2) return launch(gemv_kernel<T, 2, kRoute>, grid, kThreads, 0, stream, a);
  static_assert(kGemvRows <= 2, "gemv_route builds the kernels of up to 2 rows only");
  if constexpr (kRoute)
    return cudaErrorInvalidValue;
  else
    return launch(gemv_kernel<T, 4>, grid, kThreads, 0, stream, a);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool gemv_fits(const DenseGemm& g) {
  return g.M >= 1 && g.M <= kGemvRows && g.K % 8 == 0 && g.ldx % 8 == 0 && aligned16(g.x) && aligned16(g.w);
}

bool gemv_fits(const W8A8Gemm& g) {
  return g.M >= 1 && g.M <= kGemvRowsW8A8 && g.K % 16 == 0 && aligned16(g.x) && aligned16(g.w);
}

cudaError_t gemv_bf16(const DenseGemm& g, cudaStream_t stream) {
  if (g.N == 0) return cudaSuccess;
  if (!gemv_fits(g)) return cudaErrorInvalidValue;
  GemvArgs a = chunked(g.x, g.ldx / 8, g.w, g.M, g.N, g.K / 8);
  a.dense = DenseOut{g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M, g.N};
  return launch_gemv<bf16>(a, stream);
}

cudaError_t gemv_route(const DenseGemm& g, const GemvTopK& topk, cudaStream_t stream) {
  if (!gemv_fits(g) || !g.out_f32 || g.N < 1 || g.N > kMaxRouteExperts || topk.k < 1 || topk.k > g.N ||
      topk.ticket == nullptr)
    return cudaErrorInvalidValue;
  GemvArgs a = chunked(g.x, g.ldx / 8, g.w, g.M, g.N, g.K / 8);
  a.dense = DenseOut{g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M, g.N};
  a.topk = topk;
  return launch_gemv<bf16, true>(a, stream);
}

cudaError_t gemv_w8a8(const W8A8Gemm& g, cudaStream_t stream) {
  if (g.N == 0) return cudaSuccess;
  if (!gemv_fits(g)) return cudaErrorInvalidValue;
  GemvArgs a = chunked(g.x, g.K / 16, g.w, g.M, g.N, g.K / 16);
  a.w8 = g.out;
  return launch_gemv<int8_t>(a, stream);
}

}  // namespace rotor::cuda
