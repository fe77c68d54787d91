// kernels/cuda/copy_tokens.cuh — indexed copy of token ids on the device (async scheduling:
// a step's placeholder tokens filled from the ids the previous step sampled).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// dst[dst_index[i]] = src[src_index[i]] for i < n; indices outside [0, src_len) or
// [0, dst_len) are skipped.
cudaError_t copy_tokens(const int32_t* src, int64_t src_len, const int32_t* src_index, int32_t* dst, int64_t dst_len,
                        const int32_t* dst_index, int n, cudaStream_t stream);

}  // namespace rotor::cuda
