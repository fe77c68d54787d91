// kernels/cuda/attention_prefill_block.cuh — what the two prefill attention kernels share:
// the query rows and keys one block covers (sequence blockIdx.z; 128-row blocks from the end of
// the chunk first, the longest first) and the online-softmax update of a thread's two rows.
#pragma once
#include <cfloat>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"

namespace rotor::cuda {

struct PrefillBlock {
  int s;            // sequence
  int qlen;         // new tokens of the sequence in this step
  int m0;           // first query row of the block in the chunk
  int prefix;       // cached tokens before the chunk
  int head, kvh;    // query head, its KV head
  int64_t row0;     // first q / out row of the block in the step's rows
  int kv_end;       // keys the block needs
  int n_tiles;      // BN-key tiles up to kv_end
  int n_full;       // tiles [0, n_full) hold only keys every row of the block sees: no mask
};

// False when the block has no rows (its sequence's chunk is shorter than the grid).
template <int BM, int BN>
__device__ __forceinline__ bool prefill_block(const AttnArgs& a, PrefillBlock& b) {
  b.s = a.seq_begin + blockIdx.z;
  const int q_begin = a.query_start[b.s];
  b.qlen = a.query_start[b.s + 1] - q_begin;
  b.m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // longest (latest) tiles first
  if (b.m0 >= b.qlen) return false;
  b.prefix = a.seq_lens[b.s] - b.qlen;
  b.head = blockIdx.y;
  b.kvh = b.head / (a.Hq / a.Hkv);
  b.row0 = q_begin - a.query_start[a.seq_begin] + b.m0;
  b.kv_end = b.prefix + min(b.m0 + BM, b.qlen);
  b.n_tiles = (b.kv_end + BN - 1) / BN;
  b.n_full = min(b.prefix + b.m0 + 1, b.kv_end) / BN;
  return true;
}

// One online-softmax step for a thread's rows r and r + 8 of an MMA fragment. mx holds the
// thread's maxima of this tile's (scaled) scores; they are reduced over the quad sharing the
// rows, the running maxima m and sums l are updated, corr gets the factor the old sums and
// outputs take, and mx the value to subtract before exp2 (0 for a row with no key yet, whose
// scores are all -inf: it keeps zeros instead of NaN).
__device__ __forceinline__ void online_softmax_step(float (&m)[2], float (&l)[2], float (&mx)[2],
                                                    float (&corr)[2]) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    const float mn = fmaxf(m[h], mx[h]);
    const float base = mn == -INFINITY ? 0.0f : mn;
    corr[h] = exp2f(m[h] - base);
    m[h] = mn;
    l[h] *= corr[h];
    mx[h] = base;
  }
}

}  // namespace rotor::cuda
