// engine/engine.cpp — Engine: request validation, the step loop (schedule → prepare → execute
// on the worker → update), async scheduling with two steps in flight, the prefill lane's
// chunks on a second worker, output delivery with timestamps, statistics through
// EngineMetrics, shutdown and failure.
#include "engine/engine.h"

#include <fmt/format.h>

#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <unordered_map>

#include "core/check.h"
#include "core/hash_rng.h"
#include "core/log.h"
#include "engine/engine_metrics.h"
#include "engine/kv_cache_sizing.h"
#include "engine/runner_factory.h"
#include "engine/request_stream.h"
#include "engine/scheduler/scheduler.h"
#include "engine/step_worker.h"

namespace rotor {
namespace {

RequestTimes arrived(Clock::time_point t) {
  RequestTimes r;
  r.arrival = t;
  return r;
}

void validate(const EngineRequest& req, const EngineLimits& lim) {
  const auto& ids = req.prompt_token_ids;
  const SamplingParams& p = req.params;
  ROTOR_CHECK(!ids.empty(), "the prompt is empty");
  for (int32_t t : ids)
    ROTOR_CHECK(t >= 0 && t < lim.vocab_size, "prompt token id {} is outside the vocabulary [0, {})", t, lim.vocab_size);
  ROTOR_CHECK(static_cast<int>(ids.size()) < lim.max_model_len,
              "the prompt has {} tokens, which leaves no room to generate within the maximum context length of {} "
              "tokens",
              ids.size(), lim.max_model_len);
  ROTOR_CHECK(p.temperature >= 0.0f, "temperature must be >= 0, got {}", p.temperature);
  ROTOR_CHECK(p.top_p > 0.0f && p.top_p <= 1.0f, "top_p must be in (0, 1], got {}", p.top_p);
  ROTOR_CHECK(p.top_k >= -1, "top_k must be -1 (off) or at least 0, got {}", p.top_k);
  ROTOR_CHECK(p.min_p >= 0.0f && p.min_p <= 1.0f, "min_p must be in [0, 1], got {}", p.min_p);
  ROTOR_CHECK(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f, "presence_penalty must be in [-2, 2], got {}",
              p.presence_penalty);
  ROTOR_CHECK(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f,
              "frequency_penalty must be in [-2, 2], got {}", p.frequency_penalty);
  ROTOR_CHECK(p.repetition_penalty > 0.0f, "repetition_penalty must be > 0, got {}", p.repetition_penalty);
  ROTOR_CHECK(!p.max_tokens || *p.max_tokens >= 1, "max_tokens must be at least 1, got {}", p.max_tokens.value_or(0));
  ROTOR_CHECK(p.min_tokens >= 0 && (!p.max_tokens || p.min_tokens <= *p.max_tokens),
              "min_tokens must be in [0, max_tokens], got {}", p.min_tokens);
  for (int32_t t : p.stop_token_ids)
    ROTOR_CHECK(t >= 0 && t < lim.vocab_size, "stop token id {} is outside the vocabulary [0, {})", t, lim.vocab_size);
  ROTOR_CHECK(!p.logprobs || (*p.logprobs >= 0 && *p.logprobs <= lim.max_logprobs),
              "logprobs must be in [0, {}], got {}", lim.max_logprobs, p.logprobs.value_or(0));
  ROTOR_CHECK(!p.prompt_logprobs || (*p.prompt_logprobs >= 0 && *p.prompt_logprobs <= lim.max_logprobs),
              "prompt_logprobs must be in [0, {}], got {}", lim.max_logprobs, p.prompt_logprobs.value_or(0));
  for (int32_t t : p.allowed_token_ids)
    ROTOR_CHECK(t >= 0 && t < lim.vocab_size, "allowed token id {} is outside the vocabulary [0, {})", t,
                lim.vocab_size);
  for (const auto& w : p.bad_words) {
    ROTOR_CHECK(!w.empty(), "a bad word has no tokens");
    for (int32_t t : w)
      ROTOR_CHECK(t >= 0 && t < lim.vocab_size, "bad word token id {} is outside the vocabulary [0, {})", t,
                  lim.vocab_size);
  }
  ROTOR_CHECK(req.priority == 0 || lim.priority_scheduling,
              "priority {} needs --scheduling-policy priority (this server schedules first come, first served)",
              req.priority);
}

}  // namespace

std::unique_ptr<Engine> Engine::create(const EngineConfig& config, Ops& ops, Communicator& comm,
                                       const ModelConfig& model, ModelWeights weights) {
  std::vector<RankResources> ranks(1);
  ranks[0] = {&ops, &comm, std::move(weights)};
  RunnerFactory factory(model, std::move(ranks));
  return create(config, factory);
}

std::unique_ptr<Engine> Engine::create(const EngineConfig& config, RunnerFactory& factory) {
  const ModelConfig& model = factory.model();
  Ops& ops = factory.ops();
  EngineLimits lim;
  lim.max_model_len = config.max_model_len > 0 ? config.max_model_len : model.max_context_len();
  ROTOR_CHECK(lim.max_model_len >= 2, "--max-model-len must be at least 2 (the model says {})",
              model.max_context_len());
  ROTOR_CHECK(config.block_size >= 1 && config.max_num_seqs >= 1 && config.max_num_batched_tokens >= 1,
              "--block-size, --max-num-seqs and --max-num-batched-tokens must be positive");
  ROTOR_CHECK(config.max_logprobs <= ops.max_top_logprobs(),
              "--max-logprobs {}: the {} backend gives at most {} log-probs per token", config.max_logprobs,
              ops.device().str(), ops.max_top_logprobs());
  const KvCacheDtype kv_dtype = parse_kv_cache_dtype(config.kv_cache_dtype);
  const int64_t block_bytes = factory.kv_block_bytes(config.block_size, kv_dtype);
  RunnerOptions ro;
  ro.kv_cache_dtype = kv_dtype;
  ro.calculate_kv_scales = config.calculate_kv_scales;
  ro.max_num_tokens = config.max_num_batched_tokens;
  ro.max_num_seqs = config.max_num_seqs;
  ro.max_model_len = lim.max_model_len;
  ro.block_size = config.block_size;
  ro.cuda_graphs = config.cuda_graphs;
  ro.graph_batch_sizes = config.cuda_graph_sizes;
  ro.max_logprobs = config.max_logprobs;
  if (const int64_t bytes = fixed_kv_cache_bytes(config.kv_cache_memory_bytes, ops.device()); bytes > 0) {
    ro.num_blocks = kv_cache_num_blocks(bytes, block_bytes, config.block_size, lim.max_model_len);
  } else {
    ro.num_blocks = (lim.max_model_len + config.block_size - 1) / config.block_size;  // the least it may get
    ro.gpu_memory_utilization = config.gpu_memory_utilization;
  }
  ROTOR_CHECK(factory.has_prefill_lane() == (config.prefill_lane_sms > 0),
              "--prefill-lane-sms {}: the runner factory was built {} a prefill lane", config.prefill_lane_sms,
              factory.has_prefill_lane() ? "with" : "without");
  ROTOR_CHECK(!(factory.has_prefill_lane() && config.calculate_kv_scales),
              "--calculate-kv-scales computes the FP8 scales in the first prefill of one runner; it does not work "
              "with --prefill-lane-sms (two runners share the cache)");
  std::unique_ptr<StepRunner> prefill;
  ROTOR_CHECK(config.prefill_lane_backlog >= 0, "--prefill-lane-backlog must be at least 0 (got {})",
              config.prefill_lane_backlog);
  std::unique_ptr<StepRunner> runner =
      factory.build(ro, &lim.num_blocks, &prefill, /*decodes_only=*/config.prefill_lane_backlog == 0);
  lim.vocab_size = model.vocab_size;
  lim.eos_token_ids.assign(model.eos_token_ids.begin(), model.eos_token_ids.end());
  ROTOR_LOG_INFO("KV cache: {} blocks of {} tokens ({}, {:.2f} GiB, {} tokens); max_model_len {}", lim.num_blocks,
                 config.block_size, dtype_name(KvCache::kv_dtype(ops, kv_dtype)),
                 static_cast<double>(lim.num_blocks) * block_bytes / 1073741824.0,
                 static_cast<int64_t>(lim.num_blocks) * config.block_size, lim.max_model_len);
  if (prefill)
    ROTOR_LOG_INFO("prefill lane: prompts in chunks of up to {} tokens beside decode steps of up to {} requests{}",
                   config.max_num_batched_tokens, config.max_num_seqs,
                   config.prefill_lane_backlog > 0
                       ? fmt::format("; prompts also in decode steps while {} wait", config.prefill_lane_backlog)
                       : std::string());
  return std::make_unique<Engine>(config, std::move(lim), std::move(runner), std::move(prefill));
}

Engine::Engine(const EngineConfig& config, EngineLimits limits, std::unique_ptr<StepRunner> runner,
               std::unique_ptr<StepRunner> prefill_runner)
    : config_(config), limits_(std::move(limits)), runner_(std::move(runner)),
      prefill_runner_(std::move(prefill_runner)), inbox_(std::make_shared<EngineInbox>()),
      seed_base_(std::random_device{}()) {
  limits_.max_logprobs = config_.max_logprobs;
  limits_.block_size = config_.block_size;
  limits_.max_num_seqs = config_.max_num_seqs;
  limits_.max_num_batched_tokens = config_.max_num_batched_tokens;
  limits_.priority_scheduling = config_.priority_scheduling;
  SchedulerConfig sc;
  sc.max_num_seqs = config_.max_num_seqs;
  sc.max_num_batched_tokens = config_.max_num_batched_tokens;
  sc.max_model_len = limits_.max_model_len;
  sc.block_size = config_.block_size;
  sc.num_blocks = limits_.num_blocks;
  sc.enable_prefix_caching = config_.enable_prefix_caching;
  sc.priority_policy = config_.priority_scheduling;
  sc.eos_token_ids = limits_.eos_token_ids;
  sc.prefill_lane = prefill_runner_ != nullptr;
  sc.prefill_lane_backlog = sc.prefill_lane ? config_.prefill_lane_backlog : 0;
  scheduler_ = std::make_unique<Scheduler>(sc);
  metrics_ = std::make_unique<EngineMetrics>(limits_.num_blocks, limits_.block_size, limits_.max_model_len,
                                             config_.kv_cache_dtype, config_.calculate_kv_scales);
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard lk(inbox_->mu);
    inbox_->closed = true;
  }
  inbox_->cv.notify_all();
  thread_.join();
}

