// kernels/cuda/token_bitmask.cuh — grammar masks: logits of tokens whose bit is 0 become -inf.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// logits [S, V] f32 (row stride ld); for i < N, row rows[i] is masked by bitmask row i
// (row stride ld_bits words; bit t % 32 of word t / 32).
cudaError_t apply_token_bitmask(float* logits, int64_t ld, int V, const uint32_t* bitmask, int64_t ld_bits,
                                const int32_t* rows, int N, cudaStream_t stream);

}  // namespace rotor::cuda
