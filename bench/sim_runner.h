// bench/sim_runner.h — a model-free runner for the scheduler and engine tests and for
// rotor_bench_host (the engine's host time per step, no device). It keeps the runner's
// side of the protocol (requests learned from SchedulerOutput deltas, placeholders resolved
// from its own previous samples) and simulates the paged KV cache: every computed token
// writes (token, position) into its slot, and every step first checks that the slots of the
// tokens already computed hold exactly that request's tokens — so a wrong block table, a
// bad prefix hit or a block reused too early fails the test. The "model" is a hash of the
// context, so a request's outputs do not depend on the batch it ran in. The two lanes of a
// GPU (docs/prefill-lane.md) are two SimRunners over one simulated cache, each writing when its
// step is executed, so a block one lane gets while the other may still write it is caught.
// A broken check throws rotor::Error naming the request (gtest reports it as a failure; the
// engine fails with it). It lives here, not in tests/, so the benchmark runs the same model;
// it needs only the scheduler's plain data (scheduler_output.h) and core.
#pragma once
#include <algorithm>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/check.h"
#include "core/hash_rng.h"
#include "engine/scheduler/scheduler_output.h"

namespace rotor {

constexpr int32_t kSimEos = 1;

// The context's hash: `h` (a request's seed, or the hash of the tokens before) folded with
// `tokens`, so a runner extends it by each step's new tokens.
inline uint64_t sim_hash(uint64_t h, std::span<const int32_t> tokens) {
  for (int32_t t : tokens) h = mix64(h ^ static_cast<uint32_t>(t));
  return h;
}

// The token after a context of hash h: ids 2..41, or kSimEos about once in eos_every tokens
// (0 = never).
inline int32_t sim_token(uint64_t h, int eos_every) {
  if (eos_every > 0 && h % eos_every == 0) return kSimEos;
  return 2 + static_cast<int32_t>((h >> 8) % 40);
}

// The next token after `context` for a request with `seed`.
inline int32_t sim_next_token(uint64_t seed, const std::vector<int32_t>& context, int eos_every) {
  return sim_token(sim_hash(seed, context), eos_every);
}

// The simulated paged KV cache: what (token, position) each slot holds, -1 before any write.
using SimKV = std::vector<int64_t>;

inline std::shared_ptr<SimKV> make_sim_kv(int num_blocks, int block_size) {
  return std::make_shared<SimKV>(static_cast<size_t>(num_blocks) * block_size, -1);
}

class SimRunner {
 public:
  // check_cache false (the benchmark's, whose runner stands for a device that takes no time):
  // the cache is written but the context is not checked every step, which costs O(context).
  SimRunner(int num_blocks, int block_size, int eos_every, bool check_cache = true)
      : SimRunner(make_sim_kv(num_blocks, block_size), block_size, eos_every) {
    check_cache_ = check_cache;
  }
  // A runner over a cache it may share with the other lane's runner.
  SimRunner(std::shared_ptr<SimKV> kv, int block_size, int eos_every)
      : bs_(block_size), eos_every_(eos_every), kv_(std::move(kv)) {}

