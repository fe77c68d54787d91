// comm/peer_all_reduce.cu — the peer collectives' kernels (see peer_all_reduce.cuh).
//
// Work is cut into units (kPeerThreads 16-byte vectors of a flat message, or one row of the
// fused norm); every rank uses the same cut and the same grid, so block b of each rank
// handles the same units and needs to meet only block b of the others. One-shot: units
// u = b (mod blocks) are copied in, then summed from every rank. Two-shot: units are grouped
// by world size; unit g * world + q is summed by rank q (into its own staging, where only it
// reads that unit before the second meeting), then every rank copies the sums out.
//
// Why the staging halves can be reused without a meeting at the end of a call: a rank
// writes half h again two calls later, after it met every peer in the call between; a peer
// that reached that call had finished the kernel that read half h (its stream runs kernels in
// order and every kernel waits for the previous one with pdl_wait before touching memory).
// For the same reason these kernels never let dependents start early (no
// pdl_launch_dependents): a dependent kernel parked on an SM would hold resources that another
// rank's kernels on the same GPU may need before that rank can reach this meeting.
#include "comm/peer_all_reduce.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

__device__ __forceinline__ uint32_t ld_acquire_sys(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void st_release_sys(uint32_t* p, uint32_t v) {
  asm volatile("st.release.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ uint64_t globaltimer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// This block's call number (1, 2, ...), the same on every rank.
__device__ __forceinline__ uint32_t begin_call(const PeerSet& p) {
  __shared__ uint32_t call;
  if (threadIdx.x == 0) call = p.counters[blockIdx.x] + 1;
  __syncthreads();
  return call;
}

__device__ __forceinline__ void end_call(const PeerSet& p, uint32_t call) {
  if (threadIdx.x == 0) p.counters[blockIdx.x] = call;
}

// Rank r's staging half for this call.
__device__ __forceinline__ char* staging(const PeerSet& p, int r, uint32_t call) {
  return p.staging[r] + (call & 1u) * p.capacity;
}

// Spins until *flag has reached `call` (counts only grow; a peer may already be one call
// ahead). Gives up when the group's abort word is set, or after the timeout, recording it.
__device__ void wait_flag(const PeerSet& p, const uint32_t* flag, uint32_t call, int peer) {
  volatile uint32_t* abort = &p.host->abort;
  uint64_t start = 0;
  for (uint32_t i = 1;; ++i) {
    if (static_cast<int32_t>(ld_acquire_sys(flag) - call) >= 0) return;
    if ((i & 1023u) != 0) continue;
    if (*abort) return;
    const uint64_t now = globaltimer_ns();
    if (start == 0) {
      start = now;
    } else if (now - start > p.timeout_ns) {
      volatile PeerError* e = &p.host->errors[p.rank];
      e->peer = peer;
      e->block = static_cast<int32_t>(blockIdx.x);
      e->call = call;
      __threadfence_system();
      e->failed = 1;
      *abort = 1;
      __threadfence_system();
      return;
    }
  }
}

// Block b of every rank meets here: everything this block wrote before is visible to the
// peers' block b after it, and the other way round. Thread t signals and waits for rank t.
__device__ void meet(const PeerSet& p, int stage, uint32_t call) {
  __syncthreads();
  const int t = threadIdx.x;
  if (t < p.world) {
    const size_t slot = (static_cast<size_t>(stage) * kPeerMaxBlocks + blockIdx.x) * kPeerMaxRanks;
    st_release_sys(p.flags[t] + slot + p.rank, call);
    wait_flag(p, p.flags[p.rank] + slot + t, call, t);
  }
  __syncthreads();
}

__device__ __forceinline__ void to_f32(const uint4& u, float (&v)[8]) {
  const Bf16x8 x = *reinterpret_cast<const Bf16x8*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(x.h[i]);
    v[2 * i] = f.x;
    v[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ uint4 to_bf16(const float (&v)[8]) {
  Bf16x8 x;
#pragma unroll
  for (int i = 0; i < 4; ++i) x.h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
  return *reinterpret_cast<const uint4*>(&x);
}

// A 16-byte vector of the flat all-reduce's elements: 8 bf16 or 4 f32, summed in f32.
template <typename T>
struct Vec16;
template <>
struct Vec16<bf16> {
  static constexpr int kN = 8;
  static __device__ __forceinline__ void load(const uint4& u, float (&v)[8]) { to_f32(u, v); }
  static __device__ __forceinline__ uint4 store(const float (&v)[8]) { return to_bf16(v); }
};
template <>
struct Vec16<float> {
  static constexpr int kN = 4;
  static __device__ __forceinline__ void load(const uint4& u, float (&v)[4]) {
    v[0] = __uint_as_float(u.x);
    v[1] = __uint_as_float(u.y);
    v[2] = __uint_as_float(u.z);
    v[3] = __uint_as_float(u.w);
  }
  static __device__ __forceinline__ uint4 store(const float (&v)[4]) {
    return make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
  }
};

// Sum over ranks, in rank order, of vector v of every rank's staging half: all loads are
// issued before the adds, so world loads are in flight at once.
template <typename T = bf16>
__device__ __forceinline__ void sum_ranks(const PeerSet& p, uint32_t call, int64_t v, float (&acc)[Vec16<T>::kN]) {
  constexpr int kN = Vec16<T>::kN;
  uint4 x[kPeerMaxRanks];
#pragma unroll
  for (int r = 0; r < kPeerMaxRanks; ++r)
    if (r < p.world) x[r] = __ldcg(reinterpret_cast<const uint4*>(staging(p, r, call)) + v);
  Vec16<T>::load(x[0], acc);
#pragma unroll
  for (int r = 1; r < kPeerMaxRanks; ++r) {
    if (r >= p.world) break;
    float y[kN];
    Vec16<T>::load(x[r], y);
#pragma unroll
    for (int e = 0; e < kN; ++e) acc[e] += y[e];
  }
}

// ---- flat all-reduce: units of kPeerThreads vectors of T (bf16 or f32) ----

template <typename T>
__global__ void __launch_bounds__(kPeerThreads)
    all_reduce_one_shot(const __grid_constant__ PeerSet p, const uint4* in, uint4* out, int64_t nvec) {
  pdl_wait();
  const uint32_t call = begin_call(p);
  uint4* mine = reinterpret_cast<uint4*>(staging(p, p.rank, call));
  const int64_t units = (nvec + kPeerThreads - 1) / kPeerThreads;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t v = u * kPeerThreads + threadIdx.x;
    if (v < nvec) __stcg(mine + v, in[v]);
  }
  meet(p, 0, call);
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t v = u * kPeerThreads + threadIdx.x;
    if (v >= nvec) continue;
    float acc[Vec16<T>::kN];
    sum_ranks<T>(p, call, v, acc);
    out[v] = Vec16<T>::store(acc);
  }
  end_call(p, call);
}

template <typename T>
__global__ void __launch_bounds__(kPeerThreads)
    all_reduce_two_shot(const __grid_constant__ PeerSet p, const uint4* in, uint4* out, int64_t nvec) {
  pdl_wait();
  const uint32_t call = begin_call(p);
  uint4* mine = reinterpret_cast<uint4*>(staging(p, p.rank, call));
  const int64_t units = (nvec + kPeerThreads - 1) / kPeerThreads, groups = (units + p.world - 1) / p.world;
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x)
    for (int q = 0; q < p.world; ++q) {
      const int64_t v = (g * p.world + q) * kPeerThreads + threadIdx.x;
      if (v < nvec) __stcg(mine + v, in[v]);
    }
  meet(p, 0, call);
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {  // this rank's share: the sums
    const int64_t v = (g * p.world + p.rank) * kPeerThreads + threadIdx.x;
    if (v >= nvec) continue;
    float acc[Vec16<T>::kN];
    sum_ranks<T>(p, call, v, acc);
    __stcg(mine + v, Vec16<T>::store(acc));
  }
  meet(p, 1, call);
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x)
    for (int q = 0; q < p.world; ++q) {
      const int64_t v = (g * p.world + q) * kPeerThreads + threadIdx.x;
      if (v < nvec) out[v] = __ldcg(reinterpret_cast<const uint4*>(staging(p, q, call)) + v);
    }
  end_call(p, call);
}

// ---- the fused reduction point: units are rows ----

struct NormArgs {
  const bf16* x;
  int64_t x_stride;
  bf16* residual;
  int64_t res_stride;
  const bf16* w;
  const bf16* bias;  // or null
  float eps;
  bf16* out;
  int64_t out_stride;
  int64_t T;
  int H;
};

constexpr int kMaxVecs = kPeerMaxHidden / (8 * kPeerThreads);

__device__ __forceinline__ void copy_row_in(const NormArgs& a, uint4* dst, int64_t row) {
  const int vecs = a.H / 8;
  const uint4* src = reinterpret_cast<const uint4*>(a.x + row * a.x_stride);
  for (int i = threadIdx.x; i < vecs; i += kPeerThreads) __stcg(dst + row * vecs + i, src[i]);
}

// residual += v (v: the row's sum, already rounded to bf16); out = rms_norm(residual) * w
// (+ bias): the loop order and block reduction of kernels/cuda/rms_norm.cu, so the bits match.
__device__ void add_and_norm(const NormArgs& a, int64_t row, float (&v)[kMaxVecs][8]) {
  const int vecs = a.H / 8;
  bf16* rr = a.residual + row * a.res_stride;
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kPeerThreads;
    if (i >= vecs) break;
    float r[8];
    load8(rr + i * 8, r);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[j][e] += r[e];
    store8(rr + i * 8, v[j]);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[j][e] = __bfloat162float(__float2bfloat16_rn(v[j][e]));
#pragma unroll
    for (int e = 0; e < 8; ++e) ss += v[j][e] * v[j][e];
  }
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(a.H) + a.eps);
  bf16* o = a.out + row * a.out_stride;
