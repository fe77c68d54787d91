// kernels/cuda/penalties.cuh — repetition, frequency and presence penalties on logits rows
// (the CPU op's rules), from ragged prompt / output token lists on the device.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

struct PenaltyArgs {
  float* logits;                 // [S, V], row stride ld; changed in place
  int64_t ld;
  int S, V;
  const float* repetition;       // [S]; 1 = off
  const float* presence;         // [S]; 0 = off
  const float* frequency;        // [S]; 0 = off
  const int32_t* prompt_tokens;  // [Np]; row s: [prompt_start[s], prompt_start[s + 1])
  const int32_t* prompt_start;   // [S + 1]
  const int32_t* output_tokens;  // [No]; row s: [output_start[s], output_start[s + 1])
  const int32_t* output_start;   // [S + 1]
  int32_t* counts;               // [S, V] i32 scratch; only the listed tokens' entries are touched
};

// Token ids outside [0, V) are skipped (the host checks what it can; these live on the device).
cudaError_t apply_penalties(const PenaltyArgs& a, cudaStream_t stream);

}  // namespace rotor::cuda
