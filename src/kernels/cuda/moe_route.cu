// kernels/cuda/moe_route.cu — the router on its own: one warp per token runs route_token
// (route_topk.cuh: the softmax in f32 with the CPU op's rounding steps, then k rounds of a warp
// arg-max over (probability, -id)).
#include "kernels/cuda/moe_route.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/route_topk.cuh"

namespace rotor::cuda {
namespace {

constexpr int kWarps = 4;

__global__ void __launch_bounds__(kWarps * 32) moe_route_kernel(const float* __restrict__ logits, int64_t ld, int T,
                                                                int E, int k, bool renormalize,
                                                                float* __restrict__ weights,
                                                                int32_t* __restrict__ ids) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x * kWarps + threadIdx.x / 32;
  if (t >= T) return;
  const int64_t out = static_cast<int64_t>(t) * k;
  route_token(logits + t * ld, E, k, renormalize, weights + out, ids + out);
}

}  // namespace

cudaError_t moe_route(const float* logits, int64_t ld, int T, int E, int k, bool renormalize, float* weights,
                      int32_t* ids, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (E > kMaxRouteExperts || k < 1 || k > E) return cudaErrorInvalidValue;
  return launch(moe_route_kernel, (T + kWarps - 1) / kWarps, kWarps * 32, 0, stream, logits, ld, T, E, k, renormalize,
                weights, ids);
}

}  // namespace rotor::cuda
