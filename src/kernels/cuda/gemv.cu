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
// The RMSNorm before a GEMV may be folded into it likewise (gemv_norm_*: every block normalises
// the rows into shared memory after the wait, with rms_norm_row.cuh's arithmetic, block 0 also
// storing the updated residual stream and the normalised rows), one launch instead of two.
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemv.cuh"
#include "kernels/cuda/mma_gemm_i8.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rms_norm_row.cuh"
#include "kernels/cuda/route_topk.cuh"
#include "kernels/cuda/split_k_cluster.cuh"
#include "kernels/cuda/w8a8_math.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256, kWarps = kThreads / 32;
constexpr int kRows = 4;    // W rows per warp
constexpr int kUnroll = 2;  // 16-byte chunks of K per lane per step
static_assert(kThreads == kNormThreads, "a folded norm's rows are rms_norm's: one block of kNormThreads each");

// Where a block's x comes from: global memory (GemvArgs::x), or the block's shared memory, where
// it makes x after pdl_wait: bf16 x quantised (gemv_w8a8_static), or a norm's rows (gemv_norm_*).
enum class XFrom { Global, Quantised, Norm };

struct GemvArgs {
  const uint4* x;      // [M, ldx chunks] 16-byte chunks
  int64_t ldx;         // x's row stride in chunks
  const uint4* w;      // [N, k_chunks]
  int M, N, k_chunks;  // k_chunks: K in 16-byte chunks
  int split;           // warps per kRows W rows (a power of two <= kWarps)
  bool early;          // W's first step loaded (its second prefetched) before pdl_wait
  const bf16* xf;      // gemv_w8a8_static: x [M, K] bf16 (row stride ldxf elements) to quantise
  int64_t ldxf;
  double qscale, qoffset;  // ... with this scale and offset (quant_static_value); and gemv_norm_w8a8's
  GemvNorm norm;       // gemv_norm_*: the norm that makes x
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
    reinterpret_cast<uint2*>(sx)[i] = quant8_static(v, a.qscale, a.qoffset);
  }
  __syncthreads();
}

// gemv_norm_*'s x: rows [0, M) of a.norm's RMSNorm into sx, computed as rms_norm computes them
// (kInt8: rms_norm_quant, with a.qscale and a.qoffset; rms_norm_row.cuh's steps in rms_norm's
// order): bf16 rows [M, K] (kInt8: int8 rows [M, K], then one bf16 row [K]). Between its two
// passes over a row a thread keeps its vectors (bf16 values) in shared memory, in the x row itself
// (kInt8: the bf16 row), at places no other thread touches; rms_norm keeps them in registers.
// Block 0 also stores the residual stream's sums (h_out) and the normalised rows (x_out).
template <bool kInt8>
__device__ __forceinline__ void norm_x(const GemvArgs& a, uint4* sx) {
  const GemvNorm& n = a.norm;
  const int K = a.k_chunks * (kInt8 ? 16 : 8), vecs = K / 8;
  const bool first = blockIdx.x == 0;
  const bf16* w = static_cast<const bf16*>(n.w);
  const bf16* bias = static_cast<const bf16*>(n.bias);
  for (int m = 0; m < a.M; ++m) {
    const bf16* h = static_cast<const bf16*>(n.h_in) + m * n.ld_h_in;
    const bf16* p = n.partial ? static_cast<const bf16*>(n.partial) + m * n.ld_partial : nullptr;
    bf16* h_out = first && p ? static_cast<bf16*>(n.h_out) + m * n.ld_h_out : nullptr;
    bf16* x_out = first && n.x_out ? static_cast<bf16*>(n.x_out) + m * n.ld_x_out : nullptr;
    bf16* row = kInt8 ? reinterpret_cast<bf16*>(reinterpret_cast<int8_t*>(sx) + a.M * K)
                      : reinterpret_cast<bf16*>(sx) + m * K;
    std::conditional_t<kInt8, double, float> ss = 0;
    for (int i = threadIdx.x; i < vecs; i += kThreads) {
      float v[8];
      // rms_norm's x is the partial and its residual the stream; without a partial, x is the stream.
      norm_load8(p ? p + i * 8 : h + i * 8, p ? h + i * 8 : nullptr, h_out ? h_out + i * 8 : nullptr, v);
      norm_square_add(v, ss);
      store8(row + i * 8, v);  // exact: bf16 values
    }
    const float inv = norm_inv_rms(ss, K, n.eps);  // the block's barriers
    for (int i = threadIdx.x; i < vecs; i += kThreads) {
      float v[8], y[8];
      load8(row + i * 8, v);
      norm_apply8<kInt8>(v, inv, w + i * 8, bias ? bias + i * 8 : nullptr, y);
      if constexpr (kInt8) {
        reinterpret_cast<uint2*>(sx)[m * vecs + i] = quant8_static(y, a.qscale, a.qoffset);
      } else {
        store8(row + i * 8, y);
        if (x_out) store8(x_out + i * 8, y);
      }
    }
  }
  __syncthreads();
}

