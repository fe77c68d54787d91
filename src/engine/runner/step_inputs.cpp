// engine/runner/step_inputs.cpp — a step's work list checked and flattened into host arrays:
// decodes first, tokens, positions, KV slots, block tables, the rows asked back (with the
// targets of prompt log-probs), sampling parameters, penalty token lists, masks, the rows with
// grammar bitmasks, and the placeholders still to be filled.
#include "engine/runner/step_inputs.h"

#include <algorithm>
#include <numeric>

#include "core/check.h"

namespace rotor {

void StepInputs::set_token(int seq, int32_t token) {
  for (const Placeholder& p : placeholders) {
    if (p.seq != seq) continue;
    if (p.ids_index >= 0) ids[p.ids_index] = token;
    if (p.output_index >= 0) output_tokens[p.output_index] = token;
  }
}

void StepInputs::set_previous_row(int seq, int row) {
  for (Placeholder& p : placeholders)
    if (p.seq == seq) p.source_row = row;
}

StepInputs prepare_step(std::span<const SeqWork> work, const RunnerOptions& opt, int vocab_size) {
  const int max_blocks_per_seq = (opt.max_model_len + opt.block_size - 1) / opt.block_size;
  const int S = static_cast<int>(work.size());
  ROTOR_CHECK(S > 0 && S <= opt.max_num_seqs, "runner: {} sequences in a step (at most {})", S, opt.max_num_seqs);
  StepInputs in;
  in.num_seqs = S;
  // Decodes (one new token) first, then prefill chunks; stable so the batch order is kept.
  std::vector<int> order(S);
  std::iota(order.begin(), order.end(), 0);
  std::stable_partition(order.begin(), order.end(), [&](int i) { return work[i].tokens.size() == 1; });
  // Block tables as wide as the longest of this step (not max_model_len's), row-major.
  for (const SeqWork& w : work) in.table_width = std::max(in.table_width, static_cast<int>(w.block_table.size()));
  in.block_tables.assign(static_cast<size_t>(S) * in.table_width, 0);
  in.query_start.push_back(0);
  in.decode_only = true;
  for (int k = 0; k < S; ++k) {
    const SeqWork& w = work[order[k]];
    const int n = static_cast<int>(w.tokens.size());
    const int total = w.num_computed + n;
    ROTOR_CHECK(n > 0, "runner: a sequence with no new tokens");
    ROTOR_CHECK(total <= opt.max_model_len, "runner: context {} exceeds max_model_len {}", total, opt.max_model_len);
    ROTOR_CHECK(in.num_tokens + n <= opt.max_num_tokens, "runner: more than {} tokens in a step", opt.max_num_tokens);
    ROTOR_CHECK(static_cast<int64_t>(w.block_table.size()) * opt.block_size >= total &&
                    static_cast<int>(w.block_table.size()) <= max_blocks_per_seq,
                "runner: {} blocks cannot hold {} tokens", w.block_table.size(), total);
    if (n == 1) ++in.num_decode;
    in.decode_only &= n == 1 && w.sample && !w.prompt_argmax && !w.return_logits;
    for (int i = 0; i < n; ++i) {
      const int p = w.num_computed + i;
      const int32_t block = w.block_table[p / opt.block_size];
      ROTOR_CHECK(block >= 0 && block < opt.num_blocks, "runner: KV block {} out of range", block);
      if (w.tokens[i] == kPlaceholderToken) {
        in.placeholders.push_back({order[k], static_cast<int>(in.ids.size()), -1});
      } else {
        ROTOR_CHECK(w.tokens[i] >= 0 && w.tokens[i] < vocab_size, "runner: token {} outside the vocabulary",
                    w.tokens[i]);
      }
      in.ids.push_back(w.tokens[i]);
      in.positions.push_back(p);
      in.slots.push_back(block * opt.block_size + p % opt.block_size);
    }
    in.num_tokens += n;
    std::copy(w.block_table.begin(), w.block_table.end(),
              in.block_tables.begin() + static_cast<size_t>(k) * in.table_width);
    in.query_start.push_back(in.num_tokens);
    in.seq_lens.push_back(total);
    in.max_query_len = std::max(in.max_query_len, n);
    in.max_seq_len = std::max(in.max_seq_len, total);
    if (w.sample) {
      in.rows.push_back(in.num_tokens - 1);
      in.sample_seq.push_back(order[k]);
    }
  }
  in.num_sample = static_cast<int>(in.rows.size());
  in.targets.assign(in.rows.size(), 0);
  for (int k = 0; k < S; ++k) {
    const SeqWork& w = work[order[k]];
    const int P = static_cast<int>(w.prompt_tokens.size());
    const bool lp = w.params.prompt_logprobs && w.num_computed < P;
    if (!w.prompt_argmax && !lp) continue;
    const int n = in.query_start[k + 1] - in.query_start[k];
    // Positions p of the chunk with a prompt token after them (p + 1 < P) come first.
    const int with_target = lp ? std::clamp(P - 1 - w.num_computed, 0, n) : 0;
    in.argmax_seq.push_back(order[k]);
    in.argmax_count.push_back(n);
    in.prompt_lp_count.push_back(with_target);
    in.prompt_lp_k.push_back(lp ? *w.params.prompt_logprobs : -1);
    if (lp) {
      ROTOR_CHECK(*w.params.prompt_logprobs <= vocab_size, "runner: {} prompt logprobs of a {}-token vocabulary",
                  *w.params.prompt_logprobs, vocab_size);
      in.prompt_top_k = std::max(in.prompt_top_k, *w.params.prompt_logprobs);
    }
    for (int i = 0; i < n; ++i) {
      in.rows.push_back(in.query_start[k] + i);
      in.targets.push_back(i < with_target ? w.prompt_tokens[w.num_computed + i + 1] : 0);
    }
  }
  if (!in.argmax_seq.empty()) in.decode_only = false;

  // Sampling parameters, penalty token lists and masks of the sample rows.
  in.prompt_start.push_back(0);
  in.output_start.push_back(0);
  in.mask_start.push_back(0);
  for (int i = 0; i < in.num_sample; ++i) {
    const SeqWork& w = work[in.sample_seq[i]];
    const SamplingParams& p = w.params;
    in.temperature.push_back(p.temperature);
    in.top_p.push_back(p.top_p);
    in.min_p.push_back(p.min_p);
    in.top_k.push_back(p.top_k);
    in.seed.push_back(static_cast<int64_t>(w.seed));
    in.counter.push_back(w.counter);
    in.return_logits.push_back(w.return_logits);
    in.repetition.push_back(p.repetition_penalty);
    in.presence.push_back(p.presence_penalty);
    in.frequency.push_back(p.frequency_penalty);
    if (p.has_penalties()) {
      in.any_penalty = true;
      in.prompt_tokens.insert(in.prompt_tokens.end(), w.prompt_tokens.begin(), w.prompt_tokens.end());
      for (int32_t t : w.output_tokens) {
        if (t == kPlaceholderToken)
          in.placeholders.push_back({in.sample_seq[i], -1, static_cast<int>(in.output_tokens.size())});
        in.output_tokens.push_back(t);
      }
    }
    in.prompt_start.push_back(static_cast<int32_t>(in.prompt_tokens.size()));
    in.output_start.push_back(static_cast<int32_t>(in.output_tokens.size()));
    in.mask_ids.insert(in.mask_ids.end(), w.masked_tokens.begin(), w.masked_tokens.end());
    in.any_mask |= !w.masked_tokens.empty();
    in.mask_start.push_back(static_cast<int32_t>(in.mask_ids.size()));
    if (w.token_bitmask) in.bitmask_rows.push_back(i);
    const int nlp = p.logprobs ? *p.logprobs : -1;
    ROTOR_CHECK(nlp <= vocab_size, "runner: {} logprobs of a {}-token vocabulary", nlp, vocab_size);
    in.num_logprobs.push_back(nlp);
    in.max_logprobs = std::max(in.max_logprobs, nlp);
  }
  in.decode_only &= !in.any_penalty && !in.any_mask && in.max_logprobs < 0 && in.bitmask_rows.empty();
  return in;
}

}  // namespace rotor
