// kernels/cuda/mask_tokens.cu — one block per row writes -inf at the row's listed ids.
#include "kernels/cuda/mask_tokens.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

__global__ void mask_kernel(float* logits, int64_t ld, int V, const int32_t* ids, const int32_t* start) {
  pdl_wait();
  pdl_launch_dependents();
  const int s = blockIdx.x;
  float* row = logits + s * ld;
  for (int j = start[s] + threadIdx.x; j < start[s + 1]; j += blockDim.x) {
    const int32_t t = ids[j];
    if (t >= 0 && t < V) row[t] = -INFINITY;
  }
}

}  // namespace

cudaError_t mask_tokens(float* logits, int64_t ld, int S, int V, const int32_t* ids, const int32_t* start,
                        cudaStream_t stream) {
  if (S == 0) return cudaSuccess;
  return launch(mask_kernel, S, 128, 0, stream, logits, ld, V, ids, start);
}

}  // namespace rotor::cuda
