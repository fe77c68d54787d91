// kernels/cuda/copy_tokens.cu — one small block: a handful of token ids per step.
#include "kernels/cuda/copy_tokens.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

__global__ void copy_tokens_kernel(const int32_t* src, int64_t src_len, const int32_t* src_index, int32_t* dst,
                                   int64_t dst_len, const int32_t* dst_index, int n) {
  pdl_wait();
  pdl_launch_dependents();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const int32_t from = src_index[i], to = dst_index[i];
    if (from >= 0 && from < src_len && to >= 0 && to < dst_len) dst[to] = src[from];
  }
}

}  // namespace

cudaError_t copy_tokens(const int32_t* src, int64_t src_len, const int32_t* src_index, int32_t* dst, int64_t dst_len,
                        const int32_t* dst_index, int n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int threads = n < 256 ? (n + 31) / 32 * 32 : 256;
  return launch(copy_tokens_kernel, (n + threads - 1) / threads, threads, 0, stream, src, src_len, src_index, dst,
                dst_len, dst_index, n);
}

}  // namespace rotor::cuda