#pragma unroll
  for (int j = 0; j < kMaxVecs; ++j) {
    const int i = threadIdx.x + j * kPeerThreads;
    if (i >= vecs) break;
    float wv[8], y[8];
    load8(a.w + i * 8, wv);
#pragma unroll
    for (int e = 0; e < 8; ++e) y[e] = v[j][e] * inv * wv[e];
    if (a.bias) {
      float b[8];
      load8(a.bias + i * 8, b);
#pragma unroll
      for (int e = 0; e < 8; ++e) y[e] += b[e];
    }
    store8(o + i * 8, y);
  }
}

__global__ void __launch_bounds__(kPeerThreads)
    all_reduce_norm_one_shot(const __grid_constant__ PeerSet p, const __grid_constant__ NormArgs a) {
  pdl_wait();
  const uint32_t call = begin_call(p);
  const int vecs = a.H / 8;
  for (int64_t row = blockIdx.x; row < a.T; row += gridDim.x)
    copy_row_in(a, reinterpret_cast<uint4*>(staging(p, p.rank, call)), row);
  meet(p, 0, call);
  for (int64_t row = blockIdx.x; row < a.T; row += gridDim.x) {
    float v[kMaxVecs][8];
#pragma unroll
    for (int j = 0; j < kMaxVecs; ++j) {
      const int i = threadIdx.x + j * kPeerThreads;
      if (i >= vecs) break;
      sum_ranks(p, call, row * vecs + i, v[j]);
#pragma unroll
      for (int e = 0; e < 8; ++e) v[j][e] = __bfloat162float(__float2bfloat16_rn(v[j][e]));
    }
    add_and_norm(a, row, v);
  }
  end_call(p, call);
}

