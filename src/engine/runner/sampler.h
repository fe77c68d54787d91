// engine/runner/sampler.h — Sampler: everything after the hidden rows of a step. Logits in
// chunks of up to max_seqs rows (the first queued on its own, so that a step's host work can
// run behind it); for the sample rows grammar bitmasks (structured outputs: given by the
// runner once the forward and those logits are queued, staged and uploaded),
// penalties, masks (min_tokens, allowed_token_ids, bad_words), the draw (temperature, top-k/p,
// min-p, per-request seeds) and log-probs; greedy argmax for the prompt rows, and the log-probs
// of their targets (the next prompt token) when prompt log-probs are asked; logits rows copied
// out on request; the sampled ids and log-probs copied down into a slot's page-locked memory
// and read back after the step's event.
#pragma once
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/runner/staged_buffer.h"
#include "engine/runner/step_inputs.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace rotor {

class Sampler {
 public:
  Sampler(Ops& ops, int max_rows, int max_seqs, int vocab);

  // The sampling parameters of rows [0, R) of `in` (rows past its sample rows are greedy).
  void stage(int slot, const StepInputs& in, int R) const;
  // Rows [from, to) of the slot become greedy padding.
  void pad(int slot, int from, int to) const;
  void upload(int slot, int R) const;
  // Grows what a step of `in` over R rows will use in `slot` (the penalty and mask lists, the
  // log-prob and prompt log-prob outputs, their page-locked copies), so that stage, upload,
  // sample and copy_down allocate nothing. A growth waits for this backend's queued work and
  // allocates, which orders the whole device: with tensor-parallel ranks sharing a GPU every
  // rank must do it before any rank queues the step (ModelRunner::reserve).
  void reserve(int slot, const StepInputs& in, int R);
  // Sets aside, in every slot, what any step within the limits can use: log-probs and prompt
  // log-probs of up to max_logprobs top ids (none if negative), penalty lists of up to
  // max_model_len prompt and output tokens a sample row, masks of up to the vocabulary a row.
  // reserve() then grows nothing for such steps.
  void reserve_limits(int max_logprobs, int max_model_len);
  // How many times reserve() grew a buffer (each growth waited for this backend's queued work).
  int64_t growths() const { return growths_; }
  // Stages and uploads `in`'s penalty and mask lists and prompt-row targets (when it has any).
  void upload_extras(int slot, const StepInputs& in);
  // The uploaded penalty output-token list [n] (placeholders in it are filled on the device).
  Tensor output_tokens(int64_t n) const { return output_tokens_.device(n); }

  // Queues the logits of hidden [R, H]'s first chunk through `model`: rows [0, min(R,
  // max_seqs)), which hold every sample row. sample() follows it.
  void first_logits(Model& model, const Tensor& hidden, int R);
  // The rest of hidden [R, H]'s logits and everything after them, sampled into sampled();
  // logit_rows: (sample row, destination) pairs whose logits (after bitmasks, penalties and
  // masks) are copied out. With `in` (staged in `slot`), its sample rows get their grammar
  // bitmasks (`bitmasks`: one row of ceil(V / 32) u32 per in->bitmask_rows entry, copied into
  // the slot's staging), then penalties and masks, before the draw, and log-probs after: of the
  // logits as the grammar allows them (as vLLM's), before penalties and masks; its prompt rows
  // get the log-probs of their targets.
  void sample(int slot, Model& model, const Tensor& hidden, int R,
              const std::vector<std::pair<int, float*>>& logit_rows, const StepInputs* in,
              std::span<const uint32_t> bitmasks);
  // [max_rows] i32 on the device: the last draws (the next step's placeholder fills read them).
  const Tensor& sampled() const { return sampled_.tensor; }

  // Queues the copies of R sampled ids (and `in`'s log-probs and prompt log-probs, if any) into the slot.
  void copy_down(int slot, int R, const StepInputs* in);
  // After the step's event: its sampled ids, prompt argmaxes, log-probs and prompt log-probs
  // into out (by work index).
  void read(int slot, const LaunchedStep& step, std::vector<SeqResult>& out) const;
  // After the step's event: the ids it sampled, by sample row (page-locked memory of the slot).
  const int32_t* drawn(int slot) const { return static_cast<const int32_t*>(sampled_host_[slot].data()); }

 private:
  void read_prompt_logprobs(int slot, const LaunchedStep& step, std::vector<SeqResult>& out) const;
  // Queues rows' log-probs into results as [rows] f32 log-prob, [rows] i32 rank, [rows, K] i32
  // top ids, [rows, K] f32 top log-probs (the layout read() and read_prompt_logprobs() parse).
  void copy_logprobs_down(Buffer& results, size_t rows, size_t K, const Tensor& logprob, const Tensor& rank,
                          const Tensor& top_ids, const Tensor& top_logprobs);
  // A device tensor of at least n values, grown (after the queued work) when too small.
  Tensor fit(OwnedTensor& t, DType dtype, int64_t n);
  // The same growth; whether it grew.
  bool grow_to(OwnedTensor& t, DType dtype, int64_t n);
  // A page-locked buffer of at least `bytes` (its contents dropped when it grows); whether it grew.
  bool fit_host(Buffer& b, size_t bytes);
  // Grows the penalty and mask lists, the log-prob outputs and the slot's page-locked copies
  // for a step of ns sample rows (log-probs of K top ids when K >= 0; raw logits kept when
  // penalized or masked) and P prompt rows (pk top ids when pk >= 0); how many buffers grew.
  struct Needs {
    int64_t penalty_rows = 0, prompt_tokens = 0, output_tokens = 0, mask_ids = 0;
    int64_t ns = 0, K = -1, P = 0, pk = -1;
    bool raw_logits = false;
  };
  int grow(int slot, const Needs& n);
  // Stages and uploads the grammar bitmasks of `in`'s bitmask rows and masks those rows of
  // sample_logits [ns, V].
  void apply_bitmasks(int slot, const StepInputs& in, std::span<const uint32_t> bitmasks, const Tensor& sample_logits);

  Ops& ops_;
  int max_rows_, max_seqs_, vocab_;
  int bitmask_words_;                    // ceil(vocab / 32)
  StagedBuffer<float> temperature_, top_p_, min_p_;
  StagedBuffer<int32_t> top_k_;
  StagedBuffer<int64_t> seed_, counter_;
  // Penalties and masks (grown as needed; never read by CUDA graphs).
  StagedBuffer<float> repetition_, presence_, frequency_;
  StagedBuffer<int32_t> prompt_start_, output_start_, mask_start_, prompt_tokens_, output_tokens_, mask_ids_;
  StagedBuffer<int32_t> targets_;  // [max_rows] of prompt rows (prompt log-probs)
  // Grammar bitmasks [max_seqs, bitmask_words] (u32 bits in i32 words) and the sample row each masks.
  StagedBuffer<int32_t> bitmask_, bitmask_rows_;
  OwnedTensor logits_, sampled_, raw_logits_, tok_logprob_, tok_rank_, top_ids_, top_logprobs_;
  OwnedTensor prompt_logprob_, prompt_rank_, prompt_top_ids_, prompt_top_logprobs_;  // of prompt rows
  // Per slot, page-locked: sampled ids [max_rows] i32; log-probs [ns] f32, ranks [ns] i32, top
  // ids [ns, K] i32, top log-probs [ns, K] f32.
  std::array<Buffer, kStagingSlots> sampled_host_, results_host_;
  std::array<Buffer, kStagingSlots> prompt_results_host_;  // the same four for the P prompt rows
  int64_t growths_ = 0;
};

}  // namespace rotor
