// kernels/cuda/sample.cuh — token sampling on the GPU with the CPU op's rules: greedy when
// temperature is 0, else softmax(logits / T), top-k then top-p (in descending probability,
// ties by lower id), min-p, and a Gumbel-max draw on hash(seed, counter, token) noise.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

struct SampleArgs {
  const float* logits;        // [S, V], row stride ld
  int64_t ld;
  int S, V;
  const float* temperature;   // [S]
  const int32_t* top_k;       // [S]
  const float* top_p;         // [S]
  const float* min_p;         // [S]
  const int64_t* seed;        // [S]
  const int64_t* counter;     // [S]
  int32_t* out;               // [S]
  float* probs;               // [S, V] f32 scratch (filled for rows that do not decode greedily)
};

cudaError_t sample(const SampleArgs& a, cudaStream_t stream);

}  // namespace rotor::cuda
