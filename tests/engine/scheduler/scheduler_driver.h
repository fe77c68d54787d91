// tests/engine/scheduler/scheduler_driver.h — drives a Scheduler with a SimRunner as the engine loop does:
// schedule, queue the step, and with `depth` steps in flight (1 = synchronous, 2 = async
// scheduling) execute the oldest and feed its result back. Records what each request got
// (UpdateLog, shared with the prefill lane's driver).
#pragma once
#include <deque>
#include <map>

#include "engine/scheduler/scheduler.h"
#include "bench/sim_runner.h"

namespace rotor::test {

struct Finished {
  std::vector<int32_t> tokens;
  std::vector<int32_t> prompt_argmax;
  FinishReason reason = FinishReason::None;
  std::optional<int32_t> stop_token;
  int num_cached_tokens = 0;
};

// What each request got, from the updates it was sent.
class UpdateLog {
 public:
  void record(const std::vector<RequestUpdate>& updates) {
    for (const RequestUpdate& u : updates) {
      Finished& f = results_[u.req_id];
      f.tokens.insert(f.tokens.end(), u.new_token_ids.begin(), u.new_token_ids.end());
      f.prompt_argmax.insert(f.prompt_argmax.end(), u.prompt_argmax.begin(), u.prompt_argmax.end());
      f.num_cached_tokens = u.num_cached_tokens;
      EXPECT_EQ(u.num_output_tokens, static_cast<int>(f.tokens.size())) << "request " << u.req_id;
      if (u.finish_reason != FinishReason::None) {
        EXPECT_EQ(f.reason, FinishReason::None) << "request " << u.req_id << " finished twice";
        f.reason = u.finish_reason;
        f.stop_token = u.stop_token_id;
      }
    }
  }

  std::map<uint64_t, Finished>& results() { return results_; }

 private:
  std::map<uint64_t, Finished> results_;
};

class SchedulerDriver : public UpdateLog {
 public:
  SchedulerDriver(Scheduler& s, SimRunner& sim, int depth) : s_(s), sim_(sim), depth_(depth) {}

  // One engine-loop iteration; false when there was nothing to do.
  bool step() {
    bool scheduled = false;
    if (static_cast<int>(in_flight_.size()) < depth_ && s_.has_work()) {
      SchedulerOutput out = s_.schedule();
      EXPECT_LE(out.total_num_tokens, s_.config().max_num_batched_tokens);
      EXPECT_LE(static_cast<int>(out.scheduled.size()), s_.config().max_num_seqs);
      if (!out.empty()) {
        max_step_tokens_ = std::max(max_step_tokens_, out.total_num_tokens);
        preempted_ += out.preempted_req_ids.size();
        in_flight_.push_back(std::move(out));
        scheduled = true;
        if (static_cast<int>(in_flight_.size()) < depth_) return true;
      }
    }
    if (in_flight_.empty()) return scheduled;
    const SchedulerOutput out = std::move(in_flight_.front());
    in_flight_.pop_front();
    const RunnerOutput res = sim_.execute(out);
    record(s_.update_from_output(out, res));
    return true;
  }

  void run_until_idle(int max_iterations = 100000) {
    for (int i = 0; i < max_iterations && step(); ++i) {
    }
    EXPECT_FALSE(s_.has_work());
    EXPECT_TRUE(in_flight_.empty());
  }

  size_t preempted() const { return preempted_; }
  int max_step_tokens() const { return max_step_tokens_; }
  size_t in_flight() const { return in_flight_.size(); }

 private:
  Scheduler& s_;
  SimRunner& sim_;
  int depth_;
  std::deque<SchedulerOutput> in_flight_;
  size_t preempted_ = 0;
  int max_step_tokens_ = 0;
};

// What a request generates alone (the sim model is a function of the context).
inline Finished expected_alone(uint64_t seed, std::vector<int32_t> tokens, int max_tokens, int max_model_len,
                               int eos_every, bool ignore_eos) {
  Finished f;
  const size_t prompt = tokens.size();
  for (;;) {
    const int32_t t = sim_next_token(seed, tokens, eos_every);
    tokens.push_back(t);
    f.tokens.push_back(t);
    if (static_cast<int>(tokens.size()) >= max_model_len || static_cast<int>(tokens.size() - prompt) >= max_tokens) {
      f.reason = FinishReason::Length;
      return f;
    }
    if (!ignore_eos && t == kSimEos) {
      f.reason = FinishReason::Stop;
      return f;
    }
  }
}

}  // namespace rotor::test
