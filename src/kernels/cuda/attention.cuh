// kernels/cuda/attention.cuh — causal GQA attention over the paged KV cache
// [num_blocks, Hkv, block_size, hd] (bf16, or e4m3 with a K and a V scale per layer; hd 128 or
// 64, block_size a multiple of 16). An e4m3 cache is read as f16 (fp8.cuh: exact), the
// products run on f16 tensor cores (the query and the softmax weights rounded to f16, finer
// than bf16), and the scales are folded in: K's into the softmax scale, V's into the output.
//   decode: flash-decoding; each block of threads takes one (sequence, KV head, split of
//     kPartition tokens) and loads each KV tile once for all query heads of the group
//     (tensor-core [16 x hd] x [hd x 16] products); a second kernel merges the splits.
//     By default the split of a sequence depends only on its own length (kDecodePartition
//     tokens), so a sequence's result does not depend on the batch or the grid (decode graphs
//     replay the same numbers). With a split plan (kernels/decode_plan.h, AttnArgs::plan) the
//     host chooses the splits per step to fill the GPU; the grid is the plan's bound and the
//     kernel reads its items from device memory, so one graph replays any plan (a row's
//     result then depends on the step's other rows, as FlashInfer's does; a graph's padding
//     rows still change nothing).
//     An e4m3 cache streams as bytes (16 per copy) and each thread reads the codes it needs
//     from shared memory and converts them in registers (no ldmatrix for 8-bit transposes).
//     With qk_fused (AttnQkFused) a step of decode rows only also does qk_norm_rope's work in
//     the kernel: q from the raw qkv rows, this step's k and v written to the cache.
//   prefill: a cached prefix plus the new chunk, causal; head size 128 on Hopper warpgroup
//     MMA (128 query rows x 128 keys per step, attention_prefill_hopper.cu), head size 64 with
//     FlashAttention-2 tiling on mma.sync (128 query rows, 32 per warp, x 64 keys per step).
//     An e4m3 cache is copied as bytes and converted to f16 tiles in shared memory before the
//     products.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rotor::cuda {

constexpr int kAttnMaxHeadDim = 128;
// The head sizes the kernels are built for (every Qwen3-MoE has 128; small test models 64).
inline bool attention_head_dim_supported(int hd) { return hd == 128 || hd == 64; }
// Tokens per decode split: 2048, the best of 512 / 1024 / 2048 for the 48-layer decode step
// at 32 x 16k on the H200 (docs/perf-log.md).
constexpr int kDecodePartition = 2048;

// Decode with this step's QK-norm + RoPE and cache write fused in (AttnArgs::qk_fused): every
// row a decode row, AttnArgs::q its raw qkv row. A block stages its query heads normed and
// rotated (norm_rope.cuh); in the blocks holding a row's newest token, the warp whose tile holds
// it computes its k (normed, rotated) and v, writes them into the cache as qk_norm_rope does, bit
// for bit, and over the tile's copy in shared memory (so those blocks, too, issue their first
// tiles before pdl_wait).
struct AttnQkFused {
  const void* q_norm_w;        // [hd] bf16
  const void* k_norm_w;        // [hd] bf16
  float eps;
  const float* rope;           // [max_pos, hd]: cos in [:hd/2], sin in [hd/2:]
  int max_pos;
  const int32_t* positions;    // [rows]
  const int32_t* slots;        // [rows] block * block_size + offset; < 0 (or past num_slots) = do not write
  int64_t num_slots;           // num_blocks * block_size
};

struct AttnArgs {
  const void* q;               // [rows, Hq, hd] bf16 (row stride q_stride elements); qk_fused: the
                               // raw qkv rows [rows, (Hq + 2 Hkv) * hd] (k head h at (Hq + h) * hd,
                               // v head h at (Hq + Hkv + h) * hd)
  int64_t q_stride;
  void* k_cache;               // [num_blocks, Hkv, block_size, hd] bf16, or e4m3 codes (kv_fp8);
  void* v_cache;               // written only with qk_fused (this step's k and v)
  bool kv_fp8;                 // the cache holds e4m3: a value is code * kv_scales[0] (K) or [1] (V)
  const float* kv_scales;      // kv_fp8: [2] f32 on the device, read by the kernels (this step's
                               // qk_norm_rope may have computed them)
  const int32_t* block_tables; // [S, bt_stride]
  int64_t bt_stride;
  const int32_t* seq_lens;     // [S] context after this step
  const int32_t* query_start;  // [S + 1]
  void* out;                   // [rows, Hq * hd] bf16 (row stride out_stride)
  int64_t out_stride;
  float scale;
  int seq_begin, seq_end;      // sequences handled; decode: [0, nd), one q row each
  int Hq, Hkv, block_size;
  int hd;                      // head size: 128 or 64
  int max_seq_len;             // decode grid: splits of the longest context
  int max_query_len;           // prefill grid
  const int32_t* plan;         // decode: the split plan (decode_plan.h layout over seq_end rows), or null
  int plan_max_items;          // decode with a plan: the grid's items (decode_plan_max_items)
  int e4m3_stages;             // decode, kv_fp8: KV tiles in flight per warp, 4 or 3 (ROTOR_E4M3_STAGES)
  bool merge_wide;             // decode: the merge by 8 groups of threads where splits are many (ROTOR_MERGE_WIDE)
  bool early_kv;               // decode: a block whose tokens end before the context's last issues its
                               // first K/V tiles before pdl_wait (ROTOR_EARLY_ATTENTION=0: off)
  bool qk_fused;               // decode: QK-norm + RoPE and the cache write fused in (qk; the fp8
                               // cache's scales given, not computed this step)
  AttnQkFused qk;
};

// Scratch for decode split partials: rows x Hq x splits(max_seq_len) x (hd + 2) f32 (sized
// for the largest hd).
size_t attention_decode_workspace(int rows, int Hq, int max_seq_len);

// With a plan: plan_max_items x Hq x (hd + 2) f32.
size_t attention_decode_plan_workspace(int max_items, int Hq);
// Thread blocks of the decode kernel one SM holds at once (head size 128 or 64; bf16 or e4m3
// cache at e4m3_stages, for query-head groups of `group`; the kernel with QK-norm + RoPE fused
// in where qk_fused), for the planner's wave: DecodeSplitParams::target_items.
int attention_decode_blocks_per_sm(int hd, bool kv_fp8, int e4m3_stages, int group, bool qk_fused);
// Thread blocks one (sequence, split) item takes: KV heads x groups of 16 query heads.
inline int attention_decode_blocks_per_item(int Hq, int Hkv) { return Hkv * ((Hq / Hkv + 15) / 16); }

cudaError_t attention_decode(const AttnArgs& a, void* workspace, cudaStream_t stream);
cudaError_t attention_prefill(const AttnArgs& a, cudaStream_t stream);
// The head-size-128 prefill kernel (wgmma; sm_90a), called by attention_prefill.
cudaError_t attention_prefill_hd128_hopper(const AttnArgs& a, cudaStream_t stream);

}  // namespace rotor::cuda
