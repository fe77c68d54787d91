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
  const int32_t* topk_ids;     // [T, topk] router ids; expert e here is id first + e, ids
                               // outside [first, first + E) contribute nothing
  const void* w13;             // [E, 2I, H] bf16: rows [0, I) gate, [I, 2I) up of each expert
  const void* w2;              // [E, H, I] bf16
  void* out;                   // [T, H] bf16, row stride ldo
  int64_t ldo;
  int T, H, I, E, topk;        // H and I multiples of 8
  int first = 0;               // the router id of expert 0 (expert parallelism)
  bool early = false;          // the small path's down kernel loads before pdl_wait (moe_small.cuh)
  int num_sms = 0;             // the device's SMs: the 16-row gate+up tiles' depth (gate_up_3_stages)
};

// Which batches take the two-kernel small path (moe_small.cuh) instead of the tiles: none
// (ROTOR_MOE_SMALL=0); those it was measured faster on (the default: at most
// kMoeSmallFastSlots slots with I <= kShortK, a tensor-parallel rank's short experts; with
// 30B-A3B's I = 768, and at more slots, the tiles were faster: H100, docs/perf-log.md); or
// every batch it can take (ROTOR_MOE_SMALL=all, for tests and A/B).
enum class MoeSmall { Off, Measured, All };

// Scratch bytes for T tokens (the same for every T' <= T, with the small path on or off).
size_t moe_workspace(int T, int H, int I, int E, int topk);

// small: which batches take the two-kernel small path (moe_small.cuh), the others the tiles.
// gate_up_stages: the 16-row gate+up tiles' pipeline depth, 3 or 4, or 0 for gate_up_3_stages'
// rule (the same bits either way).
cudaError_t moe_experts(const MoeArgs& a, MoeSmall small, int gate_up_stages, void* workspace, cudaStream_t stream);

// The 16-row gate+up tiles (bf16 and int8 alike: 40 KB of shared memory, 5 blocks an SM at 4
// stages) run 3 stages deep (7 an SM) where the blocks the step's experts are expected to take,
// ceil(I / 32) a touched expert, overrun the SMs' places at 4: the blocks past them would run as
// a second, thin wave. Touched experts: E (1 - (1 - 1/E)^(T topk)), the slots falling on E
// experts alike. Measured in W8A8 on an H100 (perf-log 2026-12-06 08:02): 3 stages faster at a
// TP-8 rank's batch 32 and 30B-A3B's batch 4, slower at the rank's batch 4 and 8.
bool gate_up_3_stages(int T, int topk, int E, int I, int num_sms);
// The depth a step's 16-row gate+up tiles run at: gate_up_stages where it forces one (3 or 4),
// else (0) gate_up_3_stages' rule; true for 3.
bool gate_up_runs_3_stages(int gate_up_stages, int T, int topk, int E, int I, int num_sms);

// Expert intermediate sizes up to this take the short-K down GEMM tiles at decode (both paths).
constexpr int kShortK = 256;
// The most experts one rank's layer may hold (moe_align's one-block scan).
constexpr int kMaxExperts = 4096;

// ---- the expert-sorted layout both expert paths (bf16 here, W8A8 in moe_w8a8.cu) share ----

// Lays a step's scratch arrays out one after another in a workspace, each 256-byte aligned;
// over a null workspace it only counts the bytes (the workspace's size).
class ScratchCarver {
 public:
  explicit ScratchCarver(void* workspace) : base_(static_cast<char*>(workspace)) {}
  template <typename T>
  T* take(size_t count) {
    T* p = base_ ? reinterpret_cast<T*>(base_ + bytes_) : nullptr;
    bytes_ += (count * sizeof(T) + 255) / 256 * 256;
    return p;
  }
  size_t bytes() const { return bytes_; }

 private:
  char* base_;
  size_t bytes_ = 0;
};

// The expert-sorted list of a step in bm-row tiles (moe_align's outputs).
struct MoeSorted {
  int32_t* sorted;       // [padded rows]
  int32_t* tile_expert;  // [padded rows / bm]
  int32_t* num_tiles;    // [1]
  int32_t* cursor;       // [E] the next free row of each expert while many blocks place slots
};
MoeSorted take_sorted(ScratchCarver& scratch, int T, int topk, int E, int bm);

// The most bytes carve(ScratchCarver&, bm) takes over the tile heights moe_tile_rows chooses
// from (16, 64, 128): a workspace that serves every step.
template <typename Carve>
size_t largest_scratch(Carve&& carve) {
  size_t most = 0;
  for (const int bm : {16, 64, 128}) {
    ScratchCarver sizing(nullptr);
    carve(sizing, bm);
    most = most > sizing.bytes() ? most : sizing.bytes();
  }
  return most;
}

// Tile rows for T tokens: 16 when experts see few tokens (decode), 64, or 128 (the wgmma
// tiles) once padding every expert to them wastes little.
int moe_tile_rows(int T, int topk, int E);
// Rows of the sorted list at most (each expert padded to whole bm-row tiles).
int64_t moe_max_padded_rows(int T, int topk, int E, int bm);
// Sorts the slots t * topk + j of ids [T * topk] by expert (id - first, those in [0, E)) into
// bm-row tiles: out.sorted [max padded rows] (-1 = padding), out.tile_expert [tiles],
// out.num_tiles [1]. One block, or past 8,192 slots one that lays out the tiles and a launch of
// many that place the slots (through out.cursor).
cudaError_t moe_align(const int32_t* ids, int slots, int first, int E, int bm, const MoeSorted& out,
                      cudaStream_t stream);
// moe_align, and x [T, H] (bf16, row stride ldx, H a multiple of 8) quantised per token into
// xq [T, H] and xs [T] as quant_per_token does, by the other blocks of align's (first) launch:
// the W8A8 experts' first two steps in one launch (two past 8,192 slots).
cudaError_t moe_quant_align(const void* x, int64_t ldx, int T, int H, int8_t* xq, float* xs, const int32_t* ids,
                            int slots, int first, int E, int bm, const MoeSorted& out, cudaStream_t stream);
// out[t] (bf16, row stride ldo) = sum_j topk_weights[t, j] * y[t * topk + j] over ids in
// [first, first + E), in j order (0 when there is none); y [T * topk, H] bf16.
cudaError_t moe_unpermute(const void* y, const float* topk_weights, const int32_t* ids, int T, int topk, int first,
                          int E, int H, void* out, int64_t ldo, cudaStream_t stream);

}  // namespace rotor::cuda
