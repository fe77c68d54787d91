// engine/scheduler/scheduler.h — the continuous-batching scheduler: one token budget per step
// shared by decodes and prefill chunks (chunked prefill always on), at most max_num_seqs
// running, running requests first and then waiting ones (first come, first served; or by
// (priority, arrival) with the priority policy), preemption by recompute when KV blocks run
// out (of the newest running request; with priorities, of the least urgent), finishing on
// eos / stop ids / max_tokens / max_model_len, abort at any time. schedule() returns plain
// data; update_from_output() consumes the sampled ids. A step may be scheduled before the
// previous one reported (async scheduling): its sampled tokens are placeholders until then
// (a request with a multi-token bad word waits for them instead).
//
// With the prefill lane (docs/prefill-lane.md) two runners share the GPU: schedule() makes
// decode-only steps of the running requests, schedule_chunk() hands out one prompt chunk at a
// time (the request part-way through its prompt, else the first waiting one) and
// update_from_chunk() moves a request whose prompt is done into the running set. With a
// backlog threshold schedule() also admits waiting requests (prefill chunks in the decode step,
// as without the lane) while that many wait. Blocks freed from a request the decode runner
// holds are held (KVCacheManager::free_held) until every decode step scheduled before the free
// has reported, so a chunk on the other stream never gets a block a decode step may still
// write; for the same reason a block joins the prefix cache only once the step or chunk that
// fills it has reported.
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
  bool prefill_lane = false;         // prompts are computed by schedule_chunk(), decodes by schedule()
  int prefill_lane_backlog = 0;      // with the lane: schedule() admits prompts while this many wait (0: never)
  std::vector<int32_t> eos_token_ids;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig config);

  // Queues a request (status Waiting, tokens = its prompt, max_tokens resolved). Throws
  // rotor::Error for an empty prompt, a duplicate id, or a prompt with no room to generate.
  void add_request(Request request);
  // Finishes a request with FinishReason::Abort; nullopt when it is unknown or finished. A
  // request whose chunk is in flight keeps its blocks until update_from_chunk() for it.
  std::optional<RequestUpdate> abort(uint64_t id);

  // The next step. With the prefill lane: decodes of the running requests (a preempted request
  // goes back to waiting and computes its context again through the lane), and with a backlog
  // threshold K > 0 the prompt chunks of requests it admitted, admitting waiting ones while at
  // least K wait. A non-empty output is in flight until update_from_output() for it.
  SchedulerOutput schedule();
  // `result` answers `out` (steps report in the order they were scheduled). Returns one update
  // per request that got a token or prompt argmax, or finished.
  std::vector<RequestUpdate> update_from_output(const SchedulerOutput& out, const RunnerOutput& result);

  // Prefill lane only (and no chunk in flight): the next chunk, for the prefill lane's runner.
  // The in-lane request's next chunk, else the first waiting request, admitted when fewer than
  // max_num_seqs are running and its blocks can be allocated (else it waits: no preemption).
  // finished_req_ids: what that runner must forget (requests whose last chunk reported, aborted
  // in-lane requests). A non-empty output is in flight until update_from_chunk() for it.
  SchedulerOutput schedule_chunk();
  // `result` answers the chunk in flight. Prompt argmax / log-probs as update_from_output();
  // the token sampled by a last chunk is the request's next output (stop checks as usual), and
  // a request that goes on joins the running set: the next schedule() gives it to the decode
  // lane's runner as a NewRequestData.
  std::vector<RequestUpdate> update_from_chunk(const SchedulerOutput& out, const RunnerOutput& result);

  // Something for schedule(): running requests, finished ones the (decode) runner has not been
  // told about, or waiting ones it would admit.
  bool has_decode_work() const { return !running_.empty() || !finished_ids_.empty() || admits_waiting(); }
  // Something for schedule_chunk(): no chunk in flight, and a request in the lane or waiting,
  // or finished ones the prefill lane's runner has not been told about.
  bool has_chunk_work() const {
    return cfg_.prefill_lane && !chunk_in_flight_ && (lane_ || !waiting_.empty() || !chunk_finished_ids_.empty());
  }
  bool chunk_in_flight() const { return chunk_in_flight_; }
  bool has_work() const { return has_decode_work() || has_chunk_work() || chunk_in_flight_; }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int num_prefilling() const { return lane_ ? 1 : 0; }
  uint64_t num_preemptions() const { return preemptions_; }
  const Request* request(uint64_t id) const;
  const KVCacheManager& kv_cache() const { return kv_; }
  const SchedulerConfig& config() const { return cfg_; }

  // Throws rotor::Error unless the KV cache is consistent and every request's state is.
  void check_consistency() const;

 private:
  // Whether schedule() may admit waiting requests: always without the lane, with it while at
  // least prefill_lane_backlog wait.
  bool admits_waiting() const {
    if (!cfg_.prefill_lane) return !waiting_.empty();
    return cfg_.prefill_lane_backlog > 0 && num_waiting() >= cfg_.prefill_lane_backlog;
  }
  // How many of r's tokens a block handed out now may cover and join the prefix cache: all
  // (computed by then) without the lane; with it only those written, the rest joining when the
  // step or chunk writing them reports (cache_written()): the other stream may read a hit at once.
  int cacheable_at_hand_out(const Request& r) const;
  // With the lane, after a report: r's full blocks of written tokens join the prefix cache.
  void cache_written(const Request& r);
  // Where in running_ the request to preempt is (the newest, or with priorities the least
  // urgent: the largest (priority, arrival)).
  size_t victim_index() const;
  // Queues a waiting request: at the back (new) or front (preempted) of FCFS, or in
  // (priority, arrival) order.
  void enqueue(Request* r, bool preempted);
  void preempt(Request* r, SchedulerOutput& out);
  void finish(Request* r, FinishReason reason);
  // Adds r's next num_tokens to `out`: all of r for a runner that does not hold it
  // (blocks_before < 0), else what changed; then counts them computed.
  void add_to_output(Request* r, int num_tokens, int blocks_before, SchedulerOutput& out);
  // Frees the blocks of a running request: with the prefill lane, under a hold released when
  // the newest decode step in flight reports.
  void free_running(Request* r);
  // With the prefill lane, when `r` cannot get blocks for n more tokens: whether the blocks
  // that holds will give back suffice, so it waits for them instead of preempting.
  bool waits_for_held_blocks(const Request& r, int n) const;
  FinishReason check_stop(const Request& r, int32_t token, std::optional<int32_t>& stop_token) const;
  RequestUpdate make_update(const Request& r) const;
  // Applies one runner answer for `r` (new prompt argmax / log-probs, the sampled token, stop
  // checks: it may finish r). nullopt when nothing is new for the client.
  std::optional<RequestUpdate> apply(Request* r, const ScheduledRequest& s, const SampledToken& o);

  SchedulerConfig cfg_;
  KVCacheManager kv_;
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
  std::vector<Request*> running_;       // in admission order
  std::deque<Request*> waiting_;        // in the order they will be admitted
  std::vector<uint64_t> finished_ids_;  // since the last schedule()
  uint64_t step_ = 0;                   // ids of steps and chunks alike
  uint64_t preemptions_ = 0;

  // The prefill lane.
  Request* lane_ = nullptr;                   // part-way through its prompt, or its chunk in flight
  bool chunk_in_flight_ = false;
  uint64_t chunk_step_ = 0;                   // the chunk in flight
  std::vector<uint64_t> chunk_finished_ids_;  // since the last schedule_chunk()
  int decode_in_flight_ = 0;                  // decode steps not reported yet
  uint64_t newest_decode_step_ = 0;
};

}  // namespace rotor
