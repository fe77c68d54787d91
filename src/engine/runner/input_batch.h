// engine/runner/input_batch.h — InputBatch: a step's token and sequence metadata on the device
// (ids, positions, KV slots, cu_seqlens, context lengths, block tables, the hidden rows asked
// back, placeholder fills, the decode split plan), one StagedBuffer per field: staged from
// StepInputs in a slot, padded for a decode graph's batch size, uploaded, and viewed as the
// ops' AttentionBatch.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/runner/staged_buffer.h"
#include "engine/runner/step_inputs.h"
#include "kernels/ops.h"

namespace rotor {

// Placeholder fills of a step: (sample row of the previous step, destination index) pairs for
// the step's token ids and for its penalty output-token list.
struct PlaceholderFills {
  std::vector<int32_t> ids_src, ids_dst, out_src, out_dst;
};

class InputBatch {
 public:
  // Up to max_tokens tokens, max_seqs sequences, max_rows rows, max_table_width blocks a row,
  // decode split plans of up to max_plan_items items (0: no plans).
  InputBatch(Ops& ops, int max_tokens, int max_seqs, int max_rows, int max_table_width, int block_size,
             int max_plan_items = 0);

  // Writes `in`'s tokens, sequences and rows into the slot, block tables `width` wide.
  void stage(int slot, const StepInputs& in, int width) const;
  // Decode rows [from, to) of the slot become padding: token 0 at position 0, no KV write,
  // context 1, block 0, hidden row = itself. query_start[from] must be staged.
  void pad_decodes(int slot, int from, int to, int width) const;
  // Uploads the used part of each field: T tokens, S sequences, R rows, the fills.
  void upload(int slot, int T, int S, int R, int width, const PlaceholderFills& fills) const;
  // The split plan of the slot's decode rows [0, S) (of which the first num_real are real,
  // the rest a graph's padding), from their staged context lengths: planned, checked against
  // max_items (what the launch's grid holds), staged and uploaded. Returns its item count.
  int plan_decodes(int slot, int S, int num_real, const DecodeSplitParams& params, int max_items) const;
  // Copies the previous step's sampled ids (sampled) into the placeholders of the uploaded ids
  // [T] and of the penalty output list output_tokens (used when there are output fills).
  void fill_placeholders(const PlaceholderFills& fills, const Tensor& sampled, int T, const Tensor& output_tokens) const;

  // Device views of what upload() sent; with `planned`, decode_plan is the uploaded plan.
  AttentionBatch view(int T, int S, int width, bool planned = false) const;
  Tensor ids(int T) const { return ids_.device(T); }
  Tensor rows(int R) const { return rows_.device(R); }

 private:
  Ops& ops_;
  int block_size_;
  StagedBuffer<int32_t> ids_, positions_, slots_, query_start_, seq_lens_, block_tables_, rows_;
  StagedBuffer<int32_t> fill_ids_src_, fill_ids_dst_, fill_out_src_, fill_out_dst_;
  StagedBuffer<int32_t> plan_;
  int max_seqs_ = 0;
};

}  // namespace rotor
