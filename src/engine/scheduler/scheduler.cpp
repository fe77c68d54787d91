// engine/scheduler/scheduler.cpp — schedule(), preemption, stop checks, update_from_output(); the
// prefill lane's schedule_chunk() / update_from_chunk(), its backlog rule, the holds on blocks
// freed by the decode side and the prefix cache offered only written blocks.
#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <limits>

#include "core/check.h"

namespace rotor {
namespace {

// The priority policy's order: lower priority first, then earlier arrival (ids grow with it).
bool served_before(const Request* a, const Request* b) {
  return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
}

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Abort: return "abort";
    case FinishReason::Error: return "error";
    case FinishReason::None: break;
  }
  return "";
}

Scheduler::Scheduler(SchedulerConfig config)
    : cfg_(std::move(config)), kv_(cfg_.num_blocks, cfg_.block_size, cfg_.enable_prefix_caching) {
  ROTOR_CHECK(cfg_.max_num_seqs >= 1 && cfg_.max_num_batched_tokens >= 1 && cfg_.max_model_len >= 2,
              "scheduler: max_num_seqs {}, max_num_batched_tokens {}, max_model_len {} must be positive",
              cfg_.max_num_seqs, cfg_.max_num_batched_tokens, cfg_.max_model_len);
  ROTOR_CHECK(cfg_.prefill_lane_backlog >= 0 && (cfg_.prefill_lane || cfg_.prefill_lane_backlog == 0),
              "scheduler: prefill_lane_backlog {} needs the prefill lane and must not be negative",
              cfg_.prefill_lane_backlog);
  ROTOR_CHECK(static_cast<int64_t>(cfg_.num_blocks) * cfg_.block_size >= cfg_.max_model_len,
              "the KV cache holds {} tokens ({} blocks of {}), fewer than max_model_len {}: lower --max-model-len "
              "or give the KV cache more memory",
              static_cast<int64_t>(cfg_.num_blocks) * cfg_.block_size, cfg_.num_blocks, cfg_.block_size,
              cfg_.max_model_len);
}

void Scheduler::add_request(Request request) {
  const int n = static_cast<int>(request.tokens.size());
  ROTOR_CHECK(n > 0, "request {}: empty prompt", request.id);
  ROTOR_CHECK(n < cfg_.max_model_len, "request {}: the prompt has {} tokens, which leaves no room to generate within "
              "max_model_len {}", request.id, n, cfg_.max_model_len);
  ROTOR_CHECK(request.max_tokens >= 1, "request {}: max_tokens must be at least 1", request.id);
  ROTOR_CHECK(!requests_.contains(request.id), "request {} already exists", request.id);
  ROTOR_CHECK(cfg_.priority_policy || request.priority == 0,
              "request {}: priority {} needs the priority scheduling policy", request.id, request.priority);
  auto r = std::make_unique<Request>(std::move(request));
  r->num_prompt_tokens = n;
  r->status = RequestStatus::Waiting;
  enqueue(r.get(), false);
  requests_.emplace(r->id, std::move(r));
}

void Scheduler::enqueue(Request* r, bool preempted) {
  if (!cfg_.priority_policy) {
    if (preempted) waiting_.push_front(r);
    else waiting_.push_back(r);
    return;
  }
  waiting_.insert(std::upper_bound(waiting_.begin(), waiting_.end(), r, served_before), r);
}

size_t Scheduler::victim_index() const {
  if (!cfg_.priority_policy) return running_.size() - 1;
  return static_cast<size_t>(std::max_element(running_.begin(), running_.end(), served_before) - running_.begin());
}

