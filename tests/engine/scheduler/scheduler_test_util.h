// tests/engine/scheduler/scheduler_test_util.h — what the scheduler tests build: a config (blocks,
// budget, max_num_seqs, max_model_len, the sim model's EOS), and for the tests driven by hand a
// request with a run of consecutive prompt tokens and a runner answer that samples one given token.
#pragma once
#include <numeric>

#include "engine/scheduler/scheduler.h"
#include "bench/sim_runner.h"

namespace rotor::test {

inline SchedulerConfig config(int num_blocks, int block_size = 4, int budget = 64, int max_seqs = 8,
                              int max_len = 128) {
  SchedulerConfig c;
  c.num_blocks = num_blocks;
  c.block_size = block_size;
  c.max_num_batched_tokens = budget;
  c.max_num_seqs = max_seqs;
  c.max_model_len = max_len;
  c.eos_token_ids = {kSimEos};
  return c;
}

// Prompt tokens first, first + 1, ...; EOS ignored, so it runs to max_tokens.
inline Request request(uint64_t id, int prompt_len, int max_tokens, int32_t first = 100) {
  Request r;
  r.id = id;
  r.tokens.resize(prompt_len);
  std::iota(r.tokens.begin(), r.tokens.end(), first);
  r.max_tokens = max_tokens;
  r.seed = id * 7919;
  r.params.ignore_eos = true;
  return r;
}

// A runner answer with the given token for every sampling entry.
inline RunnerOutput answer(const SchedulerOutput& out, int32_t token) {
  RunnerOutput r;
  for (const ScheduledRequest& s : out.scheduled) r.outputs.push_back({s.req_id, s.sample ? token : -1, {}, 0, {}, {}});
  return r;
}

}  // namespace rotor::test
