// engine/runner/sampler.cpp — logits, grammar bitmasks, penalties, masks, the draw and
// log-probs of a step's rows on the device; sampling parameters and bitmasks staged per slot;
// results copied down and read back.
#include "engine/runner/sampler.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace rotor {

Sampler::Sampler(Ops& ops, int max_rows, int max_seqs, int vocab)
    : ops_(ops),
      max_rows_(max_rows),
      max_seqs_(max_seqs),
      vocab_(vocab),
      bitmask_words_((vocab + 31) / 32),
      temperature_(ops, max_rows, 0.0f),
      top_p_(ops, max_rows, 1.0f),
      min_p_(ops, max_rows, 0.0f),
      top_k_(ops, max_rows, 0),
      seed_(ops, max_rows, 0),
      counter_(ops, max_rows, 0),
      repetition_(ops, max_seqs),
      presence_(ops, max_seqs),
      frequency_(ops, max_seqs),
      prompt_start_(ops, max_seqs + 1),
      output_start_(ops, max_seqs + 1),
      mask_start_(ops, max_seqs + 1),
      prompt_tokens_(ops, 256),
      output_tokens_(ops, 256),
      mask_ids_(ops, 256),
      targets_(ops, max_rows),
      bitmask_(ops, static_cast<int64_t>(max_seqs) * bitmask_words_),
      bitmask_rows_(ops, max_seqs) {
  Allocator& a = ops.allocator();
  logits_ = OwnedTensor(a, DType::F32, {max_seqs, vocab});
  sampled_ = OwnedTensor(a, DType::I32, {max_rows});
  for (Buffer& b : sampled_host_) b = Buffer(ops.host_allocator(), static_cast<size_t>(max_rows) * 4);
}

void Sampler::stage(int slot, const StepInputs& in, int R) const {
  const int ns = std::min(in.num_sample, R);
  temperature_.put(slot, std::span(in.temperature).first(ns));
  top_k_.put(slot, std::span(in.top_k).first(ns));
  top_p_.put(slot, std::span(in.top_p).first(ns));
  min_p_.put(slot, std::span(in.min_p).first(ns));
  seed_.put(slot, std::span(in.seed).first(ns));
  counter_.put(slot, std::span(in.counter).first(ns));
  pad(slot, ns, R);  // argmax rows are greedy
}

void Sampler::pad(int slot, int from, int to) const {
  temperature_.pad(slot, from, to);
  top_k_.pad(slot, from, to);
  top_p_.pad(slot, from, to);
  min_p_.pad(slot, from, to);
  seed_.pad(slot, from, to);
  counter_.pad(slot, from, to);
}

void Sampler::upload(int slot, int R) const {
  temperature_.upload(slot, R);
  top_k_.upload(slot, R);
  top_p_.upload(slot, R);
  min_p_.upload(slot, R);
  seed_.upload(slot, R);
  counter_.upload(slot, R);
}

void Sampler::reserve(int slot, const StepInputs& in, int R) {
  Needs n;
  if (in.any_penalty || in.any_mask) {
    n.penalty_rows = in.num_sample;
    n.prompt_tokens = static_cast<int64_t>(in.prompt_tokens.size());
    n.output_tokens = static_cast<int64_t>(in.output_tokens.size());
    n.mask_ids = static_cast<int64_t>(in.mask_ids.size());
    n.raw_logits = true;
  }
  // The sizes sample() fits and copy_down() copies.
  n.ns = in.num_sample;
  n.K = in.max_logprobs;
  n.pk = in.prompt_top_k;
  n.P = in.prompt_top_k >= 0 ? R - n.ns : 0;
  growths_ += grow(slot, n);
}

void Sampler::reserve_limits(int max_logprobs, int max_model_len) {
  Needs n;
  n.penalty_rows = max_seqs_;
  n.prompt_tokens = n.output_tokens = static_cast<int64_t>(max_seqs_) * max_model_len;
  n.mask_ids = static_cast<int64_t>(max_seqs_) * vocab_;
  n.raw_logits = true;
  n.ns = max_seqs_;
  n.K = max_logprobs;
  n.pk = max_logprobs;
  n.P = max_logprobs >= 0 ? max_rows_ : 0;
  for (int slot = 0; slot < kStagingSlots; ++slot) grow(slot, n);
}

