// kernels/cuda/moe_route.cu — one warp per token: the softmax in f32 with the CPU op's
// rounding steps, then k rounds of a warp arg-max over (probability, -id).
#include <cfloat>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/moe_route.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kPerLane = 16;  // E <= 32 * kPerLane

__global__ void __launch_bounds__(kWarps * 32) moe_route_kernel(const float* __restrict__ logits, int64_t ld, int T,
                                                                int E, int k, bool renormalize,
                                                                float* __restrict__ weights,
                                                                int32_t* __restrict__ ids) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (t >= T) return;
  const float* l = logits + t * ld;
  float p[kPerLane];
  float mx = -FLT_MAX;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + 32 * i;
    p[i] = e < E ? l[e] : -FLT_MAX;
    mx = fmaxf(mx, p[i]);
  }
  mx = warp_max(mx);
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + 32 * i;
    p[i] = e < E ? expf(p[i] - mx) : 0.0f;
    sum += p[i];
  }
  sum = warp_sum(sum);
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) p[i] = lane + 32 * i < E ? p[i] / sum : -1.0f;  // -1: not an expert

  float ksum = 0.0f;
  float chosen_p = 0.0f;
  int chosen_id = 0;
  for (int j = 0; j < k; ++j) {
    float best = -2.0f;
    int best_id = E;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
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
    for (int i = 0; i < kPerLane; ++i)
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
        weights[static_cast<int64_t>(t) * k + j0 + lane] = chosen_p;
        ids[static_cast<int64_t>(t) * k + j0 + lane] = chosen_id;
      }
    }
  }
  if (renormalize) {
    __syncwarp();
    for (int j = lane; j < k; j += 32) weights[static_cast<int64_t>(t) * k + j] /= ksum;
  }
}

}  // namespace

cudaError_t moe_route(const float* logits, int64_t ld, int T, int E, int k, bool renormalize, float* weights,
                      int32_t* ids, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (E > 32 * kPerLane || k < 1 || k > E) return cudaErrorInvalidValue;
  return launch(moe_route_kernel, (T + kWarps - 1) / kWarps, kWarps * 32, 0, stream, logits, ld, T, E, k, renormalize,
                weights, ids);
}

}  // namespace rotor::cuda
