// kernels/cuda/gemv.cuh — dense GEMMs of a few rows (decode at small batch: q/k/v,
// o_proj, the router, the lm_head), bf16 and W8A8: each warp dots a few W rows with every x
// row over a slice of K, loading W straight from global memory into registers (16-byte loads,
// several in flight per thread, no shared-memory pipeline), and the warps sharing a row sum
// their slices in a fixed order. Every output element's sum runs in the same order whatever M
// is, so a token's result does not depend on the other rows (graphs on and off agree);
// W8A8's integer sums (dp4a) are exact, so its outputs are the mma path's and the CPU's bits.
// The router's GEMV may carry its top-k (gemv_route): one launch instead of two at batch 1-2.
#pragma once
#include <cuda_runtime.h>

#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/gemm_w8a8.cuh"

namespace rotor::cuda {

// Rows up to which the GEMV kernels run (above: the mma tiles), bf16 and int8 weights: where
// they were faster than the mma tiles on an H100 (docs/perf-log.md; beyond, each lane's x
// rows and sums take the registers that keep loads in flight). Both are decode graph sizes
// (1, 2, 4, 8, ...), so a padded graph batch never crosses from one path to the other.
constexpr int kGemvRows = 2;
constexpr int kGemvRowsW8A8 = 4;

// Whether gemv_bf16 / gemv_w8a8 serve these arguments: M in [1, kGemvRows] (int8:
// kGemvRowsW8A8), K a multiple of 16 bytes, x's rows and the weight 16-byte aligned.
bool gemv_fits(const DenseGemm& g);
bool gemv_fits(const W8A8Gemm& g);

// No scratch memory (capturable in a CUDA graph). early: each block loads its first step of
// W (and prefetches its second into L2) before pdl_wait, while the previous kernel still runs
// (ROTOR_EARLY_LOADS=1); the results are the same bits either way.
cudaError_t gemv_bf16(const DenseGemm& g, bool early, cudaStream_t stream);
cudaError_t gemv_w8a8(const W8A8Gemm& g, bool early, cudaStream_t stream);

// The most bytes of quantised x (M x K) gemv_w8a8_static keeps in a block's shared memory.
constexpr int64_t kGemvStaticXBytes = 32 << 10;

// Whether gemv_w8a8_static serves g (g.x unused) with bf16 x [M, K] of row stride ldx
// (elements): gemv_fits's conditions on M, K and the weight, x 16-byte aligned, ldx a
// multiple of 8, M x K <= kGemvStaticXBytes.
bool gemv_static_fits(const W8A8Gemm& g, const void* x, int64_t ldx);

// A static W8A8 weight's GEMV on bf16 x: quant_static(x, scale, offset) (the same arithmetic),
// then gemv_w8a8's product and epilogue, in one kernel (g.x unused; its out is written as
// gemv_w8a8 writes it: the same bits as quant_static then gemv_w8a8). No scratch memory.
cudaError_t gemv_w8a8_static(const W8A8Gemm& g, const void* x, int64_t ldx, float scale, float offset, bool early,
                             cudaStream_t stream);

// The router's top-k after its GEMV (gemv_route): moe_route's arguments, its logits being the
// GEMV's output.
struct GemvTopK {
  int k;              // experts per token, in [1, E]
  bool renormalize;
  float* weights;     // [M, k] f32
  int32_t* ids;       // [M, k] i32
  unsigned* ticket;   // [1] device memory: 0 before a launch and after it (the launch counts
                      // its blocks there); one launch at a time may use it
};

// A MoE layer's router in one kernel: logits [M, E] f32 = gemv_bf16(g) (the same bits), and
// in the block whose logits are stored last, moe_route of them (route_topk.cuh: the same bits).
// Needs gemv_fits(g), g.out_f32 and E = g.N <= kMaxRouteExperts. No scratch memory beyond the
// ticket (capturable in a CUDA graph, replayed any number of times).
cudaError_t gemv_route(const DenseGemm& g, const GemvTopK& topk, bool early, cudaStream_t stream);

}  // namespace rotor::cuda