const Request* Scheduler::request(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

std::optional<RequestUpdate> Scheduler::abort(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return std::nullopt;
  RequestUpdate u = make_update(*it->second);
  u.finish_reason = FinishReason::Abort;
  finish(it->second.get(), FinishReason::Abort);
  return u;
}

int Scheduler::cacheable_at_hand_out(const Request& r) const {
  return cfg_.prefill_lane ? r.num_written_tokens() : std::numeric_limits<int>::max();
}

void Scheduler::cache_written(const Request& r) { kv_.cache_blocks(r.id, r.tokens, r.num_written_tokens()); }

void Scheduler::free_running(Request* r) {
  if (cfg_.prefill_lane && decode_in_flight_ > 0) kv_.free_held(r->id, newest_decode_step_);
  else kv_.free(r->id);
}

bool Scheduler::waits_for_held_blocks(const Request& r, int n) const {
  if (!cfg_.prefill_lane) return false;
  const int held = kv_.num_held_blocks_to_free();
  const int bs = cfg_.block_size;
  const int needed = (r.num_computed_tokens + n + bs - 1) / bs - static_cast<int>(kv_.block_table(r.id).size());
  return held > 0 && kv_.num_free_blocks() + held >= needed;
}

void Scheduler::preempt(Request* r, SchedulerOutput& out) {
  free_running(r);
  r->status = RequestStatus::Preempted;
  r->num_computed_tokens = 0;
  r->num_sent_tokens = 0;
  ++r->num_preemptions;
  ++preemptions_;
  enqueue(r, true);
  out.preempted_req_ids.push_back(r->id);
}

void Scheduler::finish(Request* r, FinishReason reason) {
  const uint64_t id = r->id;
  switch (r->status) {
    case RequestStatus::Running:
      running_.erase(std::find(running_.begin(), running_.end(), r));
      free_running(r);
      if (!cfg_.prefill_lane || r->num_sent_tokens > 0) finished_ids_.push_back(id);
      break;
    case RequestStatus::Prefilling:
      lane_ = nullptr;
      if (chunk_in_flight_) {
        kv_.free_held(id, chunk_step_);  // freed, and the runner told, when the chunk reports
      } else {
        kv_.free(id);
        chunk_finished_ids_.push_back(id);
      }
      break;
    default:
      waiting_.erase(std::find(waiting_.begin(), waiting_.end(), r));
      kv_.free(id);
      if (!cfg_.prefill_lane) finished_ids_.push_back(id);
  }
  r->status = RequestStatus::Finished;
  r->finish_reason = reason;
  requests_.erase(id);
}

void Scheduler::add_to_output(Request* r, int num_tokens, int blocks_before, SchedulerOutput& out) {
  const std::span<const int32_t> table = kv_.block_table(r->id);
  if (blocks_before < 0) {
    NewRequestData d;
    d.req_id = r->id;
    d.token_ids = r->tokens;
    d.num_prompt_tokens = r->num_prompt_tokens;
    d.params = r->params;
    d.seed = r->seed;
    d.prompt_argmax = r->prompt_argmax;
    d.constraint = r->constraint;
    d.block_ids.assign(table.begin(), table.end());
    d.num_computed_tokens = r->num_computed_tokens;
    out.new_requests.push_back(std::move(d));
  } else {
    CachedRequestData d;
    d.req_id = r->id;
    d.new_token_ids.assign(r->tokens.begin() + r->num_sent_tokens, r->tokens.end());
    d.new_block_ids.assign(table.begin() + blocks_before, table.end());
    d.num_computed_tokens = r->num_computed_tokens;
    out.cached_requests.push_back(std::move(d));
  }
  r->num_sent_tokens = r->num_tokens();
  const bool sample = r->num_computed_tokens + num_tokens == r->num_tokens_with_placeholders();
  out.scheduled.push_back({r->id, num_tokens, sample});
  out.total_num_tokens += num_tokens;
  r->num_computed_tokens += num_tokens;
  r->num_tokens_in_flight += num_tokens;
  if (sample) ++r->num_placeholders;
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  out.step = step_++;
  out.finished_req_ids = std::move(finished_ids_);
  finished_ids_.clear();
  int budget = cfg_.max_num_batched_tokens;

  struct Pick {
    Request* r;
    int num_tokens;
    int blocks_before;  // -1: a new request for the runner (admitted, or with the lane, out of it)
  };
  std::vector<Pick> picks;

  // Running requests first: decodes and unfinished prefill chunks alike (with the lane, decodes and
  // the chunks of requests it admitted here).
  bool waited = false;  // a running request waits for held blocks
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request* r = running_[i];
    // Certain to finish with the tokens already in flight: nothing to compute. Or its next
    // token's mask depends on the one in flight (a bad word of several tokens): wait for it.
    if (r->num_placeholders > 0 && (r->num_output_tokens() + r->num_placeholders >= r->max_tokens ||
                                    r->num_tokens_with_placeholders() >= cfg_.max_model_len ||
                                    r->params.needs_previous_tokens())) {
      ++i;
      continue;
    }
    const int n = std::min(r->num_tokens_with_placeholders() - r->num_computed_tokens, budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    const int blocks_before = r->num_sent_tokens == 0 ? -1 : static_cast<int>(kv_.block_table(r->id).size());
    const int cacheable = cacheable_at_hand_out(*r);
    bool allocated = false, preempted_itself = false;
    while (!(allocated = kv_.allocate(r->id, r->tokens, r->num_computed_tokens, n, {}, cacheable)) &&
           !waits_for_held_blocks(*r, n)) {
      const size_t v = victim_index();
      Request* victim = running_[v];
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(v));
      if (v < i) --i;
      // With priorities the victim may have been picked earlier in this step: take it back.
      for (auto p = picks.begin(); p != picks.end(); ++p)
        if (p->r == victim) {
          budget += p->num_tokens;
          picks.erase(p);
          break;
        }
      preempt(victim, out);
      if (victim == r) {
        preempted_itself = true;
        break;
      }
    }
    if (preempted_itself) break;
    if (allocated) {
      picks.push_back({r, n, blocks_before});
      budget -= n;
    } else {
      waited = true;
    }
    ++i;
  }

  // Then waiting ones (new or preempted), unless this step had to preempt or a running request
  // waits for blocks; with the lane only while at least prefill_lane_backlog wait (checked before
  // each admission), the lane taking the others.
  if (out.preempted_req_ids.empty() && !waited) {
    while (admits_waiting() && budget > 0 && num_running() + num_prefilling() < cfg_.max_num_seqs) {
      Request* r = waiting_.front();
      if (r->num_placeholders > 0) break;  // preempted while its last step was in flight
      PrefixHit hit;
      if (!r->computes_whole_prompt()) hit = kv_.find_prefix(r->id, r->tokens);
      const int n = std::min(r->num_tokens() - hit.num_tokens, budget);
      if (!kv_.allocate(r->id, r->tokens, hit.num_tokens, n, hit, cacheable_at_hand_out(*r))) break;
      waiting_.pop_front();
      running_.push_back(r);
      r->status = RequestStatus::Running;
      r->num_computed_tokens = hit.num_tokens;
      if (r->num_cached_tokens < 0) r->num_cached_tokens = hit.num_tokens;
      picks.push_back({r, n, -1});
      budget -= n;
    }
  }

  for (const Pick& p : picks) add_to_output(p.r, p.num_tokens, p.blocks_before, out);
  if (cfg_.prefill_lane && !out.empty()) {
    ++decode_in_flight_;
    newest_decode_step_ = out.step;
  }
  return out;
}