__global__ void __launch_bounds__(kPeerThreads)
    all_reduce_norm_two_shot(const __grid_constant__ PeerSet p, const __grid_constant__ NormArgs a) {
  pdl_wait();
  const uint32_t call = begin_call(p);
  const int vecs = a.H / 8;
  uint4* mine = reinterpret_cast<uint4*>(staging(p, p.rank, call));
  const int64_t groups = (a.T + p.world - 1) / p.world;
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x)
    for (int q = 0; q < p.world; ++q)
      if (g * p.world + q < a.T) copy_row_in(a, mine, g * p.world + q);
  meet(p, 0, call);
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {  // this rank's rows: the sums
    const int64_t row = g * p.world + p.rank;
    if (row >= a.T) continue;
    for (int i = threadIdx.x; i < vecs; i += kPeerThreads) {
      float acc[8];
      sum_ranks(p, call, row * vecs + i, acc);
      __stcg(mine + row * vecs + i, to_bf16(acc));
    }
  }
  meet(p, 1, call);
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x)
    for (int q = 0; q < p.world; ++q) {
      const int64_t row = g * p.world + q;
      if (row >= a.T) break;
      const uint4* sums = reinterpret_cast<const uint4*>(staging(p, q, call)) + row * vecs;
      float v[kMaxVecs][8];
#pragma unroll
      for (int j = 0; j < kMaxVecs; ++j) {
        const int i = threadIdx.x + j * kPeerThreads;
        if (i >= vecs) break;
        to_f32(__ldcg(sums + i), v[j]);
      }
      add_and_norm(a, row, v);
    }
  end_call(p, call);
}

// ---- all-gather and broadcast of bytes (E: uint4 when everything is 16-byte aligned) ----

