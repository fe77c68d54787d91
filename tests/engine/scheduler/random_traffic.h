// tests/engine/scheduler/random_traffic.h — the requests of the random scheduler tests: random
// prompts (fresh ones start half the time with one of a few shared prefixes, so that they hit the
// prefix cache), lengths and sampling options, submitted in random bursts and aborted at random;
// and the checks at the end: every block back in the pool, every aborted request reported as
// such, every other one with exactly what it produces alone.
#pragma once
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/engine/scheduler/scheduler_driver.h"

namespace rotor::test {

class RandomTraffic {
 public:
  // Requests 1 to num_requests, drawn from `rng` (which the test draws from too), each prompt
  // leaving room for at least two tokens in max_model_len.
  RandomTraffic(std::mt19937& rng, int num_requests, int max_model_len)
      : rng_(rng), num_requests_(num_requests), max_model_len_(max_model_len) {
    for (auto& p : prefixes_) {
      p.resize(std::uniform_int_distribution<int>(4, 24)(rng_));
      for (auto& t : p) t = token();
    }
  }

  bool more() const { return static_cast<int>(submitted_.size()) < num_requests_; }  // requests left
  size_t num_submitted() const { return submitted_.size(); }
  const Request& submitted(uint64_t id) const { return submitted_.at(id); }

  // How many requests to submit now: a third of the time 1 to 4 (no more than are left), else 0.
  int burst() {
    if (!more() || rng_() % 3 != 0) return 0;
    const int left = num_requests_ - static_cast<int>(submitted_.size());
    return std::min(1 + static_cast<int>(rng_() % 4), left);
  }

  // Half the time one of the shared prefixes, else nothing.
  std::vector<int32_t> prefix() {
    if (rng_() % 2 == 0) return {};
    return prefixes_[rng_() % prefixes_.size()];
  }

  // The next request: `start`, then up to 30 random tokens (at least one in all), 1 to 40 tokens
  // to generate, a random seed, EOS ignored a quarter of the time, prompt argmax a tenth.
  Request next(std::vector<int32_t> start) {
    Request r;
    r.id = submitted_.size() + 1;
    r.tokens = std::move(start);
    const int most = std::min(30, max_model_len_ - 2 - static_cast<int>(r.tokens.size()));
    const int extra = std::uniform_int_distribution<int>(r.tokens.empty() ? 1 : 0, most)(rng_);
    for (int i = 0; i < extra; ++i) r.tokens.push_back(token());
    r.max_tokens = std::uniform_int_distribution<int>(1, 40)(rng_);
    r.seed = rng_();
    r.params.ignore_eos = rng_() % 4 == 0;
    r.prompt_argmax = rng_() % 10 == 0;
    return r;
  }

  void submit(Scheduler& s, const Request& r) {
    submitted_[r.id] = r;
    s.add_request(r);
  }

  uint64_t any_id() { return 1 + rng_() % submitted_.size(); }  // one of those submitted so far

  // Aborts `id` if the scheduler still has it.
  void abort(Scheduler& s, UpdateLog& log, uint64_t id) {
    if (auto u = s.abort(id)) {
      aborted_.insert(id);
      log.record({*u});
    }
  }

  // Every aborted request reported as such, every other one with exactly what it produces alone
  // (and its prompt's argmax where asked); more than half finished and more than 50 aborted.
  void check(UpdateLog& log, int eos_every) const {
    int finished = 0;
    for (const auto& [id, r] : submitted_) {
      Finished& got = log.results()[id];
      if (aborted_.contains(id)) {
        EXPECT_EQ(got.reason, FinishReason::Abort) << "request " << id;
        continue;
      }
      ++finished;
      const Finished want =
          expected_alone(r.seed, r.tokens, r.max_tokens, max_model_len_, eos_every, r.params.ignore_eos);
      EXPECT_EQ(got.tokens, want.tokens) << "request " << id;
      EXPECT_EQ(got.reason, want.reason) << "request " << id;
      if (r.prompt_argmax) {
        ASSERT_EQ(got.prompt_argmax.size(), r.tokens.size()) << "request " << id;
        for (size_t p = 0; p < got.prompt_argmax.size(); ++p)
          EXPECT_EQ(got.prompt_argmax[p], 1000 + static_cast<int>(p)) << "request " << id;
      }
    }
    EXPECT_GT(finished, num_requests_ / 2);
    EXPECT_GT(aborted_.size(), 50u);
  }

 private:
  int32_t token() { return std::uniform_int_distribution<int32_t>(2, 41)(rng_); }

  std::mt19937& rng_;
  int num_requests_;
  int max_model_len_;
  std::vector<std::vector<int32_t>> prefixes_ = std::vector<std::vector<int32_t>>(4);
  std::map<uint64_t, Request> submitted_;
  std::set<uint64_t> aborted_;
};

// Every block free with ref count 0, none held, the cache map consistent.
inline void expect_pool_empty(const Scheduler& s) {
  s.check_consistency();
  EXPECT_EQ(s.kv_cache().num_free_blocks(), s.config().num_blocks);
  EXPECT_EQ(s.kv_cache().num_held_blocks(), 0);
  for (int b = 0; b < s.config().num_blocks; ++b) EXPECT_EQ(s.kv_cache().pool().ref_count(b), 0);
}

}  // namespace rotor::test
