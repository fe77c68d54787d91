// tests/engine/sampling_checks.h — what the engine sampling tests on the CPU
// (test_engine_sampling) and on the GPU (test_engine_cuda) share: argmax of logits, the
// penalized greedy request and its tokens computed on the host from raw logits, the greedy
// request that stops on a given id, the check of a min_tokens request's one token and its
// log-probs against the raw logits, and the check of a prompt position's log-probs against
// the logits after the prompt up to it.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <utility>
#include <vector>

#include "core/sampling_params.h"
#include "engine/engine.h"
#include "engine/request_output.h"

namespace rotor::test {

inline int32_t argmax(const std::vector<float>& l) {
  return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
}

// The ids of the largest and the second-largest logit.
inline std::pair<int32_t, int32_t> best_two(const std::vector<float>& l) {
  const int32_t best = argmax(l);
  std::vector<float> masked = l;
  masked[best] = -INFINITY;
  return {best, argmax(masked)};
}

// Greedy with repetition 1.7, frequency 0.8 and presence 0.4 penalties, for `max_tokens`
// tokens, eos ignored.
inline SamplingParams penalized_greedy_params(int max_tokens) {
  SamplingParams sp;
  sp.temperature = 0.0f;
  sp.repetition_penalty = 1.7f;
  sp.frequency_penalty = 0.8f;
  sp.presence_penalty = 0.4f;
  sp.max_tokens = max_tokens;
  sp.ignore_eos = true;
  return sp;
}

// The sp.max_tokens greedy tokens after `prompt` with sp's repetition, frequency and presence
// penalties applied on the host. logits(ctx, i) gives the raw logits (of the vocabulary) after
// `ctx` (the prompt and the i tokens chosen so far).
template <class Logits>
std::vector<int32_t> penalized_greedy(const std::vector<int32_t>& prompt, const SamplingParams& sp, Logits logits) {
  std::vector<int32_t> ctx = prompt, want;
  for (int i = 0; i < sp.max_tokens.value(); ++i) {
    std::vector<float> l = logits(ctx, i);
    std::set<int32_t> seen(ctx.begin(), ctx.end());
    std::map<int32_t, int> count;
    for (int32_t t : want) ++count[t];
    for (int32_t t : seen) l[t] = l[t] > 0 ? l[t] / sp.repetition_penalty : l[t] * sp.repetition_penalty;
    for (auto [t, c] : count) l[t] -= sp.frequency_penalty * c + sp.presence_penalty;
    want.push_back(argmax(l));
    ctx.push_back(want.back());
  }
  return want;
}

// A greedy request for up to 3 tokens after `prompt` with `stop_id` as its stop id.
inline EngineRequest greedy_stop_request(const std::vector<int32_t>& prompt, int32_t stop_id) {
  EngineRequest r;
  r.prompt_token_ids = prompt;
  r.params.temperature = 0.0f;
  r.params.max_tokens = 3;
  r.params.stop_token_ids = {stop_id};
  return r;
}

// `o` is the output of a greedy request with one token, 5 log-probs and min_tokens 1 whose
// stop ids hold `best`, the argmax of the raw logits `l` after its prompt: the token drawn is
// `second` (the stop id is masked), and the log-probs are those of the raw logits, where
// `best` is still rank 1.
inline void expect_min_tokens_output(const RequestOutput& o, const std::vector<float>& l, int32_t best,
                                     int32_t second) {
  ASSERT_EQ(o.token_ids, std::vector<int32_t>{second});
  ASSERT_EQ(o.logprobs.size(), 1u);
  double sum = 0;
  for (float x : l) sum += std::exp(static_cast<double>(x) - l[best]);
  const double lse = l[best] + std::log(sum);
  const TokenLogprobs& lp = o.logprobs[0];
  EXPECT_EQ(lp.token, second);
  EXPECT_EQ(lp.rank, 2);
  EXPECT_NEAR(lp.logprob, l[second] - lse, 1e-4);
  ASSERT_EQ(lp.top_ids.size(), 5u);
  EXPECT_EQ(lp.top_ids[0], best);
  EXPECT_EQ(lp.top_ids[1], second);
  EXPECT_NEAR(lp.top_logprobs[0], l[best] - lse, 1e-4);
}

// log_softmax of one logits row: the log-prob and rank of `token`, and the k best (ties: lower id).
inline TokenLogprobs reference_logprobs(const std::vector<float>& logits, int32_t token, int k) {
  const float m = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - m));
  const auto lp = [&](int32_t t) { return static_cast<float>(logits[t] - m - std::log(sum)); };
  TokenLogprobs t;
  t.token = token;
  t.logprob = lp(token);
  t.rank = 1 + static_cast<int>(std::count_if(logits.begin(), logits.end(), [&](float l) { return l > logits[token]; }));
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
  for (int i = 0; i < k; ++i) {
    t.top_ids.push_back(ids[i]);
    t.top_logprobs.push_back(lp(ids[i]));
  }
  return t;
}

// One prompt log-prob entry against the logits after the prompt up to its position: the
// target token, its log-prob and rank, the k best (ids checked where not within 2 tol of a
// neighbour).
inline void expect_prompt_logprobs(const TokenLogprobs& got, const std::vector<float>& logits, int32_t target, int k,
                                   float tol) {
  const TokenLogprobs want = reference_logprobs(logits, target, k);
  EXPECT_EQ(got.token, want.token);
  EXPECT_NEAR(got.logprob, want.logprob, tol);
  EXPECT_NEAR(got.rank, want.rank, std::max(2, want.rank / 100));
  ASSERT_EQ(got.top_ids.size(), static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) {
    EXPECT_NEAR(got.top_logprobs[i], want.top_logprobs[i], tol);
    const bool separated = (i == 0 || want.top_logprobs[i - 1] - want.top_logprobs[i] > 2 * tol) &&
                           (i + 1 == k || want.top_logprobs[i] - want.top_logprobs[i + 1] > 2 * tol);
    if (separated) {
      EXPECT_EQ(got.top_ids[i], want.top_ids[i]);
    }
  }
}

}  // namespace rotor::test
