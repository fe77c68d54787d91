// kernels/decode_plan.h — the split plan of a step's decode attention (the plan/run idea of
// FlashInfer, written for rotor). The host cuts each decoding sequence's context into splits
// once per step, from the context lengths and what fills the device, so that batch 1 uses
// every SM and large batches keep the fixed long splits. The plan goes up with the step's
// metadata; every layer's attention_decode reads it from device memory, so a decode graph
// (its grid sized by decode_plan_max_items for its batch) replays with any plan.
// The layout helpers are inline and fmt-free: the CUDA launcher includes this header.
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace rotor {

// Splits start at multiples of this many tokens: the kernels' KV tile (every block size is a
// multiple of it, so a tile never crosses a cache block).
constexpr int kDecodeSplitAlign = 16;

// What the planner works with; a backend gives target_items and max_chunk
// (Ops::decode_split_params), the runner may change min_chunk.
struct DecodeSplitParams {
  int target_items = 1;   // (sequence, split) items that fill the device once
  int min_chunk = 128;    // fewest tokens per split (a multiple of 16)
  int max_chunk = 2048;   // most tokens per split (a multiple of 16): where filling the device
                          // would take longer splits, the plan is the fixed max_chunk one
  bool plan_by_default = false;  // the backend plans its decode splits unless told otherwise
};

// Device layout of a plan over S rows (i32):
//   [0]                    n, the plan's items
//   [1, S + 2)             first[s]: row s owns items [first[s], first[s + 1]), in token order
//   [S + 2 + 2 i], [+1]    item i: its row, its first token; it ends where the row's next item
//                          starts, or at the row's context length
inline int64_t decode_plan_size(int S, int items) { return 2 + int64_t{S} + 2 * int64_t{items}; }

// The most items a plan of S rows with contexts of at most max_len tokens can hold: what a
// launch's grid and its split workspace are sized for.
inline int decode_plan_max_items(const DecodeSplitParams& p, int S, int max_len) {
  const int per_row = std::max(1, (max_len + p.max_chunk - 1) / p.max_chunk);
  return std::max(p.target_items + S, S * per_row);
}

struct DecodePlan {
  std::vector<int32_t> data;  // the device layout above
  int items = 0;
  int chunk = 0;              // the longest split allowed: every item has at most this many tokens
};

// The plan of rows [0, lens.size()) with context lengths lens (each >= 1). Rows from num_real
// on are padding (a decode graph's): one item each, and left out of the choice of the split
// length, so padding never changes a real row's splits. The split length is the shortest
// multiple of 16 in [min_chunk, max_chunk] that keeps the real rows' items within
// target_items; each row is then cut into ceil(len / chunk) nearly equal splits starting at
// multiples of 16. Where even max_chunk exceeds the target, the rows are cut at multiples of
// max_chunk (the fixed splits). Throws on bad parameters or lengths.
DecodePlan plan_decode_splits(std::span<const int32_t> lens, int num_real, const DecodeSplitParams& p);

// Whether a runner plans its decode splits, from the environment: ROTOR_DECODE_SPLITS=plan (a
// plan per step), fixed (the backend's fixed splits), or unset (the backend's choice,
// DecodeSplitParams::plan_by_default: the GPU plans, the CPU does not); ROTOR_DECODE_SPLIT_MIN=N
// and ROTOR_DECODE_SPLIT_MAX=N set min_chunk and max_chunk (0 or unset: the backend's; the runner
// takes a max_chunk no shorter than the backend's). Throws on other values.
struct DecodeSplitOptions {
  enum class Mode { Backend, Plan, Fixed };
  Mode mode = Mode::Backend;
  int min_chunk = 0;
  int max_chunk = 0;
  bool plans(const DecodeSplitParams& backend) const {
    return mode == Mode::Plan || (mode == Mode::Backend && backend.plan_by_default);
  }
};
DecodeSplitOptions decode_split_options_from_env();

}  // namespace rotor
