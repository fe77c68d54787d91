// kernels/cuda/fill_random.cuh — the dummy-weight fill: element i = mean + std * noise from
// hash(seed, i) (core/hash_rng.h), bit-identical to the CPU op.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// data: n elements, bf16 (is_bf16) or f32.
cudaError_t fill_random(void* data, bool is_bf16, int64_t n, uint64_t seed, float mean, float std,
                        cudaStream_t stream);

}  // namespace rotor::cuda