int Sampler::grow(int slot, const Needs& n) {
  int grew = 0;
  if (n.penalty_rows > 0) {
    for (StagedBuffer<float>* f : {&repetition_, &presence_, &frequency_}) grew += f->reserve(n.penalty_rows);
    for (StagedBuffer<int32_t>* f : {&prompt_start_, &output_start_, &mask_start_}) grew += f->reserve(n.penalty_rows + 1);
    grew += prompt_tokens_.reserve(n.prompt_tokens);
    grew += output_tokens_.reserve(n.output_tokens);
    grew += mask_ids_.reserve(n.mask_ids);
  }
  if (n.P > 0) {
    const int64_t pk = std::max<int64_t>(n.pk, 0);
    grew += grow_to(prompt_logprob_, DType::F32, n.P);
    grew += grow_to(prompt_rank_, DType::I32, n.P);
    grew += grow_to(prompt_top_ids_, DType::I32, n.P * std::max<int64_t>(pk, 1));
    grew += grow_to(prompt_top_logprobs_, DType::F32, n.P * std::max<int64_t>(pk, 1));
    grew += fit_host(prompt_results_host_[slot], static_cast<size_t>(n.P * 8 + n.P * pk * 8));
  }
  if (n.ns > 0 && n.K >= 0) {
    if (n.raw_logits) grew += grow_to(raw_logits_, DType::F32, n.ns * vocab_);
    if (n.K > 0) {
      grew += grow_to(top_ids_, DType::I32, n.ns * n.K);
      grew += grow_to(top_logprobs_, DType::F32, n.ns * n.K);
    }
    grew += grow_to(tok_logprob_, DType::F32, n.ns);
    grew += grow_to(tok_rank_, DType::I32, n.ns);
    grew += fit_host(results_host_[slot], static_cast<size_t>(n.ns * 8 + n.ns * n.K * 8));
  }
  return grew;
}

bool Sampler::fit_host(Buffer& b, size_t bytes) {
  if (b.size() >= bytes) return false;
  b = Buffer(ops_.host_allocator(), bytes);
  return true;
}

void Sampler::upload_extras(int slot, const StepInputs& in) {
  if (in.prompt_top_k >= 0) {
    targets_.put(slot, in.targets);
    targets_.upload(slot, static_cast<int64_t>(in.targets.size()));
  }
  if (!in.any_penalty && !in.any_mask) return;
  auto send = [&](auto& field, const auto& v) {
    field.reserve(static_cast<int64_t>(v.size()));
    field.put(slot, v);
    field.upload(slot, static_cast<int64_t>(v.size()));
  };
  send(repetition_, in.repetition);
  send(presence_, in.presence);
  send(frequency_, in.frequency);
  send(prompt_start_, in.prompt_start);
  send(output_start_, in.output_start);
  send(mask_start_, in.mask_start);
  send(prompt_tokens_, in.prompt_tokens);
  send(output_tokens_, in.output_tokens);
  send(mask_ids_, in.mask_ids);
}

Tensor Sampler::fit(OwnedTensor& t, DType dtype, int64_t n) {
  grow_to(t, dtype, n);
  return t.tensor.rows(0, n);
}

bool Sampler::grow_to(OwnedTensor& t, DType dtype, int64_t n) {
  if (t.tensor.defined() && t.tensor.numel() >= n) return false;
  ops_.synchronize();  // earlier steps may still use the old buffer
  t = OwnedTensor(ops_.allocator(), dtype, {std::max<int64_t>(n, 256)});
  return true;
}

void Sampler::apply_bitmasks(int slot, const StepInputs& in, std::span<const uint32_t> bitmasks,
                             const Tensor& sample_logits) {
  const int64_t n = static_cast<int64_t>(in.bitmask_rows.size()), words = bitmask_words_;
  ROTOR_CHECK(static_cast<int64_t>(bitmasks.size()) == n * words,
              "sampler: {} bitmask words for {} rows of {} (a vocabulary of {})", bitmasks.size(), n, words, vocab_);
  // Bits as they are: int32_t and uint32_t words may alias.
  std::memcpy(bitmask_.host(slot), bitmasks.data(), bitmasks.size_bytes());
  bitmask_rows_.put(slot, in.bitmask_rows);
  bitmask_.upload(slot, n * words);
  bitmask_rows_.upload(slot, n);
  ops_.apply_token_bitmask(sample_logits, bitmask_.device(n * words).view({n, words}), bitmask_rows_.device(n));
}

void Sampler::first_logits(Model& model, const Tensor& hidden, int R) {
  const int n = std::min(max_seqs_, R);
  model.logits(hidden.rows(0, n), logits_.tensor.rows(0, n));
}

