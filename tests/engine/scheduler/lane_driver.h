// tests/engine/scheduler/lane_driver.h — drives a Scheduler with the prefill lane as the engine loop
// does: a decode lane (schedule(), `depth` steps in flight) and a prefill lane (schedule_chunk(),
// one chunk in flight), each with its own SimRunner over one simulated KV cache. A step or chunk
// is executed (reads and writes the cache) when it reports, and a chunk reports after a random
// number (0 to max_chunk_wait) of decode reports, so the two lanes' writes interleave as two
// streams' may: a block one lane reads before the other's step writing it has reported is read
// before that write in some orders, and caught. Records what each request got and checks what
// each lane was handed (decode steps: decodes, and prompt chunks only while the backlog rule
// admits them).
#pragma once
#include <deque>
#include <optional>
#include <random>

#include "tests/engine/scheduler/scheduler_driver.h"

namespace rotor::test {

class LaneDriver : public UpdateLog {
 public:
  LaneDriver(Scheduler& s, SimRunner& decode, SimRunner& prefill, int depth, int max_chunk_wait, uint32_t seed)
      : s_(s), decode_(decode), prefill_(prefill), depth_(depth), max_chunk_wait_(max_chunk_wait), rng_(seed) {}

  // One engine-loop iteration: schedule what each lane can take, then report the chunk (when
  // its wait is over) or the oldest decode step. False when there was nothing to do.
  bool step() {
    bool scheduled = false;
    if (static_cast<int>(steps_.size()) < depth_ && s_.has_decode_work()) {
      const int waiting = s_.num_waiting();
      SchedulerOutput out = s_.schedule();
      check_decode_step(out, waiting);
      if (!out.empty()) {
        steps_.push_back(std::move(out));
        scheduled = true;
      }
    }
    if (s_.has_chunk_work()) {
      SchedulerOutput out = s_.schedule_chunk();
      check_chunk(out);
      if (!out.empty()) {
        chunk_ = std::move(out);
        chunk_wait_ = static_cast<int>(rng_() % (max_chunk_wait_ + 1));
        scheduled = true;
      }
    }
    if (chunk_ && (chunk_wait_ == 0 || steps_.empty())) {
      const SchedulerOutput out = std::move(*chunk_);
      chunk_.reset();
      record(s_.update_from_chunk(out, prefill_.execute(out)));
      ++chunks_;
      return true;
    }
    if (steps_.empty()) return scheduled;
    if (scheduled && static_cast<int>(steps_.size()) < depth_) return true;  // async: the next goes first
    const SchedulerOutput out = std::move(steps_.front());
    steps_.pop_front();
    record(s_.update_from_output(out, decode_.execute(out)));
    if (chunk_) --chunk_wait_;
    return true;
  }

  void run_until_idle(int max_iterations = 100000) {
    for (int i = 0; i < max_iterations && step(); ++i) {
    }
    EXPECT_FALSE(s_.has_work());
    EXPECT_EQ(in_flight(), 0u);
  }

  size_t in_flight() const { return steps_.size() + (chunk_ ? 1 : 0); }
  // The request whose chunk is in flight, if any.
  std::optional<uint64_t> chunk_request() const {
    if (!chunk_ || chunk_->scheduled.empty()) return std::nullopt;
    return chunk_->scheduled[0].req_id;
  }
  size_t preempted() const { return preempted_; }
  int chunks() const { return chunks_; }
  int inline_admissions() const { return inline_admissions_; }  // waiting requests schedule() admitted
  int inline_chunks() const { return inline_chunks_; }          // prompt chunks in decode steps

 private:
  // Decodes of running requests; a request the decode runner does not hold comes with its whole
  // context computed but its last token. With a backlog threshold K also prompt chunks, within
  // the budget and max_num_seqs, of requests admitted (with their prefix-cache hit) while at
  // least K waited: `waiting` before the step, so at least K - 1 after any admission.
  void check_decode_step(const SchedulerOutput& out, int waiting) {
    preempted_ += out.preempted_req_ids.size();
    const SchedulerConfig& cfg = s_.config();
    const int admitted = waiting + static_cast<int>(out.preempted_req_ids.size()) - s_.num_waiting();
    EXPECT_GE(admitted, 0);
    if (cfg.prefill_lane_backlog == 0) {
      EXPECT_EQ(admitted, 0);
    } else if (admitted > 0) {
      EXPECT_GE(s_.num_waiting(), cfg.prefill_lane_backlog - 1);
    }
    inline_admissions_ += admitted;
    EXPECT_LE(out.total_num_tokens, cfg.max_num_batched_tokens);
    EXPECT_LE(static_cast<int>(out.scheduled.size()), cfg.max_num_seqs);
    for (const ScheduledRequest& sr : out.scheduled) {
      const Request* r = s_.request(sr.req_id);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->status, RequestStatus::Running) << "request " << sr.req_id;
      if (sr.num_tokens == 1 && sr.sample) continue;
      EXPECT_GT(cfg.prefill_lane_backlog, 0) << "a prompt chunk of request " << sr.req_id << " in a decode step";
      ++inline_chunks_;
    }
    for (const NewRequestData& d : out.new_requests) {
      const bool from_lane = d.num_computed_tokens + 1 == static_cast<int>(d.token_ids.size());
      const bool admitted_here = cfg.prefill_lane_backlog > 0 && d.num_computed_tokens % cfg.block_size == 0;
      EXPECT_TRUE(from_lane || admitted_here) << "request " << d.req_id;
    }
  }

  // At most one request, within the budget, in the lane; never a running one.
  void check_chunk(const SchedulerOutput& out) {
    EXPECT_LE(out.scheduled.size(), 1u);
    EXPECT_LE(out.total_num_tokens, s_.config().max_num_batched_tokens);
    EXPECT_TRUE(out.preempted_req_ids.empty());
    for (const ScheduledRequest& sr : out.scheduled) {
      const Request* r = s_.request(sr.req_id);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->status, RequestStatus::Prefilling) << "request " << sr.req_id;
      EXPECT_EQ(sr.sample, r->num_computed_tokens == r->num_tokens()) << "request " << sr.req_id;
    }
  }

  Scheduler& s_;
  SimRunner& decode_;
  SimRunner& prefill_;
  int depth_;
  int max_chunk_wait_;
  std::mt19937 rng_;
  std::deque<SchedulerOutput> steps_;
  std::optional<SchedulerOutput> chunk_;
  int chunk_wait_ = 0;  // decode reports before the chunk reports
  size_t preempted_ = 0;
  int chunks_ = 0;
  int inline_admissions_ = 0;
  int inline_chunks_ = 0;
};

}  // namespace rotor::test
