// kernels/cuda/fill_random.cu — grid-stride fill; the final mean + std * x is one fused
// multiply-add, as the CPU build (-march=native, contracted) computes it (e4m3: then rounded).
#include <algorithm>

#include "core/hash_rng.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fill_random.cuh"
#include "kernels/cuda/fp8.cuh"
#include "kernels/cuda/pdl.cuh"

namespace rotor::cuda {
namespace {

template <typename T>
__global__ void fill_random_kernel(T* __restrict__ data, int64_t n, uint64_t seed, float mean, float std) {
  pdl_wait();
  pdl_launch_dependents();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = fmaf(std, approx_normal(mix64(seed ^ mix64(static_cast<uint64_t>(i)))), mean);
    if constexpr (sizeof(T) == 2)
      data[i] = __float2bfloat16_rn(v);
    else if constexpr (sizeof(T) == 1)
      data[i] = f32_to_e4m3_rn(v);
    else
      data[i] = v;
  }
}

}  // namespace

cudaError_t fill_random(void* data, DType dtype, int64_t n, uint64_t seed, float mean, float std,
                        cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int threads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((n + threads - 1) / threads, 132 * 32));
  switch (dtype) {
    case DType::BF16:
      return launch(fill_random_kernel<bf16>, blocks, threads, 0, stream, static_cast<bf16*>(data), n, seed, mean, std);
    case DType::F32:
      return launch(fill_random_kernel<float>, blocks, threads, 0, stream, static_cast<float*>(data), n, seed, mean,
                    std);
    case DType::F8E4M3:
      return launch(fill_random_kernel<uint8_t>, blocks, threads, 0, stream, static_cast<uint8_t*>(data), n, seed,
                    mean, std);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace rotor::cuda
