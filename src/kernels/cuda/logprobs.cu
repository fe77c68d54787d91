// kernels/cuda/logprobs.cu — one block of 1024 threads per row: a pass for the maximum and
// the token's rank, a pass for the log-sum-exp (exp and sum in double, like the CPU op), and
// for the top K a radix select of the K-th largest logit (four 8-bit digits of an
// order-preserving key of the f32 bits), ties at it resolved by id, the K winners gathered in
// shared memory and placed by counting the winners ahead of each.
#include <cfloat>

#include "kernels/cuda/logprobs.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/radix_select.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

// Larger float -> larger key (NaN aside); -0 and +0 are the same key, as they compare equal.
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = f == 0.0f ? 0u : __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

struct Shared {
  int count[kRadixCopies][256];
  double red_d[kWarps];
  float red_f[kWarps];
  int red_i[kWarps];
  int chunk_count[kThreads];
  uint32_t prefix;
  int above, eq_count, found, filled;
  uint32_t cand_key[kMaxTopLogprobs];
  int32_t cand_id[kMaxTopLogprobs];
};

__device__ float block_max(Shared& sh, float v) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (lane == 0) sh.red_f[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = sh.red_f[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (lane == 0) sh.red_f[0] = v;
  }
  __syncthreads();
  const float r = sh.red_f[0];
  __syncthreads();
  return r;
}

template <typename T>
__device__ T block_sum(Shared& sh, T v, T* red) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = red[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  const T r = red[0];
  __syncthreads();
  return r;
}

__global__ void __launch_bounds__(kThreads) logprobs_kernel(const LogprobArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ Shared sh;
  const int s = blockIdx.x, V = a.V;
  const float* row = a.logits + s * a.ld;
  const int32_t tok = a.token_ids[s];
  const bool tok_ok = tok >= 0 && tok < V;
  const float lt = tok_ok ? row[tok] : 0.0f;
  float mx = -INFINITY;
  int larger = 0;
  for (int v = threadIdx.x; v < V; v += kThreads) {
    const float l = row[v];
    mx = fmaxf(mx, l);
    larger += l > lt;
  }
  mx = block_max(sh, mx);
  larger = block_sum(sh, larger, sh.red_i);
  double part = 0.0;
  for (int v = threadIdx.x; v < V; v += kThreads) part += exp(static_cast<double>(row[v]) - mx);
  const double lse = mx + log(block_sum(sh, part, sh.red_d));
  if (threadIdx.x == 0) {
    a.token_logprob[s] = tok_ok ? static_cast<float>(lt - lse) : NAN;
    a.token_rank[s] = tok_ok ? 1 + larger : 0;
  }
  const int K = a.K;
  if (K == 0) return;

  // tau: the K-th largest key of the row; ties at it are cut by id.
  const auto logit = [row](int v) { return row[v]; };
  const auto key_of = [](float l) { return order_key(l); };
  const auto all = [](uint32_t, int) { return true; };
  const uint32_t tau = radix_select<kThreads, false>(sh, V, logit, key_of, all, false, K);
  const int need = K - sh.above, eq = sh.eq_count;
  const int cut = need < eq ? nth_tie<kThreads>(sh, V, logit, key_of, tau, need) : V;
  if (threadIdx.x == 0) sh.filled = 0;
  __syncthreads();
  for (int v = threadIdx.x; v < V; v += kThreads) {
    const uint32_t key = order_key(row[v]);
    if (key > tau || (key == tau && v < cut)) {
      const int slot = atomicAdd(&sh.filled, 1);
      sh.cand_key[slot] = key;
      sh.cand_id[slot] = v;
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < K; i += kThreads) {
    const uint32_t key = sh.cand_key[i];
    const int id = sh.cand_id[i];
    int rank = 0;
    for (int j = 0; j < K; ++j) {
      const uint32_t kj = sh.cand_key[j];
      rank += kj > key || (kj == key && sh.cand_id[j] < id);
    }
    a.top_ids[static_cast<int64_t>(s) * K + rank] = id;
    a.top_logprobs[static_cast<int64_t>(s) * K + rank] = static_cast<float>(row[id] - lse);
  }
}

}  // namespace

cudaError_t logprobs(const LogprobArgs& a, cudaStream_t stream) {
  if (a.S == 0) return cudaSuccess;
  if (a.K < 0 || a.K > kMaxTopLogprobs || a.K > a.V) return cudaErrorInvalidValue;
  return launch(logprobs_kernel, a.S, kThreads, 0, stream, a);
}

}  // namespace rotor::cuda
