// kernels/cuda/moe.cuh — the routed experts of one MoE layer: slots (token, k) sorted by
// expert into BM-row tiles, one grouped tensor-core GEMM for gate and up with SiLU·mul fused,
// one for down, and the weighted sum back to tokens. Each touched expert's weights are read
// once per tile of its tokens (decode: once per step).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rotor::cuda {

struct MoeArgs {
  const void* x;               // [T, H] bf16, row stride ldx
  int64_t ldx;
  const float* topk_weights;   // [T, topk]
  const int32_t* topk_ids;     // [T, topk]; ids outside [0, E) contribute nothing
  const void* w13;             // [E, 2I, H] bf16: rows [0, I) gate, [I, 2I) up of each expert
  const void* w2;              // [E, H, I] bf16
  void* out;                   // [T, H] bf16, row stride ldo
  int64_t ldo;
  int T, H, I, E, topk;        // H and I multiples of 8
};

// Scratch bytes for T tokens (the same for every T' <= T).
size_t moe_workspace(int T, int H, int I, int E, int topk);

cudaError_t moe_experts(const MoeArgs& a, void* workspace, cudaStream_t stream);

}  // namespace rotor::cuda