RequestHandle Engine::submit(EngineRequest req) {
  validate(req, limits_);
  Request r;
  r.id = next_id_++;
  r.tokens = std::move(req.prompt_token_ids);
  r.params = std::move(req.params);
  r.max_tokens = r.params.max_tokens.value_or(limits_.max_model_len - static_cast<int>(r.tokens.size()));
  r.seed = r.params.seed ? static_cast<uint64_t>(*r.params.seed) : hash3(seed_base_, r.id, 0);
  r.prompt_argmax = req.prompt_argmax;
  r.priority = req.priority;
  r.constraint = std::move(req.constraint);
  const Clock::time_point arrival = Clock::now();
  auto stream = std::make_shared<RequestStream>(r.id, static_cast<int>(r.tokens.size()), arrival);
  {
    std::lock_guard lk(inbox_->mu);
    ROTOR_CHECK(!inbox_->closed, "{}", inbox_->error.empty() ? "the engine is shut down" : "the engine failed: " + inbox_->error);
    inbox_->submissions.push_back({std::move(r), stream, arrival});
  }
  inbox_->cv.notify_all();
  return RequestHandle(stream, inbox_);
}

void Engine::abort(uint64_t request_id) { inbox_->abort(request_id); }

std::string Engine::failure() const {
  std::lock_guard lk(inbox_->mu);
  return inbox_->error;
}