  RunnerOutput execute(const SchedulerOutput& out) {
    for (uint64_t id : out.finished_req_ids) reqs_.erase(id);
    for (uint64_t id : out.preempted_req_ids) reqs_.erase(id);
    for (const NewRequestData& d : out.new_requests) {
      Req& r = reqs_[d.req_id];
      r.tokens = d.token_ids;
      r.num_prompt = d.num_prompt_tokens;
      r.blocks = d.block_ids;
      r.argmax = d.prompt_argmax;
      r.computed = d.num_computed_tokens;
      r.known = d.token_ids.size();
      r.hash = d.seed;
      r.hashed = 0;
    }
    for (const CachedRequestData& d : out.cached_requests) {
      auto it = reqs_.find(d.req_id);
      ROTOR_CHECK(it != reqs_.end(), "sim runner: cached data for unknown request {}", d.req_id);
      Req& r = it->second;
      // Tokens the scheduler learned; the runner already holds any it sampled itself.
      for (size_t j = 0; j < d.new_token_ids.size(); ++j) {
        const size_t pos = r.known + j;
        if (pos < r.tokens.size()) {
          ROTOR_CHECK(r.tokens[pos] == d.new_token_ids[j], "sim runner: request {} token {}: {} known, {} told",
                      d.req_id, pos, r.tokens[pos], d.new_token_ids[j]);
        } else {
          r.tokens.push_back(d.new_token_ids[j]);
        }
      }
      r.known += d.new_token_ids.size();
      r.blocks.insert(r.blocks.end(), d.new_block_ids.begin(), d.new_block_ids.end());
      ROTOR_CHECK(r.computed == d.num_computed_tokens, "sim runner: request {} computed {}, told {}", d.req_id,
                  r.computed, d.num_computed_tokens);
      r.computed = d.num_computed_tokens;
    }

    RunnerOutput res;
    int total = 0;
    for (const ScheduledRequest& s : out.scheduled) {
      Req& r = reqs_.at(s.req_id);
      total += s.num_tokens;
      // The context already computed must be intact in the cache.
      for (int p = 0; check_cache_ && p < r.computed; ++p) {
        const int64_t slot = static_cast<int64_t>(r.blocks.at(p / bs_)) * bs_ + p % bs_;
        ROTOR_CHECK((*kv_)[slot] == encode(r.tokens.at(p), p), "sim runner: request {} position {}: slot {} overwritten",
                    s.req_id, p, slot);
      }
      ROTOR_CHECK(static_cast<size_t>(r.computed + s.num_tokens) <= r.tokens.size() + 1,
                  "sim runner: request {}: more than one token beyond what the runner knows", s.req_id);
      ROTOR_CHECK(static_cast<size_t>(r.computed + s.num_tokens) <= r.blocks.size() * bs_,
                  "sim runner: request {}: blocks too few", s.req_id);
      SampledToken o;
      o.req_id = s.req_id;
      if (r.argmax && r.computed < r.num_prompt) {
        o.prompt_position = r.computed;
        for (int p = r.computed; p < std::min(r.computed + s.num_tokens, r.num_prompt); ++p)
          o.prompt_argmax.push_back(static_cast<int32_t>(1000 + p));
      }
      for (int p = r.computed; p < r.computed + s.num_tokens; ++p) {
        const int64_t slot = static_cast<int64_t>(r.blocks.at(p / bs_)) * bs_ + p % bs_;
        (*kv_)[slot] = encode(r.tokens.at(p), p);
      }
      r.computed += s.num_tokens;
      if (s.sample) {
        ROTOR_CHECK(static_cast<size_t>(r.computed) == r.tokens.size(), "sim runner: request {} samples before the end",
                    s.req_id);
        r.hash = sim_hash(r.hash, std::span<const int32_t>(r.tokens).subspan(r.hashed));
        r.hashed = r.tokens.size();
        o.token = sim_token(r.hash, eos_every_);
        r.tokens.push_back(o.token);
      }
      res.outputs.push_back(std::move(o));
    }
    ROTOR_CHECK(total == out.total_num_tokens, "sim runner: {} tokens scheduled, total says {}", total,
                out.total_num_tokens);
    ++steps_;
    return res;
  }

  int steps() const { return steps_; }
  size_t num_requests() const { return reqs_.size(); }

 private:
  struct Req {
    std::vector<int32_t> tokens;  // known to the runner (its own samples included)
    size_t known = 0;             // of which the scheduler has told it
    int num_prompt = 0;
    std::vector<int32_t> blocks;
    bool argmax = false;
    int computed = 0;
    uint64_t hash = 0;  // sim_hash of the seed and tokens[0, hashed)
    size_t hashed = 0;
  };
  static int64_t encode(int32_t token, int pos) {
    return (static_cast<int64_t>(pos) << 32) | static_cast<uint32_t>(token);
  }

  int bs_;
  int eos_every_;
  bool check_cache_ = true;
  std::shared_ptr<SimKV> kv_;
  std::unordered_map<uint64_t, Req> reqs_;
  int steps_ = 0;
};

}  // namespace rotor