SchedulerOutput Scheduler::schedule_chunk() {
  ROTOR_CHECK(cfg_.prefill_lane, "scheduler: schedule_chunk() without the prefill lane");
  ROTOR_CHECK(!chunk_in_flight_, "scheduler: chunk {} has not reported", chunk_step_);
  SchedulerOutput out;
  out.step = step_++;
  out.finished_req_ids = std::move(chunk_finished_ids_);
  chunk_finished_ids_.clear();
  const int budget = cfg_.max_num_batched_tokens;
  Request* r = lane_;
  int n = 0, blocks_before = -1;
  if (r) {  // its next chunk; without the blocks for it, it waits
    blocks_before = static_cast<int>(kv_.block_table(r->id).size());
    n = std::min(r->num_tokens() - r->num_computed_tokens, budget);
    if (!kv_.allocate(r->id, r->tokens, r->num_computed_tokens, n, {}, cacheable_at_hand_out(*r))) r = nullptr;
  } else if (!waiting_.empty() && static_cast<int>(running_.size()) < cfg_.max_num_seqs &&
             waiting_.front()->num_placeholders == 0) {  // else preempted while its last step was in flight
    Request* w = waiting_.front();
    PrefixHit hit;
    if (!w->computes_whole_prompt()) hit = kv_.find_prefix(w->id, w->tokens);
    n = std::min(w->num_tokens() - hit.num_tokens, budget);
    if (kv_.allocate(w->id, w->tokens, hit.num_tokens, n, hit, cacheable_at_hand_out(*w))) {
      waiting_.pop_front();
      r = lane_ = w;
      r->status = RequestStatus::Prefilling;
      r->num_computed_tokens = hit.num_tokens;
      if (r->num_cached_tokens < 0) r->num_cached_tokens = hit.num_tokens;
    }
  }
  if (r) add_to_output(r, n, blocks_before, out);
  if (!out.empty()) {
    chunk_in_flight_ = true;
    chunk_step_ = out.step;
  }
  return out;
}

