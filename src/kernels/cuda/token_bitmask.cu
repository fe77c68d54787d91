// kernels/cuda/token_bitmask.cu — a grid of (token blocks, masked rows): one thread per logit,
// a warp reads one 32-bit word of the bitmask (one broadcast load) and writes -inf into its
// 32 adjacent logits where the bits are 0 (coalesced).
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/token_bitmask.cuh"

namespace rotor::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void token_bitmask_kernel(float* logits, int64_t ld, int V, const uint32_t* bitmask, int64_t ld_bits,
                                     const int32_t* rows) {
  pdl_wait();
  pdl_launch_dependents();
  const int i = blockIdx.y;
  const int t = blockIdx.x * kThreads + threadIdx.x;
  if (t >= V) return;
  if (!((bitmask[i * ld_bits + t / 32] >> (t % 32)) & 1u)) logits[rows[i] * ld + t] = -INFINITY;
}

}  // namespace

cudaError_t apply_token_bitmask(float* logits, int64_t ld, int V, const uint32_t* bitmask, int64_t ld_bits,
                                const int32_t* rows, int N, cudaStream_t stream) {
  if (N == 0) return cudaSuccess;
  const dim3 grid((V + kThreads - 1) / kThreads, N);
  return launch(token_bitmask_kernel, grid, kThreads, 0, stream, logits, ld, V, bitmask, ld_bits, rows);
}

}  // namespace rotor::cuda
