// kernels/cuda/moe_route.cuh — the MoE router: softmax over experts, top-k (ties: lower id
// first), optional renormalisation of the k weights.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rotor::cuda {

// Experts up to which the GPU routes (a warp per token, 16 probabilities a lane).
constexpr int kMaxRouteExperts = 512;

// logits [T, E] f32 (row stride ld); weights [T, k] f32; ids [T, k] i32. E <= kMaxRouteExperts, k <= E.
cudaError_t moe_route(const float* logits, int64_t ld, int T, int E, int k, bool renormalize, float* weights,
                      int32_t* ids, cudaStream_t stream);

}  // namespace rotor::cuda