FinishReason Scheduler::check_stop(const Request& r, int32_t token, std::optional<int32_t>& stop_token) const {
  if (r.num_tokens() >= cfg_.max_model_len || r.num_output_tokens() >= r.max_tokens) return FinishReason::Length;
  if (r.num_output_tokens() < r.params.min_tokens) return FinishReason::None;
  const auto& eos = cfg_.eos_token_ids;
  if (!r.params.ignore_eos && std::find(eos.begin(), eos.end(), token) != eos.end()) return FinishReason::Stop;
  const auto& stop = r.params.stop_token_ids;
  if (std::find(stop.begin(), stop.end(), token) != stop.end()) {
    stop_token = token;
    return FinishReason::Stop;
  }
  return FinishReason::None;
}

RequestUpdate Scheduler::make_update(const Request& r) const {
  RequestUpdate u;
  u.req_id = r.id;
  u.num_prompt_tokens = r.num_prompt_tokens;
  u.num_output_tokens = r.num_output_tokens();
  u.num_cached_tokens = std::max(r.num_cached_tokens, 0);
  return u;
}

std::optional<RequestUpdate> Scheduler::apply(Request* r, const ScheduledRequest& s, const SampledToken& o) {
  // Prompt positions computed again after a preemption were reported before.
  std::vector<int32_t> argmax;
  for (size_t j = 0; j < o.prompt_argmax.size(); ++j) {
    if (o.prompt_position + static_cast<int>(j) != r->num_prompt_argmax) continue;
    argmax.push_back(o.prompt_argmax[j]);
    ++r->num_prompt_argmax;
  }
  std::vector<TokenLogprobs> prompt_logprobs;
  for (size_t j = 0; j < o.prompt_logprobs.size(); ++j) {
    if (o.prompt_position + static_cast<int>(j) != r->num_prompt_logprobs) continue;
    prompt_logprobs.push_back(o.prompt_logprobs[j]);
    ++r->num_prompt_logprobs;
  }
  if (!s.sample && argmax.empty() && prompt_logprobs.empty()) return std::nullopt;
  std::optional<int32_t> stop_token;
  FinishReason reason = FinishReason::None;
  if (s.sample) {
    --r->num_placeholders;
    r->tokens.push_back(o.token);
    reason = check_stop(*r, o.token, stop_token);
  }
  RequestUpdate u = make_update(*r);
  u.prompt_argmax = std::move(argmax);
  u.prompt_logprobs = std::move(prompt_logprobs);
  if (s.sample) {
    u.new_token_ids.push_back(o.token);
    if (o.logprobs) u.logprobs.push_back(*o.logprobs);
  }
  u.finish_reason = reason;
  u.stop_token_id = stop_token;
  if (reason != FinishReason::None) finish(r, reason);
  return u;
}

std::vector<RequestUpdate> Scheduler::update_from_output(const SchedulerOutput& out, const RunnerOutput& result) {
  ROTOR_CHECK(result.outputs.size() == out.scheduled.size(), "scheduler: {} runner outputs for {} scheduled requests",
              result.outputs.size(), out.scheduled.size());
  ROTOR_CHECK(!cfg_.prefill_lane || decode_in_flight_ > 0, "scheduler: step {} reported, none in flight", out.step);
  std::vector<RequestUpdate> updates;
  for (size_t k = 0; k < out.scheduled.size(); ++k) {
    auto it = requests_.find(out.scheduled[k].req_id);
    if (it == requests_.end()) continue;  // finished or aborted meanwhile
    Request* r = it->second.get();
    r->num_tokens_in_flight -= out.scheduled[k].num_tokens;
    std::optional<RequestUpdate> u = apply(r, out.scheduled[k], result.outputs[k]);
    const bool finished = u && u->finish_reason != FinishReason::None;  // r is gone
    if (cfg_.prefill_lane && !finished) cache_written(*r);
    if (u) updates.push_back(std::move(*u));
  }
  if (cfg_.prefill_lane) {
    --decode_in_flight_;
    kv_.release_held(out.step);  // blocks freed while this was the newest step in flight
  }
  return updates;
}