void Sampler::sample(int slot, Model& model, const Tensor& hidden, int R,
                     const std::vector<std::pair<int, float*>>& logit_rows, const StepInputs* in,
                     std::span<const uint32_t> bitmasks) {
  // Prompt rows' log-prob outputs, sized before any work is queued (fit may wait for the device).
  const int prompt_rows = in && in->prompt_top_k >= 0 ? R - in->num_sample : 0;
  const int pk = prompt_rows > 0 ? in->prompt_top_k : 0;
  if (prompt_rows > 0) {
    fit(prompt_logprob_, DType::F32, prompt_rows);
    fit(prompt_rank_, DType::I32, prompt_rows);
    fit(prompt_top_ids_, DType::I32, static_cast<int64_t>(prompt_rows) * std::max(pk, 1));
    fit(prompt_top_logprobs_, DType::F32, static_cast<int64_t>(prompt_rows) * std::max(pk, 1));
  }
  // Chunks of up to max_seqs rows, each sampled with its rows' parameters. The sample rows (at
  // most max_seqs) are all in the first chunk; the prompt rows follow them.
  for (int r0 = 0; r0 < R; r0 += max_seqs_) {
    const int n = std::min(max_seqs_, R - r0);
    const Tensor logits = logits_.tensor.rows(0, n);
    if (r0 > 0) model.logits(hidden.rows(r0, r0 + n), logits);  // the first chunk's: first_logits()
    const int ns = in && r0 == 0 ? in->num_sample : 0;
    const Tensor sample_logits = logits.rows(0, ns);
    const bool want_logprobs = ns > 0 && in->max_logprobs >= 0;
    if (ns > 0 && !in->bitmask_rows.empty()) apply_bitmasks(slot, *in, bitmasks, sample_logits);
    Tensor raw = sample_logits;
    if (want_logprobs && (in->any_penalty || in->any_mask)) {
      raw = fit(raw_logits_, DType::F32, static_cast<int64_t>(ns) * vocab_).view({ns, vocab_});
      ops_.copy_async(raw.data(), sample_logits.data(), raw.nbytes());
    }
    if (ns > 0 && in->any_penalty) {
      const auto size = [](const std::vector<int32_t>& v) { return static_cast<int64_t>(v.size()); };
      ops_.apply_penalties(sample_logits, {repetition_.device(ns), presence_.device(ns), frequency_.device(ns),
                                           prompt_tokens_.device(size(in->prompt_tokens)), prompt_start_.device(ns + 1),
                                           output_tokens_.device(size(in->output_tokens)),
                                           output_start_.device(ns + 1)});
    }
    if (ns > 0 && in->any_mask)
      ops_.mask_tokens(sample_logits, mask_ids_.device(static_cast<int64_t>(in->mask_ids.size())),
                       mask_start_.device(ns + 1));
    const SamplingBatch sb{temperature_.device(max_rows_).rows(r0, r0 + n), top_k_.device(max_rows_).rows(r0, r0 + n),
                           top_p_.device(max_rows_).rows(r0, r0 + n),       min_p_.device(max_rows_).rows(r0, r0 + n),
                           seed_.device(max_rows_).rows(r0, r0 + n),        counter_.device(max_rows_).rows(r0, r0 + n)};
    ops_.sample(logits, sb, sampled_.tensor.rows(r0, r0 + n));
    for (const auto& [row, dst] : logit_rows)
      if (row >= r0 && row < r0 + n)
        ops_.copy_async(dst, logits.row_ptr(row - r0), static_cast<size_t>(vocab_) * sizeof(float));
    if (want_logprobs) {
      const int K = in->max_logprobs;
      Tensor top_ids, top_lp;
      if (K > 0) {
        top_ids = fit(top_ids_, DType::I32, static_cast<int64_t>(ns) * K).view({ns, K});
        top_lp = fit(top_logprobs_, DType::F32, static_cast<int64_t>(ns) * K).view({ns, K});
      }
      ops_.logprobs(raw, sampled_.tensor.rows(0, ns), fit(tok_logprob_, DType::F32, ns),
                    fit(tok_rank_, DType::I32, ns), top_ids, top_lp);
    }
    // This chunk's prompt rows: the log-probs of their targets (raw logits: no penalties there).
    const int a = prompt_rows > 0 ? std::max(r0, in->num_sample) : r0 + n;
    if (a < r0 + n) {
      const int p0 = a - in->num_sample, p1 = r0 + n - in->num_sample;
      const int64_t cells = static_cast<int64_t>(prompt_rows) * pk;
      Tensor top_ids, top_lp;
      if (pk > 0) {
        top_ids = prompt_top_ids_.tensor.rows(0, cells).view({prompt_rows, pk}).rows(p0, p1);
        top_lp = prompt_top_logprobs_.tensor.rows(0, cells).view({prompt_rows, pk}).rows(p0, p1);
      }
      ops_.logprobs(logits.rows(a - r0, n), targets_.device(max_rows_).rows(a, r0 + n),
                    prompt_logprob_.tensor.rows(p0, p1), prompt_rank_.tensor.rows(p0, p1), top_ids, top_lp);
    }
  }
}

