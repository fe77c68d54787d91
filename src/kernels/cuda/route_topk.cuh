// kernels/cuda/route_topk.cuh — the router's arithmetic for one token on one warp: the
// softmax over E experts in f32 with the CPU op's rounding steps, then k rounds of a warp
// arg-max over (probability, -id), the k weights optionally renormalised. moe_route.cu runs it
// a warp per token; the router GEMV with the top-k fused (gemv.cu's gemv_route) runs it in the
// block that finishes last, so both give the same bits.
#pragma once
#include <cfloat>
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/moe_route.cuh"

namespace rotor::cuda {

constexpr int kRoutePerLane = kMaxRouteExperts / 32;  // probabilities a lane holds

// Every lane of one warp calls this for one token. logits [E] f32, read through L2
// (ld.global.cg: the fused router reads rows that other blocks of its grid wrote);
// weights [k] f32, ids [k] i32 (ties: lower id first). E <= kMaxRouteExperts, 1 <= k <= E.
__device__ __forceinline__ void route_token(const float* logits, int E, int k, bool renormalize, float* weights,
                                            int32_t* ids) {
  const int lane = threadIdx.x % 32;
  float p[kRoutePerLane];
  float mx = -FLT_MAX;
#pragma unroll
  for (int i = 0; i < kRoutePerLane; ++i) {
    const int e = lane + 32 * i;
    p[i] = e < E ? __ldcg(logits + e) : -FLT_MAX;
    mx = fmaxf(mx, p[i]);
  }
  mx = warp_max(mx);
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kRoutePerLane; ++i) {
    const int e = lane + 32 * i;
    p[i] = e < E ? expf(p[i] - mx) : 0.0f;
    sum += p[i];
  }
  sum = warp_sum(sum);
#pragma unroll
  for (int i = 0; i < kRoutePerLane; ++i) p[i] = lane + 32 * i < E ? p[i] / sum : -1.0f;  // -1: not an expert

  float ksum = 0.0f;
  float chosen_p = 0.0f;
  int chosen_id = 0;
  for (int j = 0; j < k; ++j) {
    float best = -2.0f;
    int best_id = E;
#pragma unroll
    for (int i = 0; i < kRoutePerLane; ++i)
      if (p[i] > best) {  // ids rise with i: the first of equal values is the lowest id
        best = p[i];
        best_id = lane + 32 * i;
      }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, o);
      const int oi = __shfl_xor_sync(0xffffffffu, best_id, o);
      if (ob > best || (ob == best && oi < best_id)) {
        best = ob;
        best_id = oi;
      }
    }
    if (best_id >= E) best_id = j;  // no finite probability left (NaN logits): any distinct id
#pragma unroll
    for (int i = 0; i < kRoutePerLane; ++i)
      if (lane + 32 * i == best_id) p[i] = -3.0f;  // taken
    best = fmaxf(best, 0.0f);
    ksum += best;
    if (lane == j % 32) {
      chosen_p = best;
      chosen_id = best_id;
    }
    if (j % 32 == 31 || j == k - 1) {  // flush this group of up to 32 choices
      const int j0 = j - j % 32;
      if (lane <= j - j0) {
        weights[j0 + lane] = chosen_p;
        ids[j0 + lane] = chosen_id;
      }
    }
  }
  if (renormalize) {
    __syncwarp();
    for (int j = lane; j < k; j += 32) weights[j] /= ksum;
  }
}

}  // namespace rotor::cuda