EngineStats Engine::stats() const { return metrics_->snapshot(); }

void Engine::loop() {
  Scheduler& sched = *scheduler_;
  struct Live {
    std::shared_ptr<RequestStream> stream;
    RequestTimes times;
    int max_tokens = 0;  // as resolved (vllm:request_params_max_tokens)
  };
  std::unordered_map<uint64_t, Live> live;
  struct InFlight {
    SchedulerOutput out;
    std::future<RunnerOutput> result;
  };
  std::deque<InFlight> in_flight;  // the runner's steps (decodes only with a prefill lane), oldest first
  std::optional<InFlight> chunk;   // the prefill lane's chunk
  const size_t depth = config_.async_scheduling ? 2 : 1;
  const auto completed = [inbox = inbox_] { inbox->completed(); };
  StepWorker worker(*runner_, completed);
  std::optional<StepWorker> lane;
  if (prefill_runner_) lane.emplace(*prefill_runner_, completed);
  EngineMetrics& metrics = *metrics_;
  const auto ready = [](const std::future<RunnerOutput>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  };

  // Times and stats of an update; then (after publish()) push() hands it to the reader, so a
  // reader that sees an output also sees it counted in stats().
  const auto account = [&](const RequestUpdate& u) {
    auto it = live.find(u.req_id);
    if (it == live.end()) return;
    metrics.update(u, it->second.times, it->second.max_tokens, Clock::now());
  };
  const auto push = [&](const RequestUpdate& u) {
    auto it = live.find(u.req_id);
    if (it == live.end()) return;
    it->second.stream->push(u, it->second.times);
    if (u.finish_reason != FinishReason::None) live.erase(it);
  };
  const auto publish = [&] { metrics.publish(sched); };
  const auto submit = [&](StepWorker& w, StepRunner& runner, SchedulerOutput out) {
    const Clock::time_point now = Clock::now();
    for (const NewRequestData& d : out.new_requests) {
      RequestTimes& t = live.at(d.req_id).times;
      if (!t.first_scheduled) metrics.first_scheduled(t, d.num_prompt_tokens, now);
    }
    metrics.step(out.total_num_tokens);
    std::future<RunnerOutput> f = w.submit(runner.prepare(out));
    return InFlight{std::move(out), std::move(f)};
  };

  std::string failure;
  try {
    uint64_t seen = 0;  // the inbox's completions already looked at
    // A lane whose last schedule gave nothing waits until something changes (a submission, an
    // abort, a result) rather than asking again.
    bool decode_stalled = false, chunk_stalled = false;
    for (;;) {
      std::vector<EngineInbox::Submission> submissions;
      std::vector<uint64_t> aborts;
      {
        std::unique_lock lk(inbox_->mu);
        const bool can_decode = in_flight.size() < depth && sched.has_decode_work() && !decode_stalled;
        const bool can_chunk = lane && !chunk && sched.has_chunk_work() && !chunk_stalled;
        if (!can_decode && !can_chunk && inbox_->completions == seen)
          inbox_->cv.wait(lk, [&] {
            return inbox_->closed || !inbox_->submissions.empty() || !inbox_->aborts.empty() ||
                   inbox_->completions != seen;
          });
        if (inbox_->closed) break;
        seen = inbox_->completions;
        submissions.swap(inbox_->submissions);
        aborts.swap(inbox_->aborts);
      }
      bool changed = !submissions.empty() || !aborts.empty();
      for (EngineInbox::Submission& s : submissions) {
        live[s.request.id] = {s.stream, arrived(s.arrival), s.request.max_tokens};
        sched.add_request(std::move(s.request));
      }
      std::vector<RequestUpdate> updates;
      for (uint64_t id : aborts)
        if (auto u = sched.abort(id)) updates.push_back(std::move(*u));
      // Results as they completed: each lane's in its order.
      while (!in_flight.empty() && ready(in_flight.front().result)) {
        const RunnerOutput res = in_flight.front().result.get();
        for (RequestUpdate& u : sched.update_from_output(in_flight.front().out, res)) updates.push_back(std::move(u));
        in_flight.pop_front();
        changed = true;
      }
      if (chunk && ready(chunk->result)) {
        const RunnerOutput res = chunk->result.get();
        for (RequestUpdate& u : sched.update_from_chunk(chunk->out, res)) updates.push_back(std::move(u));
        chunk.reset();
        changed = true;
      }
      if (changed) decode_stalled = chunk_stalled = false;

      if (in_flight.size() < depth && sched.has_decode_work() && !decode_stalled) {
        SchedulerOutput out = sched.schedule();
        if (out.empty()) decode_stalled = true;
        else in_flight.push_back(submit(worker, *runner_, std::move(out)));
      }
      if (lane && !chunk && sched.has_chunk_work() && !chunk_stalled) {
        SchedulerOutput out = sched.schedule_chunk();
        if (out.empty()) chunk_stalled = true;
        else chunk = submit(*lane, *prefill_runner_, std::move(out));
      }
      const bool decode_idle = decode_stalled || !sched.has_decode_work();
      const bool chunk_idle = !lane || chunk_stalled || !sched.has_chunk_work();
      ROTOR_CHECK(!in_flight.empty() || chunk || !sched.has_work() || !decode_idle || !chunk_idle,
                  "engine: {} running, {} prefilling and {} waiting requests but nothing to schedule",
                  sched.num_running(), sched.num_prefilling(), sched.num_waiting());
      for (const RequestUpdate& u : updates) account(u);
      publish();
      for (const RequestUpdate& u : updates) push(u);
    }
  } catch (const std::exception& e) {
    failure = e.what();
    ROTOR_LOG_ERROR("engine failed: {}", failure);
  }
  // Shut down or failed: no more submissions; wait for the steps in flight; end every stream.
  {
    std::lock_guard lk(inbox_->mu);
    inbox_->closed = true;
    inbox_->error = failure;
    for (EngineInbox::Submission& s : inbox_->submissions) live[s.request.id] = {s.stream, arrived(s.arrival)};
    inbox_->submissions.clear();
  }
  if (chunk) in_flight.push_back(std::move(*chunk));
  for (InFlight& f : in_flight) {
    try {
      f.result.get();
    } catch (const std::exception&) {
    }
  }
  const FinishReason reason = failure.empty() ? FinishReason::Abort : FinishReason::Error;
  for (auto& [id, l] : live) {
    l.times.finished = Clock::now();
    l.stream->end(reason, failure, l.times);
    metrics.ended(reason);
  }
  live.clear();
  publish();
}

}  // namespace rotor
