// kernels/cuda/logprobs.cuh — log_softmax of logits rows: the log-prob and rank of a given
// token and the K most likely tokens, best first (ties: lower id first), as the CPU op.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

constexpr int kMaxTopLogprobs = 1024;  // K at most

struct LogprobArgs {
  const float* logits;       // [S, V], row stride ld
  int64_t ld;
  int S, V;
  const int32_t* token_ids;  // [S]; an id outside [0, V) gets log-prob NaN and rank 0
  float* token_logprob;      // [S]
  int32_t* token_rank;       // [S]: 1 + the number of tokens with a strictly larger logit
  int K;                     // 0 <= K <= min(V, kMaxTopLogprobs)
  int32_t* top_ids;          // [S, K] (unused when K = 0)
  float* top_logprobs;       // [S, K]
};

cudaError_t logprobs(const LogprobArgs& a, cudaStream_t stream);

}  // namespace rotor::cuda
