// tests/engine/runner_bitmask_check.h — the runner's part of structured outputs, shared by the
// CPU (test_engine_structured) and GPU (test_engine_structured_cuda) tests: the Sampler masks
// a row by its grammar bitmask (returned logits, log-probs and the draw all see it; a row
// without one is untouched); a step with bitmask rows waits after launch() for
// launch_sampling() (wait() refuses it meanwhile); and bitmasks written between the two, while
// the step's placeholders wait on the step before (launched, not yet waited for), read that
// step's draws through ModelRunner::previous_sampled().
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "comm/communicator.h"
#include "core/error.h"
#include "engine/runner/model_runner.h"
#include "model/load_model.h"

namespace rotor::test {

// m: the tiny fixture loaded for ops.
inline void check_runner_bitmasks(Ops& ops, Communicator& comm, LoadedModel m) {
  RunnerOptions ro;
  ro.max_num_seqs = 2;
  ro.max_model_len = 64;
  ro.max_num_tokens = 64;
  ro.num_blocks = 8;
  ModelRunner runner(ops, comm, m.config, std::move(m.weights), ro);
  const int V = m.config.vocab_size;
  const std::vector<int32_t> allowed = {5, 17, 42, 151000};
  auto allow = [&](std::span<uint32_t> row) {
    std::fill(row.begin(), row.end(), 0u);
    for (int32_t t : allowed) row[static_cast<size_t>(t) >> 5] |= 1u << (t & 31);
  };
  const std::vector<int32_t> blocks0 = {0, 1}, blocks1 = {2, 3}, prompt0 = {1000, 2000, 3000}, prompt1 = {7, 8};
  std::vector<SeqWork> work(2);
  work[0].tokens = prompt0;
  work[0].block_table = blocks0;
  work[1].tokens = prompt1;
  work[1].block_table = blocks1;
  for (SeqWork& w : work) {
    w.sample = true;
    w.return_logits = true;
    w.params.temperature = 1.0f;
    w.params.logprobs = 3;
    w.seed = 9;
  }
  work[0].token_bitmask = true;  // sequence 1 has none
  StepInputs in1 = runner.prepare(work);
  ASSERT_EQ(in1.bitmask_rows.size(), 1u);
  EXPECT_FALSE(in1.decode_only);
  const size_t words = static_cast<size_t>((V + 31) / 32);
  std::vector<uint32_t> bits(words);
  allow(bits);
  LaunchedStep step1 = runner.launch(in1);
  ASSERT_TRUE(step1.awaits_bitmasks);
  EXPECT_THROW(runner.wait(step1), Error);
  EXPECT_THROW(runner.launch(in1), Error);  // the step before still awaits its bitmasks
  EXPECT_THROW(runner.launch_sampling(step1, in1, std::span(bits).first(words - 1)), Error);
  runner.launch_sampling(step1, in1, bits);
  EXPECT_FALSE(step1.awaits_bitmasks);

  // Step 2 is launched before step 1 is waited for: both decode a placeholder, and the fill
  // reads what step 1 drew.
  std::vector<int32_t> placeholder = {kPlaceholderToken};
  for (SeqWork& w : work) {
    w.num_computed = static_cast<int>(w.tokens.size());
    w.tokens = placeholder;
    w.counter = 1;
    w.return_logits = false;
    w.params.logprobs.reset();
  }
  StepInputs in2 = runner.prepare(work);
  ASSERT_EQ(in2.bitmask_rows.size(), 1u);
  in2.set_previous_row(0, 0);
  in2.set_previous_row(1, 1);
  LaunchedStep step2 = runner.launch(in2);
  const int32_t* previous = runner.previous_sampled();
  const std::vector<int32_t> seen = {previous[0], previous[1]};
  runner.launch_sampling(step2, in2, bits);
  const std::vector<SeqResult> r1 = runner.wait(step1), r2 = runner.wait(step2);

  EXPECT_EQ(seen, (std::vector<int32_t>{r1[0].token, r1[1].token}));
  EXPECT_TRUE(std::ranges::count(allowed, r1[0].token)) << r1[0].token;
  EXPECT_TRUE(std::ranges::count(allowed, r2[0].token)) << r2[0].token;
  ASSERT_EQ(r1[0].logits.size(), static_cast<size_t>(V));
  for (int t = 0; t < V; ++t) {
    EXPECT_EQ(std::isinf(r1[0].logits[t]), !std::ranges::count(allowed, t)) << "token " << t;
    ASSERT_TRUE(std::isfinite(r1[1].logits[t])) << "unconstrained row, token " << t;
  }
  // Log-probs: of the masked logits (over the allowed tokens) in row 0, of every token in row 1.
  for (int row = 0; row < 2; ++row) {
    const std::vector<float>& l = r1[row].logits;
    double z = 0;
    for (int t = 0; t < V; ++t) z += std::isinf(l[t]) ? 0.0 : std::exp(static_cast<double>(l[t]));
    auto expected = [&](int32_t t) { return static_cast<double>(l[t]) - std::log(z); };
    ASSERT_TRUE(r1[row].logprobs);
    const TokenLogprobs& lp = *r1[row].logprobs;
    EXPECT_NEAR(lp.logprob, expected(r1[row].token), 1e-3) << "row " << row;
    ASSERT_EQ(lp.top_ids.size(), 3u);
    for (size_t k = 0; k < lp.top_ids.size(); ++k) {
      EXPECT_NEAR(lp.top_logprobs[k], expected(lp.top_ids[k]), 1e-3) << "row " << row;
      if (row == 0) {
        EXPECT_TRUE(std::ranges::count(allowed, lp.top_ids[k])) << lp.top_ids[k];
      }
    }
  }
}

}  // namespace rotor::test