std::vector<RequestUpdate> Scheduler::update_from_chunk(const SchedulerOutput& out, const RunnerOutput& result) {
  ROTOR_CHECK(chunk_in_flight_ && out.step == chunk_step_, "scheduler: chunk {} is not the one in flight", out.step);
  ROTOR_CHECK(result.outputs.size() == out.scheduled.size(), "scheduler: {} runner outputs for {} scheduled requests",
              result.outputs.size(), out.scheduled.size());
  chunk_in_flight_ = false;
  kv_.release_held(out.step);  // the blocks of a request aborted while its chunk was in flight
  if (out.scheduled.empty()) return {};
  const ScheduledRequest& s = out.scheduled[0];
  Request* r = lane_;
  if (!r) {  // aborted meanwhile
    chunk_finished_ids_.push_back(s.req_id);
    return {};
  }
  r->num_tokens_in_flight -= s.num_tokens;
  std::vector<RequestUpdate> updates;
  bool finished = false;
  if (auto u = apply(r, s, result.outputs[0])) {
    finished = u->finish_reason != FinishReason::None;
    updates.push_back(std::move(*u));
  }
  if (!finished) cache_written(*r);  // the chunk's blocks, now written (not when it was handed out)
  if (s.sample && !finished) {  // its context is computed: the decode lane's runner takes it over
    lane_ = nullptr;
    chunk_finished_ids_.push_back(r->id);
    r->status = RequestStatus::Running;
    r->num_sent_tokens = 0;
    running_.push_back(r);
  }
  return updates;
}

void Scheduler::check_consistency() const {
  kv_.check_consistency();
  const int bs = cfg_.block_size;
  for (const auto& [id, r] : requests_) {
    const int blocks = static_cast<int>(kv_.block_table(id).size());
    ROTOR_CHECK(r->num_placeholders >= 0 && r->num_tokens_in_flight >= 0 &&
                    r->num_computed_tokens <= r->num_tokens_with_placeholders(),
                "scheduler: request {} computed {} of {} tokens, {} placeholders, {} in flight", id,
                r->num_computed_tokens, r->num_tokens(), r->num_placeholders, r->num_tokens_in_flight);
    if (r->status == RequestStatus::Running || r->status == RequestStatus::Prefilling) {
      ROTOR_CHECK(blocks * bs >= r->num_computed_tokens, "scheduler: request {} has {} blocks for {} tokens", id,
                  blocks, r->num_computed_tokens);
    }
    if (r->status == RequestStatus::Running) {
      ROTOR_CHECK(std::count(running_.begin(), running_.end(), r.get()) == 1, "scheduler: request {} not running once",
                  id);
      // With the lane it decodes, or with a backlog threshold it may be part-way through its prompt.
      const bool decodes = r->num_computed_tokens == r->num_tokens_with_placeholders() - 1;
      const bool prefills = cfg_.prefill_lane_backlog > 0 && r->num_placeholders == 0;
      ROTOR_CHECK(!cfg_.prefill_lane || decodes || prefills,
                  "scheduler: running request {} has more than its next token to compute", id);
    } else if (r->status == RequestStatus::Prefilling) {
      ROTOR_CHECK(lane_ == r.get(), "scheduler: request {} prefills outside the lane", id);
    } else {
      ROTOR_CHECK(blocks == 0 && r->num_computed_tokens == 0, "scheduler: waiting request {} holds blocks", id);
      ROTOR_CHECK(std::count(waiting_.begin(), waiting_.end(), r.get()) == 1, "scheduler: request {} not waiting once",
                  id);
    }
  }
  const size_t num_requests = running_.size() + waiting_.size() + num_prefilling();
  ROTOR_CHECK(num_requests == requests_.size(), "scheduler: {} running + {} waiting + {} prefilling != {} requests",
              running_.size(), waiting_.size(), num_prefilling(), requests_.size());
  ROTOR_CHECK(num_running() + num_prefilling() <= cfg_.max_num_seqs, "scheduler: {} running, {} prefilling",
              num_running(), num_prefilling());
  // Holds last while what may write their blocks is in flight (and exist only with the lane).
  ROTOR_CHECK(kv_.num_held_blocks() == 0 || decode_in_flight_ > 0 || chunk_in_flight_,
              "scheduler: {} blocks held with nothing in flight", kv_.num_held_blocks());
}

}  // namespace rotor
