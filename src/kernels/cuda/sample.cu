// kernels/cuda/sample.cu — one block of 1024 threads per row; the row's probabilities are
// computed once into scratch and every later pass reads them. The kept set of top-k / top-p
// is "p > tau, or p == tau and id < cut": tau comes from a radix select (four 8-bit digits
// of the f32 bit pattern, which orders non-negative floats) over counts (top-k) or masses
// (top-p); cut resolves ties at tau by id, as the CPU's sorted order does.
#include <cfloat>

#include "core/hash_rng.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/radix_select.cuh"
#include "kernels/cuda/sample.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

struct Shared {
  double mass[kRadixCopies][256];
  int count[kRadixCopies][256];
  double red_d[kWarps];
  float red_f[kWarps];
  int red_i[kWarps];
  int chunk_count[kThreads];
  uint32_t prefix;
  double above;
  double eq_mass;
  int eq_count;
  int found;
};

// Warp-wide arg-max of (value, id): larger value, then lower id; every lane gets it.
__device__ __forceinline__ void warp_argmax(float& v, int& id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, id, o);
    if (ov > v || (ov == v && oi < id)) {
      v = ov;
      id = oi;
    }
  }
}

// Block-wide arg-max of (value, id): larger value, then lower id. Returns the id.
__device__ int block_argmax(Shared& sh, float v, int id, float* value_out) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  warp_argmax(v, id);
  if (lane == 0) {
    sh.red_f[warp] = v;
    sh.red_i[warp] = id;
  }
  __syncthreads();
  if (warp == 0) {
    v = sh.red_f[lane];
    id = sh.red_i[lane];
    warp_argmax(v, id);
    if (lane == 0) {
      sh.red_f[0] = v;
      sh.red_i[0] = id;
    }
  }
  __syncthreads();
  const int r = sh.red_i[0];
  if (value_out) *value_out = sh.red_f[0];
  __syncthreads();
  return r;
}

__device__ double block_sum_d(Shared& sh, double v) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) sh.red_d[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = sh.red_d[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) sh.red_d[0] = v;
  }
  __syncthreads();
  const double r = sh.red_d[0];
  __syncthreads();
  return r;
}

// A row's probabilities, computed once into scratch by the block (the radix passes read them).
struct Row {
  const float* l;
  float* probs;  // [V] scratch
  __device__ float p(int v) const { return probs[v]; }
};

struct Kept {
  bool all;
  uint32_t tau;
  int cut;
  __device__ bool operator()(uint32_t key, int v) const { return all || key > tau || (key == tau && v < cut); }
};

__global__ void __launch_bounds__(kThreads) sample_kernel(const SampleArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ Shared sh;
  const int s = blockIdx.x, V = a.V;
  Row row{a.logits + s * a.ld, a.probs + static_cast<int64_t>(s) * V};
  float best = -INFINITY;
  int best_id = V;
  for (int v = threadIdx.x; v < V; v += kThreads)
    if (row.l[v] > best) {
      best = row.l[v];
      best_id = v;
    }
  float mx;
  int argmax_id = block_argmax(sh, best, best_id, &mx);
  if (argmax_id >= V) argmax_id = 0;
  const float temp = a.temperature[s];
  if (temp <= 0.0f) {
    if (threadIdx.x == 0) a.out[s] = argmax_id;
    return;
  }
  // softmax(l / T) with the CPU op's rounding steps: exp in f32, the sum and the division in double.
  double part = 0.0;
  for (int v = threadIdx.x; v < V; v += kThreads) {
    const float e = expf((row.l[v] - mx) / temp);
    row.probs[v] = e;
    part += static_cast<double>(e);
  }
  const double sum = block_sum_d(sh, part);
  for (int v = threadIdx.x; v < V; v += kThreads)
    row.probs[v] = static_cast<float>(static_cast<double>(row.probs[v]) / sum);
  __syncthreads();
  const float pmax = row.p(argmax_id);

  // The radix passes key a probability by its f32 bits.
  const auto prob = [&row](int v) { return row.p(v); };
  const auto bits = [](float p) { return __float_as_uint(p); };
  Kept kept{true, 0u, V};
  const int k = a.top_k[s];
  if (k > 0 && k < V) {
    const uint32_t x = radix_select<kThreads, true>(sh, V, prob, bits, kept, false, static_cast<double>(k));
    const int allowed = k - static_cast<int>(sh.above);
    const int eq = sh.eq_count;
    kept = Kept{false, x, allowed < eq ? nth_tie<kThreads>(sh, V, prob, bits, x, allowed) : V};
  }
  const float top_p = a.top_p[s];
  if (top_p < 1.0f) {
    double mass = 0.0;
    for (int v = threadIdx.x; v < V; v += kThreads) {
      const float p = row.p(v);
      if (kept(__float_as_uint(p), v)) mass += p;
    }
    const double target = static_cast<double>(top_p) * block_sum_d(sh, mass);
    uint32_t x = __float_as_uint(pmax);
    int m = 1, eq = 1;
    if (target > 0.0) {
      x = radix_select<kThreads, true>(sh, V, prob, bits, kept, true, target);
      eq = sh.eq_count;
      const double need = (target - sh.above) / static_cast<double>(__uint_as_float(x));
      m = static_cast<int>(ceil(need));
      m = max(1, min(m, eq));
    } else {
      eq = 0;  // the single most probable token
    }
    int cut;
    if (target <= 0.0)
      cut = nth_tie<kThreads>(sh, V, prob, bits, x, 0) + 1;
    else if (m < eq)
      cut = nth_tie<kThreads>(sh, V, prob, bits, x, m);
    else
      cut = (!kept.all && x == kept.tau) ? kept.cut : V;
    kept = Kept{false, x, cut};
  }
  const float floor_p = a.min_p[s] > 0.0f ? a.min_p[s] * pmax : 0.0f;
  const uint64_t seed = static_cast<uint64_t>(a.seed[s]), counter = static_cast<uint64_t>(a.counter[s]);
  best = -INFINITY;
  best_id = V;
  for (int v = threadIdx.x; v < V; v += kThreads) {
    const float p = row.p(v);
    if (!kept(__float_as_uint(p), v) || p <= 0.0f || p < floor_p) continue;
    const float u = uniform01(hash3(seed, counter, static_cast<uint64_t>(v)));
    const float score = logf(p) - logf(-logf(u));
    if (score > best) {
      best = score;
      best_id = v;
    }
  }
  const int drawn = block_argmax(sh, best, best_id, nullptr);
  if (threadIdx.x == 0) a.out[s] = drawn < V ? drawn : argmax_id;
}

}  // namespace

cudaError_t sample(const SampleArgs& a, cudaStream_t stream) {
  if (a.S == 0) return cudaSuccess;
  return launch(sample_kernel, a.S, kThreads, 0, stream, a);
}

}  // namespace rotor::cuda
