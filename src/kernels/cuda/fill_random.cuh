// kernels/cuda/fill_random.cuh — the dummy-weight fill: element i = mean + std * noise from
// hash(seed, i) (core/hash_rng.h), bit-identical to the CPU op.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace rotor::cuda {

// data: n elements of dtype bf16, f32 or e4m3 (rounded as core/fp8.h: cvt.rn.satfinite).
cudaError_t fill_random(void* data, DType dtype, int64_t n, uint64_t seed, float mean, float std,
                        cudaStream_t stream);

}  // namespace rotor::cuda