// MT: x rows the kernel is built for (M <= MT; rows from M on load nothing and store nothing).
// Up to 2 rows, 4 blocks an SM (64 registers: left alone, ptxas gives the int8 one-row kernel
// 32 and spills). kRoute: bf16 f32-out logits followed by their top-k (gemv_route), with no
// register cap: the routing would spill under 64, and a router's grid (16-32 blocks for 128
// experts) is far from filling the GPU whatever the cap. kX: where x comes from (XFrom); made in
// dynamic shared memory by every block: quantised from a.xf (int8 weights only), or a.norm's
// rows; then 3 blocks an SM up to 2 rows (under 64 registers the quantisation's doubles spill,
// and the norm's kernels spill W in their main loop).
template <int MT, bool kRoute, XFrom kX>
constexpr int kMinBlocks = kRoute || MT > 2 ? 1 : kX != XFrom::Global ? 3 : 4;
template <typename T, int MT, bool kRoute = false, XFrom kX = XFrom::Global>
__global__ void __launch_bounds__(kThreads, kMinBlocks<MT, kRoute, kX>) gemv_kernel(const GemvArgs a) {
  constexpr bool kInt8 = std::is_same_v<T, int8_t>;
  static_assert(kInt8 || kX != XFrom::Quantised, "only int8 weights take bf16 x to quantise");
  constexpr bool kSharedX = kX != XFrom::Global;
  using Acc = std::conditional_t<kInt8, int, float>;
  __shared__ Acc part[kWarps][kRows][MT];
  extern __shared__ uint4 sx[];  // kSharedX: x, [M, k_chunks] (x_smem_bytes)
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
  if constexpr (kX == XFrom::Quantised) quantise_x(a, sx);
  if constexpr (kX == XFrom::Norm) norm_x<kInt8>(a, sx);
  const uint4* xp = kSharedX ? sx : a.x;
  const int64_t ldx = kSharedX ? a.k_chunks : a.ldx;

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
        if constexpr (kSharedX)
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

// A block's dynamic shared memory: x's rows [M, k_chunks] where the block makes them, and a
// folded norm's bf16 row of sums [K] with int8 weights (norm_x).
size_t x_smem_bytes(XFrom x, bool int8, int M, int k_chunks) {
  if (x == XFrom::Global) return 0;
  const size_t rows = static_cast<size_t>(M) * k_chunks * 16;
  return x == XFrom::Norm && int8 ? rows + static_cast<size_t>(k_chunks) * 32 : rows;
}

template <typename T, bool kRoute = false, XFrom kX = XFrom::Global>
cudaError_t launch_gemv(const GemvArgs& a, cudaStream_t stream) {
  const int rows_per_block = kWarps / a.split * kRows;
  const dim3 grid(static_cast<unsigned>((a.N + rows_per_block - 1) / rows_per_block));
  const size_t smem = x_smem_bytes(kX, std::is_same_v<T, int8_t>, a.M, a.k_chunks);
  if (a.M <= 1) return launch(gemv_kernel<T, 1, kRoute, kX>, grid, kThreads, smem, stream, a);
  if (a.M <= 2) return launch(gemv_kernel<T, 2, kRoute, kX>, grid, kThreads, smem, stream, a);
  static_assert(kGemvRows <= 2, "gemv_route builds the kernels of up to 2 rows only");
  if constexpr (kRoute || (kX == XFrom::Norm && !std::is_same_v<T, int8_t>))
    return cudaErrorInvalidValue;  // the callers' fits keep bf16 weights within kGemvRows
  else
    return launch(gemv_kernel<T, 4, false, kX>, grid, kThreads, smem, stream, a);
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
  a.qscale = scale;
  a.qoffset = offset;
  a.w8 = g.out;
  return launch_gemv<int8_t, false, XFrom::Quantised>(a, stream);
}

namespace {

// A folded norm's rows and vectors: 16-byte aligned, strides multiples of 8; h_out with the
// partial only; K within rms_norm's limit.
bool norm_fits(const GemvNorm& n, int K) {
  const auto rows = [](const void* p, int64_t ld) { return aligned16(p) && ld % 8 == 0; };
  return n.h_in != nullptr && n.w != nullptr && (n.partial == nullptr) == (n.h_out == nullptr) && K % 8 == 0 &&
         K <= kNormMaxH && rows(n.h_in, n.ld_h_in) && rows(n.partial, n.ld_partial) && rows(n.h_out, n.ld_h_out) &&
         rows(n.x_out, n.ld_x_out) && aligned16(n.w) && aligned16(n.bias);
}

GemvArgs norm_args(const void* w, int M, int N, int k_chunks, const GemvNorm& n, bool early) {
  GemvArgs a = chunked(nullptr, 0, w, M, N, k_chunks, early);
  a.norm = n;
  return a;
}

}  // namespace

bool gemv_norm_fits(const DenseGemm& g, const GemvNorm& n) {
  return g.M >= 1 && g.M <= kGemvRows && g.N >= 1 && g.K % 8 == 0 && aligned16(g.w) && norm_fits(n, g.K) &&
         x_smem_bytes(XFrom::Norm, false, g.M, g.K / 8) <= kGemvNormSmemBytes;
}

bool gemv_norm_fits(const W8A8Gemm& g, const GemvNorm& n) {
  return g.M >= 1 && g.M <= kGemvRowsW8A8 && g.N >= 1 && g.K % 16 == 0 && aligned16(g.w) && n.x_out == nullptr &&
         norm_fits(n, g.K) && x_smem_bytes(XFrom::Norm, true, g.M, g.K / 16) <= kGemvNormSmemBytes;
}

cudaError_t gemv_norm_bf16(const DenseGemm& g, const GemvNorm& n, bool early, cudaStream_t stream) {
  if (!gemv_norm_fits(g, n)) return cudaErrorInvalidValue;
  GemvArgs a = norm_args(g.w, g.M, g.N, g.K / 8, n, early);
  a.dense = DenseOut{g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M, g.N};
  return launch_gemv<bf16, false, XFrom::Norm>(a, stream);
}

cudaError_t gemv_norm_route(const DenseGemm& g, const GemvNorm& n, const GemvTopK& topk, bool early,
                            cudaStream_t stream) {
  if (!gemv_norm_fits(g, n) || !g.out_f32 || g.N > kMaxRouteExperts || topk.k < 1 || topk.k > g.N ||
      topk.ticket == nullptr)
    return cudaErrorInvalidValue;
  GemvArgs a = norm_args(g.w, g.M, g.N, g.K / 8, n, early);
  a.dense = DenseOut{g.out, g.ldo, g.out_f32, g.bias, g.bias_f32, g.M, g.N};
  a.topk = topk;
  return launch_gemv<bf16, true, XFrom::Norm>(a, stream);
}

cudaError_t gemv_norm_w8a8(const W8A8Gemm& g, const GemvNorm& n, float scale, float offset, bool early,
                           cudaStream_t stream) {
  if (!gemv_norm_fits(g, n)) return cudaErrorInvalidValue;
  GemvArgs a = norm_args(g.w, g.M, g.N, g.K / 16, n, early);
  a.qscale = scale;
  a.qoffset = offset;
  a.w8 = g.out;
  return launch_gemv<int8_t, false, XFrom::Norm>(a, stream);
}

}  // namespace rotor::cuda
