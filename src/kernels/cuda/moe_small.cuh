// kernels/cuda/moe_small.cuh — the routed experts of a small batch (decode: T * topk slots up to
// kMoeSmallSlots) in two kernels, bf16 or W8A8, behind moe_experts and moe_w8a8_experts (which
// choose it): gate+up by slot (each block streams the gate and up rows of its slot's expert for
// a few columns, SiLU·mul fused; W8A8 quantises its token's x itself) and down by token (each
// block requantises (W8A8) the token's topk rows of h in shared memory, streams the down rows of
// its columns for every expert of the token and sums the weighted outputs in k order: the
// un-permute fused). No sorting: every weight byte of a touched expert is read once per slot.
//
// W8A8 gives the tiled path's bits (exact i32 sums, the same quantisation and epilogues). bf16
// sums in f32 on CUDA cores in a fixed order (the same bits every run and whatever the batch,
// within one path), so it differs from the tiled tensor-core sums by bf16 rounding.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/cuda/moe.cuh"
#include "kernels/cuda/moe_w8a8.cuh"

namespace rotor::cuda {

// The most slots (T * topk) the small path takes: batch 8 at top-8, 16 at top-4 (default
// decode-graph sizes 1, 2, 4, 8, 16 fall on the same side of it as the batches they pad).
constexpr int kMoeSmallSlots = 64;

// The most slots MoeSmall::Measured gives the small path (with I <= kShortK).
constexpr int kMoeSmallFastSlots = 16;

// Whether the small path takes T tokens in this mode (slots within kMoeSmallSlots; its shared
// memory fits).
bool moe_small_takes(MoeSmall mode, int T, int H, int I, int topk, bool int8);

// Scratch bytes of the small path for T tokens (h per slot).
size_t moe_small_workspace(int T, int I, int topk, bool int8);

// The small path's two kernels (the caller checks moe_small_takes and the shapes as for the
// tiled path).
cudaError_t moe_small_experts(const MoeArgs& a, void* workspace, cudaStream_t stream);
cudaError_t moe_small_w8a8_experts(const MoeW8A8Args& a, void* workspace, cudaStream_t stream);

}  // namespace rotor::cuda
