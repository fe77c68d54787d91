// kernels/cuda/mask_tokens.cuh — tokens a row may not sample: their logits become -inf.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// logits [S, V] f32 (row stride ld); row s masks ids[start[s] .. start[s + 1]). Ids outside
// [0, V) are skipped.
cudaError_t mask_tokens(float* logits, int64_t ld, int S, int V, const int32_t* ids, const int32_t* start,
                        cudaStream_t stream);

}  // namespace rotor::cuda