void Sampler::copy_down(int slot, int R, const StepInputs* in) {
  ops_.copy_async(sampled_host_[slot].data(), sampled_.tensor.data(), static_cast<size_t>(R) * 4);
  const size_t ns = in ? in->num_sample : 0;
  if (in && in->prompt_top_k >= 0)  // prompt rows' log-probs (P = R - ns rows)
    copy_logprobs_down(prompt_results_host_[slot], R - ns, in->prompt_top_k, prompt_logprob_.tensor,
                       prompt_rank_.tensor, prompt_top_ids_.tensor, prompt_top_logprobs_.tensor);
  if (ns > 0 && in->max_logprobs >= 0)  // the sampled rows' log-probs
    copy_logprobs_down(results_host_[slot], ns, in->max_logprobs, tok_logprob_.tensor, tok_rank_.tensor,
                       top_ids_.tensor, top_logprobs_.tensor);
}

void Sampler::copy_logprobs_down(Buffer& results, size_t rows, size_t K, const Tensor& logprob, const Tensor& rank,
                                 const Tensor& top_ids, const Tensor& top_logprobs) {
  fit_host(results, rows * 8 + rows * K * 8);
  char* h = static_cast<char*>(results.data());
  ops_.copy_async(h, logprob.data(), rows * 4);
  ops_.copy_async(h + rows * 4, rank.data(), rows * 4);
  if (K > 0) {
    ops_.copy_async(h + rows * 8, top_ids.data(), rows * K * 4);
    ops_.copy_async(h + rows * 8 + rows * K * 4, top_logprobs.data(), rows * K * 4);
  }
}

void Sampler::read_prompt_logprobs(int slot, const LaunchedStep& st, std::vector<SeqResult>& out) const {
  const size_t P = st.num_rows - st.num_sample, K = st.prompt_top_k;
  const char* h = static_cast<const char*>(prompt_results_host_[slot].data());
  const float* lp = reinterpret_cast<const float*>(h);
  const int32_t* rank = reinterpret_cast<const int32_t*>(h + P * 4);
  const int32_t* tid = reinterpret_cast<const int32_t*>(h + P * 8);
  const float* tlp = reinterpret_cast<const float*>(h + P * 8 + P * K * 4);
  for (size_t j = 0, row = 0; j < st.argmax_seq.size(); row += st.argmax_count[j], ++j) {
    std::vector<TokenLogprobs>& lps = out[st.argmax_seq[j]].prompt_logprobs;
    for (int i = 0; i < st.prompt_lp_count[j]; ++i) {
      const size_t r = row + i;
      TokenLogprobs t;
      t.token = st.targets[static_cast<size_t>(st.num_sample) + r];
      t.logprob = lp[r];
      t.rank = rank[r];
      t.top_ids.assign(tid + r * K, tid + r * K + st.prompt_lp_k[j]);
      t.top_logprobs.assign(tlp + r * K, tlp + r * K + st.prompt_lp_k[j]);
      lps.push_back(std::move(t));
    }
  }
}

void Sampler::read(int slot, const LaunchedStep& st, std::vector<SeqResult>& out) const {
  const int ns = st.num_sample;
  const int32_t* drawn = static_cast<const int32_t*>(sampled_host_[slot].data());
  for (int i = 0; i < ns; ++i) out[st.sample_seq[i]].token = drawn[i];
  for (size_t j = 0, r = ns; j < st.argmax_seq.size(); r += st.argmax_count[j], ++j)
    out[st.argmax_seq[j]].argmax.assign(drawn + r, drawn + r + st.argmax_count[j]);
  if (st.prompt_top_k >= 0) read_prompt_logprobs(slot, st, out);
  if (ns == 0 || st.max_logprobs < 0) return;
  const size_t K = st.max_logprobs;
  const char* h = static_cast<const char*>(results_host_[slot].data());
  const float* lp = reinterpret_cast<const float*>(h);
  const int32_t* rank = reinterpret_cast<const int32_t*>(h + ns * 4);
  const int32_t* tid = reinterpret_cast<const int32_t*>(h + ns * 8);
  const float* tlp = reinterpret_cast<const float*>(h + ns * 8 + ns * K * 4);
  for (int i = 0; i < ns; ++i) {
    const int k = st.num_logprobs[i];
    if (k < 0) continue;
    TokenLogprobs t;
    t.token = drawn[i];
    t.logprob = lp[i];
    t.rank = rank[i];
    t.top_ids.assign(tid + i * K, tid + i * K + k);
    t.top_logprobs.assign(tlp + i * K, tlp + i * K + k);
    out[st.sample_seq[i]].logprobs = std::move(t);
  }
}

}  // namespace rotor