template <typename E, bool kBroadcast>
__global__ void __launch_bounds__(kPeerThreads)
    gather_kernel(const __grid_constant__ PeerSet p, const E* in, E* out, int64_t n, int64_t rank_stride, int root) {
  pdl_wait();
  const uint32_t call = begin_call(p);
  E* mine = reinterpret_cast<E*>(staging(p, p.rank, call));
  const int64_t units = (n + kPeerThreads - 1) / kPeerThreads;
  if (!kBroadcast || p.rank == root)
    for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
      const int64_t v = u * kPeerThreads + threadIdx.x;
      if (v < n) __stcg(mine + v, in[v]);
    }
  meet(p, 0, call);
  for (int q = 0; q < p.world; ++q) {
    if (kBroadcast && (q != root || p.rank == root)) continue;
    const E* src = reinterpret_cast<const E*>(staging(p, q, call));
    E* dst = kBroadcast ? out : out + q * rank_stride;
    for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
      const int64_t v = u * kPeerThreads + threadIdx.x;
      if (v < n) dst[v] = __ldcg(src + v);
    }
  }
  end_call(p, call);
}

bool valid(const PeerSet& p) {
  return p.world >= 1 && p.world <= kPeerMaxRanks && p.rank >= 0 && p.rank < p.world && p.blocks >= 1 &&
         p.blocks <= kPeerMaxBlocks && p.host != nullptr && p.counters != nullptr;
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

template <bool kBroadcast>
cudaError_t launch_gather(const PeerSet& p, const void* in, void* out, int64_t bytes, int64_t rank_stride, int root,
                          cudaStream_t s) {
  if (!valid(p) || bytes < 0 || static_cast<uint64_t>(bytes) > p.capacity) return cudaErrorInvalidValue;
  if (bytes == 0) return cudaSuccess;
  const bool vec = bytes % 16 == 0 && rank_stride % 16 == 0 && aligned16(in) && aligned16(out);
  if (vec)
    return launch(gather_kernel<uint4, kBroadcast>, p.blocks, kPeerThreads, 0, s, p, static_cast<const uint4*>(in),
                  static_cast<uint4*>(out), bytes / 16, rank_stride / 16, root);
  return launch(gather_kernel<unsigned char, kBroadcast>, p.blocks, kPeerThreads, 0, s, p,
                static_cast<const unsigned char*>(in), static_cast<unsigned char*>(out), bytes, rank_stride, root);
}

}  // namespace

cudaError_t peer_all_reduce(const PeerSet& p, PeerAlgo algo, const void* in, void* out, int64_t n,
                            cudaStream_t stream, bool f32) {
  const int64_t per_vec = f32 ? 4 : 8, size = f32 ? 4 : 2;
  if (!valid(p) || n < 0 || n % per_vec != 0 || static_cast<uint64_t>(n * size) > p.capacity || !aligned16(in) ||
      !aligned16(out))
    return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  auto kernel = f32 ? (algo == PeerAlgo::OneShot ? all_reduce_one_shot<float> : all_reduce_two_shot<float>)
                    : (algo == PeerAlgo::OneShot ? all_reduce_one_shot<bf16> : all_reduce_two_shot<bf16>);
  return launch(kernel, p.blocks, kPeerThreads, 0, stream, p, static_cast<const uint4*>(in), static_cast<uint4*>(out),
                n / per_vec);
}

cudaError_t peer_all_reduce_norm(const PeerSet& p, PeerAlgo algo, const void* x, int64_t x_stride, void* residual,
                                 int64_t res_stride, const void* w, const void* bias, float eps, void* out,
                                 int64_t out_stride, int64_t T, int64_t H, cudaStream_t stream) {
  if (!valid(p) || T < 0 || H <= 0 || H % 8 != 0 || H > kPeerMaxHidden || x_stride % 8 != 0 ||
      res_stride % 8 != 0 || out_stride % 8 != 0 || static_cast<uint64_t>(T * H) * 2 > p.capacity ||
      !aligned16(x) || !aligned16(residual) || !aligned16(w) || !aligned16(out) || (bias && !aligned16(bias)))
    return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  const NormArgs a{static_cast<const bf16*>(x), x_stride, static_cast<bf16*>(residual), res_stride,
                   static_cast<const bf16*>(w), static_cast<const bf16*>(bias), eps, static_cast<bf16*>(out),
                   out_stride, T, static_cast<int>(H)};
  auto kernel = algo == PeerAlgo::OneShot ? all_reduce_norm_one_shot : all_reduce_norm_two_shot;
  return launch(kernel, p.blocks, kPeerThreads, 0, stream, p, a);
}

cudaError_t peer_all_gather(const PeerSet& p, const void* in, void* out, int64_t bytes, int64_t rank_stride,
                            cudaStream_t stream) {
  return launch_gather<false>(p, in, out, bytes, rank_stride, 0, stream);
}

cudaError_t peer_broadcast(const PeerSet& p, int root, void* t, int64_t bytes, cudaStream_t stream) {
  if (root < 0 || root >= p.world) return cudaErrorInvalidValue;
  return launch_gather<true>(p, t, t, bytes, 0, root, stream);
}

}  // namespace rotor::cuda
