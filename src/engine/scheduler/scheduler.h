// engine/scheduler/scheduler.h — the continuous-batching scheduler: one token budget per step
// shared by decodes and prefill chunks (chunked prefill always on), at most max_num_seqs
// running, running requests first and then waiting ones (first come, first served; or by
// (priority, arrival) with the priority policy), preemption by recompute when KV blocks run
// out (of the newest running request; with priorities, of the least urgent), finishing on
// eos / stop ids / max_tokens / max_model_len, abort at any time. schedule() returns plain
// data; update_from_output() consumes the sampled ids. A step may be scheduled before the
// previous one reported (async scheduling): its sampled tokens are placeholders until then
// (a request with a multi-token bad word waits for them instead).
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/scheduler/request.h"
#include "engine/scheduler/scheduler_output.h"

namespace rotor {

struct SchedulerConfig {
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  int max_model_len = 4096;          // prompt + output tokens of one request
  int block_size = 16;
  int num_blocks = 0;                // must hold max_model_len tokens
  bool enable_prefix_caching = true;
  bool priority_policy = false;      // --scheduling-policy priority (else first come, first served)
  std::vector<int32_t> eos_token_ids;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig config);

  // Queues a request (status Waiting, tokens = its prompt, max_tokens resolved). Throws
  // rotor::Error for an empty prompt, a duplicate id, or a prompt with no room to generate.
  void add_request(Request request);
  // Finishes a request with FinishReason::Abort; nullopt when it is unknown or finished.
  std::optional<RequestUpdate> abort(uint64_t id);

  SchedulerOutput schedule();
  // `result` answers `out` (steps report in the order they were scheduled). Returns one update
  // per request that got a token or prompt argmax, or finished.
  std::vector<RequestUpdate> update_from_output(const SchedulerOutput& out, const RunnerOutput& result);

  // Something to schedule, or finished requests the runner has not been told about.
  bool has_work() const { return !running_.empty() || !waiting_.empty() || !finished_ids_.empty(); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  uint64_t num_preemptions() const { return preemptions_; }
  const Request* request(uint64_t id) const;
  const KVCacheManager& kv_cache() const { return kv_; }
  const SchedulerConfig& config() const { return cfg_; }

  // Throws rotor::Error unless the KV cache is consistent and every request's state is.
  void check_consistency() const;

 private:
  // Where in running_ the request to preempt is (the newest, or with priorities the least
  // urgent: the largest (priority, arrival)).
  size_t victim_index() const;
  // Queues a waiting request: at the back (new) or front (preempted) of FCFS, or in
  // (priority, arrival) order.
  void enqueue(Request* r, bool preempted);
  void preempt(Request* r, SchedulerOutput& out);
  void finish(Request* r, FinishReason reason);
  FinishReason check_stop(const Request& r, int32_t token, std::optional<int32_t>& stop_token) const;
  RequestUpdate make_update(const Request& r) const;

  SchedulerConfig cfg_;
  KVCacheManager kv_;
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
  std::vector<Request*> running_;       // in admission order
  std::deque<Request*> waiting_;        // in the order they will be admitted
  std::vector<uint64_t> finished_ids_;  // since the last schedule()
  uint64_t step_ = 0;
  uint64_t preemptions_ = 0;
};

}  // namespace rotor
