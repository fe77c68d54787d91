// kernels/cuda/radix_select.cuh — the block-wide radix select shared by the sampling and
// log-prob kernels (one block of kThreads threads per row of V tokens): the largest key at
// which the weight of the keys at or above it reaches a target, by four passes over 8-bit
// digits, most significant first; and the id of the r-th token, in id order, whose key equals
// a given one (how a kernel cuts ties at the selected key). A kernel passes its shared-memory
// struct Sh and two functors: value(v), token v's float, and key_of(f), a uint32 key of it
// that orders tokens (a larger key ranks first).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace rotor::cuda {

constexpr int kRadixCopies = 8;  // histogram copies (warp % kRadixCopies) to spread atomics

// Largest key x with the sum over kept keys >= x of weight >= target, where keep(key, v) says
// which tokens take part and the weight is 1 per token, or its value when by_mass (kMass only).
// Sh holds int count[kRadixCopies][256], uint32_t prefix, W above, int eq_count and, when kMass,
// double mass[kRadixCopies][256] and double eq_mass. Leaves in sh: above = weight of kept keys
// > x, eq_count (eq_mass) = count (mass) of kept keys == x.
template <int kThreads, bool kMass, typename Sh, typename Value, typename KeyOf, typename Keep, typename W>
__device__ uint32_t radix_select(Sh& sh, int V, Value value, KeyOf key_of, Keep keep, bool by_mass, W target) {
  static_assert(std::is_same_v<decltype(sh.above), W>, "sh.above and the target have one type");
  const int warp = threadIdx.x / 32;
  if (threadIdx.x == 0) {
    sh.prefix = 0;
    sh.above = 0;
  }
  for (int level = 0; level < 4; ++level) {
    const int shift = 24 - 8 * level;
    for (int i = threadIdx.x; i < kRadixCopies * 256; i += kThreads) {
      if constexpr (kMass) (&sh.mass[0][0])[i] = 0.0;
      (&sh.count[0][0])[i] = 0;
    }
    __syncthreads();
    const uint32_t prefix = sh.prefix;
    const uint32_t high_mask = level == 0 ? 0u : ~((1u << (shift + 8)) - 1u);
    for (int v = threadIdx.x; v < V; v += kThreads) {
      const float f = value(v);
      const uint32_t key = key_of(f);
      if (!keep(key, v) || (key & high_mask) != prefix) continue;
      const int d = (key >> shift) & 255;
      atomicAdd(&sh.count[warp % kRadixCopies][d], 1);
      if constexpr (kMass)
        if (by_mass) atomicAdd(&sh.mass[warp % kRadixCopies][d], static_cast<double>(f));
    }
    __syncthreads();
    if (threadIdx.x < 256) {
      const int d = threadIdx.x;
      for (int c = 1; c < kRadixCopies; ++c) {
        sh.count[0][d] += sh.count[c][d];
        if constexpr (kMass) sh.mass[0][d] += sh.mass[c][d];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      W above = sh.above;
      int pick = 0;
      for (int d = 255; d >= 0; --d) {
        W w;
        if constexpr (kMass)
          w = by_mass ? sh.mass[0][d] : static_cast<W>(sh.count[0][d]);
        else
          w = sh.count[0][d];
        if (above + w >= target) {
          pick = d;
          break;
        }
        above += w;
      }
      sh.above = above;
      sh.prefix = prefix | (static_cast<uint32_t>(pick) << shift);
      sh.eq_count = sh.count[0][pick];
      if constexpr (kMass) sh.eq_mass = sh.mass[0][pick];
    }
    __syncthreads();
  }
  return sh.prefix;
}

// The id of the r-th (0-based) token, in id order, whose key equals x (V when there are at
// most r). Each thread counts the matches in its own chunk of ids; thread 0 turns the counts
// into offsets. Sh holds int chunk_count[kThreads] and int found.
template <int kThreads, typename Sh, typename Value, typename KeyOf>
__device__ int nth_tie(Sh& sh, int V, Value value, KeyOf key_of, uint32_t x, int r) {
  const int chunk = (V + kThreads - 1) / kThreads;
  const int b = threadIdx.x * chunk, e = min(V, b + chunk);
  int n = 0;
  for (int v = b; v < e; ++v) n += key_of(value(v)) == x;
  sh.chunk_count[threadIdx.x] = n;
  if (threadIdx.x == 0) sh.found = V;
  __syncthreads();
  if (threadIdx.x == 0) {
    int acc = 0;
    for (int i = 0; i < kThreads; ++i) {
      const int c = sh.chunk_count[i];
      sh.chunk_count[i] = acc;
      acc += c;
    }
  }
  __syncthreads();
  int seen = sh.chunk_count[threadIdx.x];
  if (r >= seen && r < seen + n)
    for (int v = b; v < e; ++v)
      if (key_of(value(v)) == x && seen++ == r) sh.found = v;
  __syncthreads();
  const int id = sh.found;
  __syncthreads();
  return id;
}

}  // namespace rotor::cuda
