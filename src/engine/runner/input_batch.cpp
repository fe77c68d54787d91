// engine/runner/input_batch.cpp — staging, padding, upload and views of a step's token and
// sequence metadata; the placeholder fills from the previous step's sampled ids.
#include "engine/runner/input_batch.h"

#include <algorithm>

#include "core/check.h"

namespace rotor {

InputBatch::InputBatch(Ops& ops, int T, int S, int R, int W, int block_size, int max_plan_items)
    : ops_(ops),
      block_size_(block_size),
      ids_(ops, T, 0),
      positions_(ops, T, 0),
      slots_(ops, T, -1),
      query_start_(ops, S + 1),
      seq_lens_(ops, S, 1),
      block_tables_(ops, static_cast<int64_t>(S) * W, 0),
      rows_(ops, R),
      fill_ids_src_(ops, S),
      fill_ids_dst_(ops, S),
      fill_out_src_(ops, S),
      fill_out_dst_(ops, S),
      plan_(ops, max_plan_items > 0 ? decode_plan_size(S, max_plan_items) : 1),
      max_seqs_(S) {}

void InputBatch::stage(int slot, const StepInputs& in, int width) const {
  ids_.put(slot, in.ids);
  positions_.put(slot, in.positions);
  slots_.put(slot, in.slots);
  query_start_.put(slot, in.query_start);
  seq_lens_.put(slot, in.seq_lens);
  rows_.put(slot, in.rows);
  for (int k = 0; k < in.num_seqs; ++k)
    block_tables_.put(slot, std::span(in.block_tables).subspan(static_cast<size_t>(k) * in.table_width, in.table_width),
                      static_cast<int64_t>(k) * width);
}

void InputBatch::pad_decodes(int slot, int from, int to, int width) const {
  ids_.pad(slot, from, to);
  positions_.pad(slot, from, to);
  slots_.pad(slot, from, to);
  seq_lens_.pad(slot, from, to);
  block_tables_.pad(slot, static_cast<int64_t>(from) * width, static_cast<int64_t>(to) * width);
  int32_t* qs = query_start_.host(slot);
  int32_t* rows = rows_.host(slot);
  for (int k = from; k < to; ++k) {
    qs[k + 1] = qs[k] + 1;
    rows[k] = k;
  }
}

void InputBatch::upload(int slot, int T, int S, int R, int width, const PlaceholderFills& f) const {
  ids_.upload(slot, T);
  positions_.upload(slot, T);
  slots_.upload(slot, T);
  query_start_.upload(slot, S + 1);
  seq_lens_.upload(slot, S);
  block_tables_.upload(slot, static_cast<int64_t>(S) * width);
  rows_.upload(slot, R);
  for (auto [field, v] : {std::pair{&fill_ids_src_, &f.ids_src}, {&fill_ids_dst_, &f.ids_dst},
                          {&fill_out_src_, &f.out_src}, {&fill_out_dst_, &f.out_dst}}) {
    field->put(slot, *v);
    field->upload(slot, static_cast<int64_t>(v->size()));
  }
}

int InputBatch::plan_decodes(int slot, int S, int num_real, const DecodeSplitParams& params, int max_items) const {
  ROTOR_CHECK(S >= 1 && S <= max_seqs_ && decode_plan_size(S, max_items) <= plan_.capacity(),
              "runner: a split plan of {} rows and {} items does not fit its buffer", S, max_items);
  const DecodePlan plan = plan_decode_splits(std::span<const int32_t>(seq_lens_.host(slot), S), num_real, params);
  ROTOR_CHECK(plan.items <= max_items, "runner: the split plan has {} items, the launch room for {}", plan.items,
              max_items);
  plan_.put(slot, plan.data);
  plan_.upload(slot, static_cast<int64_t>(plan.data.size()));
  return plan.items;
}

void InputBatch::fill_placeholders(const PlaceholderFills& f, const Tensor& sampled, int T,
                                   const Tensor& output_tokens) const {
  const auto n = [](const std::vector<int32_t>& v) { return static_cast<int64_t>(v.size()); };
  if (!f.ids_src.empty())
    ops_.copy_tokens(sampled, fill_ids_src_.device(n(f.ids_src)), ids_.device(T), fill_ids_dst_.device(n(f.ids_dst)));
  if (!f.out_src.empty())
    ops_.copy_tokens(sampled, fill_out_src_.device(n(f.out_src)), output_tokens, fill_out_dst_.device(n(f.out_dst)));
}

AttentionBatch InputBatch::view(int T, int S, int width, bool planned) const {
  AttentionBatch b;
  b.block_size = block_size_;
  b.num_tokens = T;
  b.num_seqs = S;
  b.positions = positions_.device(T);
  b.slot_mapping = slots_.device(T);
  b.query_start = query_start_.device(S + 1);
  b.seq_lens = seq_lens_.device(S);
  b.block_tables = block_tables_.device(static_cast<int64_t>(S) * width).view({S, width});
  if (planned) b.decode_plan = plan_.device(plan_.capacity());
  return b;
}

}  // namespace rotor
