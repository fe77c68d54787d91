// engine/model_step_runner.cpp — request state from SchedulerOutput deltas, SeqWork,
// placeholders; structured-output constraints fed and their bitmasks written once per step;
// the ranks' launches, waits and the check that they sampled alike.
#include "engine/model_step_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "core/check.h"
#include "core/log.h"

namespace rotor {
namespace {

// What a constrained sequence's constraint is given at launch before its bitmask is filled:
// the known output tokens from index `from`, then (placeholder) the token the previous step drew.
struct Feed {
  std::shared_ptr<ModelStepRunner::Constrained> c;
  int from = 0;
  std::vector<int32_t> tokens;
  int source_row = -1;
};

struct ModelStep final : PreparedStep {
  StepInputs inputs;
  std::vector<Feed> feeds;             // per scheduled entry (c null: none)
  std::vector<uint32_t> bitmasks;      // [inputs.bitmask_rows.size(), ceil(V / 32)]: every rank's
  std::vector<LaunchedStep> launched;  // per rank
  std::vector<uint64_t> req;           // per scheduled entry
  std::vector<bool> sample;
  std::vector<bool> placeholder;       // its input token is the previous step's sample
  std::vector<int> prompt_position;    // first prompt position of its chunk
  std::vector<int> prompt_argmax_len;  // prompt positions of its chunk (prompt_argmax requests)
  std::vector<int> prompt_lp_len;      // positions of its chunk followed by a prompt token (prompt_logprobs)
};

// Gives a constraint the tokens it has not seen, then has it write the bitmask.
void feed(Feed& f, const int32_t* previous, std::span<uint32_t> bits, std::span<const int32_t> eos) {
  ModelStepRunner::Constrained& c = *f.c;
  auto give = [&](int32_t token) {
    if (c.refused || c.constraint->accept_token(token)) return;
    // Past the grammar's end a request that ignores eos draws end tokens only, as its bitmask
    // allows: no refusal.
    if (c.constraint->is_terminated() && std::find(eos.begin(), eos.end(), token) != eos.end()) return;
    c.refused = true;  // a token outside the grammar (a sampler that ignored the mask): end it
    ROTOR_LOG_WARN("structured output: the constraint refused token {}; the request can only end now", token);
  };
  for (size_t i = 0; i < f.tokens.size(); ++i)
    if (f.from + static_cast<int>(i) >= c.constraint->num_accepted()) give(f.tokens[i]);
  if (f.source_row >= 0) give(previous[f.source_row]);
  if (!c.refused) {
    c.constraint->fill_bitmask(bits);
    return;
  }
  std::fill(bits.begin(), bits.end(), 0u);
  for (int32_t e : eos) bits[static_cast<size_t>(e) >> 5] |= 1u << (e & 31);
}

// Feeds every constrained row's constraint and writes its bitmask into step.bitmasks, once for
// every rank. `rank0` has queued the step's forward; its previous_sampled() gives what the
// placeholders stand for (every rank drew the same ids: execute() checks it once that step is
// waited for).
void fill_bitmasks(ModelStep& step, ModelRunner& rank0, std::span<const int32_t> eos) {
  const size_t rows = step.inputs.bitmask_rows.size();
  const size_t words = (static_cast<size_t>(rank0.config().vocab_size) + 31) / 32;
  step.bitmasks.assign(rows * words, 0u);
  const int32_t* previous = nullptr;  // read once a placeholder needs it
  for (size_t j = 0; j < rows; ++j) {
    const int row = step.inputs.bitmask_rows[j];
    Feed& f = step.feeds[static_cast<size_t>(step.inputs.sample_seq[static_cast<size_t>(row)])];
    if (f.source_row >= 0 && !previous) previous = rank0.previous_sampled();
    feed(f, previous, std::span<uint32_t>(step.bitmasks).subspan(j * words, words), eos);
  }
}

}  // namespace

ModelStepRunner::ModelStepRunner(std::vector<std::unique_ptr<ModelRunner>> runners, RankThreads* threads,
                                 std::vector<int32_t> eos_token_ids)
    : runners_(std::move(runners)), threads_(threads), eos_(std::move(eos_token_ids)) {
  ROTOR_CHECK(!runners_.empty(), "a step runner without runners");
  ROTOR_CHECK(runners_.size() == 1 || (threads_ && threads_->world_size() == static_cast<int>(runners_.size())),
              "{} ranks' runners need {} rank threads", runners_.size(), runners_.size());
}

ModelStepRunner::~ModelStepRunner() {
  if (runners_.size() == 1) return;
  // Every rank's device work ends before any rank frees memory (a free waits for the whole GPU,
  // which ranks on one GPU share); then each rank frees its own on its thread.
  try {
    threads_->run([&](int r) { runners_[r]->synchronize(); });
    threads_->run([&](int r) { runners_[r].reset(); });
  } catch (const std::exception& e) {
    ROTOR_LOG_ERROR("tensor parallel: shutting the ranks down: {}", e.what());
  }
}

void ModelStepRunner::fail(const std::string& what) {
  if (runners_.size() > 1) runners_[0]->abort_group(what);
  ROTOR_FAIL("{}", what);
}

std::vector<int32_t> ModelStepRunner::masked_ids(const Req& r, int64_t counter) {
  std::vector<int32_t> extra;
  if (counter < r.params.min_tokens) extra = r.stop_ids;
  const std::span<const int32_t> output = std::span<const int32_t>(r.tokens).subspan(r.num_prompt);
  for (const std::vector<int32_t>& word : r.params.bad_words) {
    const size_t before = word.size() - 1;  // tokens that must end the output
    if (before > output.size()) continue;
    if (std::equal(word.begin(), word.end() - 1, output.end() - static_cast<std::ptrdiff_t>(before)))
      extra.push_back(word.back());
  }
  // Each id once, so that a row masks at most the vocabulary (what a runner sets aside).
  std::sort(extra.begin(), extra.end());
  extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
  std::vector<int32_t> ids = r.disallowed;  // ascending
  for (int32_t t : extra)
    if (!std::binary_search(r.disallowed.begin(), r.disallowed.end(), t)) ids.push_back(t);
  return ids;
}

std::unique_ptr<PreparedStep> ModelStepRunner::prepare(const SchedulerOutput& out) {
  auto step = std::make_unique<ModelStep>();
  for (const auto* ids : {&out.finished_req_ids, &out.preempted_req_ids})
    for (uint64_t id : *ids) reqs_.erase(id);
  std::unordered_map<uint64_t, int> computed;
  for (const NewRequestData& d : out.new_requests) {
    Req& r = reqs_[d.req_id];
    r.tokens = d.token_ids;
    r.num_prompt = d.num_prompt_tokens;
    r.params = d.params;
    r.seed = d.seed;
    r.prompt_argmax = d.prompt_argmax;
    r.blocks = d.block_ids;
    r.stop_ids = d.params.stop_token_ids;
    r.constrained = d.constraint ? std::make_shared<Constrained>(Constrained{d.constraint}) : nullptr;
    r.fed = 0;  // (again after a preemption: the launch skips what the constraint already has)
    if (!d.params.ignore_eos) r.stop_ids.insert(r.stop_ids.end(), eos_.begin(), eos_.end());
    if (!d.params.allowed_token_ids.empty()) {
      std::vector<bool> allowed(static_cast<size_t>(runners_[0]->config().vocab_size), false);
      for (int32_t t : d.params.allowed_token_ids) allowed[static_cast<size_t>(t)] = true;
      r.disallowed.clear();
      for (int32_t t = 0; t < static_cast<int32_t>(allowed.size()); ++t)
        if (!allowed[static_cast<size_t>(t)]) r.disallowed.push_back(t);
    }
    computed[d.req_id] = d.num_computed_tokens;
  }
  for (const CachedRequestData& d : out.cached_requests) {
    Req& r = reqs_.at(d.req_id);
    r.tokens.insert(r.tokens.end(), d.new_token_ids.begin(), d.new_token_ids.end());
    r.blocks.insert(r.blocks.end(), d.new_block_ids.begin(), d.new_block_ids.end());
    computed[d.req_id] = d.num_computed_tokens;
  }
  if (out.scheduled.empty()) return step;

  // Token storage for chunks and output lists that end in a placeholder (stable addresses).
  const size_t S = out.scheduled.size();
  std::vector<std::vector<int32_t>> chunk(S), outputs(S), masks(S);
  std::vector<SeqWork> work(S);
  step->feeds.resize(S);
  for (size_t k = 0; k < S; ++k) {
    const ScheduledRequest& s = out.scheduled[k];
    Req& r = reqs_.at(s.req_id);
    const int c = computed.at(s.req_id), n = s.num_tokens, known = static_cast<int>(r.tokens.size());
    ROTOR_CHECK(c + n <= known + 1, "step runner: request {} schedules {} tokens past {} known", s.req_id,
                c + n - known, known);
    const bool placeholder = c + n == known + 1;
    SeqWork& w = work[k];
    if (placeholder) {
      chunk[k].assign(r.tokens.begin() + c, r.tokens.end());
      chunk[k].push_back(kPlaceholderToken);
      w.tokens = chunk[k];
    } else {
      w.tokens = std::span<const int32_t>(r.tokens).subspan(c, n);
    }
    w.num_computed = c;
    w.block_table = r.blocks;
    w.sample = s.sample;
    w.prompt_argmax = r.prompt_argmax && c < r.num_prompt;
    w.params = r.params;
    w.seed = r.seed;
    w.counter = c + n - r.num_prompt;  // index of the output token drawn
    if (s.sample && r.params.has_penalties()) {
      w.prompt_tokens = std::span<const int32_t>(r.tokens).first(r.num_prompt);
      outputs[k].assign(r.tokens.begin() + r.num_prompt, r.tokens.end());
      if (placeholder) outputs[k].push_back(kPlaceholderToken);
      w.output_tokens = outputs[k];
    }
    if (r.params.prompt_logprobs && c < r.num_prompt)
      w.prompt_tokens = std::span<const int32_t>(r.tokens).first(r.num_prompt);
    if (s.sample) {
      // A bad word of several tokens needs the output up to the token drawn here (the
      // scheduler holds such a request back while its previous token is in flight).
      ROTOR_CHECK(!placeholder || !r.params.needs_previous_tokens(),
                  "step runner: request {} has a bad word of several tokens and a token in flight", s.req_id);
      masks[k] = masked_ids(r, w.counter);
      w.masked_tokens = masks[k];
    }
    if (s.sample && r.constrained) {
      Feed& f = step->feeds[k];
      f.c = r.constrained;
      f.from = r.fed;
      f.tokens.assign(r.tokens.begin() + r.num_prompt + r.fed, r.tokens.end());
      r.fed = known - r.num_prompt + (placeholder ? 1 : 0);
      w.token_bitmask = true;
    }
    step->req.push_back(s.req_id);
    step->sample.push_back(s.sample);
    step->placeholder.push_back(placeholder);
    step->prompt_position.push_back(c);
    step->prompt_argmax_len.push_back(w.prompt_argmax ? std::min(n, r.num_prompt - c) : 0);
    step->prompt_lp_len.push_back(r.params.prompt_logprobs ? std::clamp(r.num_prompt - 1 - c, 0, n) : 0);
  }
  step->inputs = runners_[0]->prepare(work);  // the same inputs for every rank
  return step;
}

void ModelStepRunner::launch(PreparedStep& prepared) {
  ModelStep& step = static_cast<ModelStep&>(prepared);
  if (step.req.empty()) return;
  // A placeholder is the token its request draws in the step launched just before this one
  // (the engine keeps at most two steps in flight and schedules from the older one's output).
  for (size_t k = 0; k < step.req.size(); ++k) {
    if (!step.placeholder[k]) continue;
    auto it = last_rows_.find(step.req[k]);
    ROTOR_CHECK(it != last_rows_.end(), "step runner: request {} has no token being sampled for its placeholder",
                step.req[k]);
    step.inputs.set_previous_row(static_cast<int>(k), it->second);
    step.feeds[k].source_row = it->second;
  }
  const int n = static_cast<int>(runners_.size());
  auto on_ranks = [&](const std::function<void(int)>& f) {
    if (n == 1) f(0);
    else threads_->run(f);
  };
  step.launched.resize(n);
  // Every rank's buffers grow before any rank queues the step (ModelRunner::reserve).
  on_ranks([&](int r) { runners_[r]->reserve(step.inputs); });
  on_ranks([&](int r) { step.launched[r] = runners_[r]->launch(step.inputs); });
  if (!step.inputs.bitmask_rows.empty()) {
    // Every rank has queued the forward; the masks are written once, here, while it runs,
    // and every rank's sampler uploads the same bits.
    fill_bitmasks(step, *runners_[0], eos_);
    on_ranks([&](int r) { runners_[r]->launch_sampling(step.launched[r], step.inputs, step.bitmasks); });
  }
  last_rows_.clear();
  for (int i = 0; i < step.inputs.num_sample; ++i) last_rows_[step.req[step.inputs.sample_seq[i]]] = i;
}

RunnerOutput ModelStepRunner::execute(PreparedStep& prepared) {
  ModelStep& step = static_cast<ModelStep&>(prepared);
  RunnerOutput out;
  if (step.req.empty()) return out;
  const int n = static_cast<int>(runners_.size());
  if (static_cast<int>(step.launched.size()) != n) ROTOR_FAIL("step runner: a step executed before it was launched");
  // Every rank's results (each rank's slot is free again only once waited for).
  std::vector<std::vector<SeqResult>> all(n);
  for (int r = 0; r < n; ++r) {
    try {
      all[r] = runners_[r]->wait(step.launched[r]);
    } catch (const std::exception& e) {
      if (n == 1) throw;
      const std::string group = threads_->group_failure();
      fail(group.empty() ? fmt::format("rank {} of {}: {}", r, n, e.what()) : group);
    }
  }
  std::vector<SeqResult>& res = all[0];
  for (int r = 1; r < n; ++r)
    for (size_t k = 0; k < step.req.size(); ++k)
      if ((step.sample[k] && all[r][k].token != res[k].token) || all[r][k].argmax != res[k].argmax)
        fail(fmt::format("tensor parallel: rank {} of {} sampled token {} for request {} where rank 0 sampled {} "
                         "(the ranks' logits differ)",
                         r, n, all[r][k].token, step.req[k], res[k].token));
  for (size_t k = 0; k < step.req.size(); ++k) {
    SampledToken t;
    t.req_id = step.req[k];
    if (step.sample[k]) {
      t.token = res[k].token;
      t.logprobs = std::move(res[k].logprobs);
    }
    t.prompt_position = step.prompt_position[k];
    t.prompt_argmax.assign(res[k].argmax.begin(), res[k].argmax.begin() + step.prompt_argmax_len[k]);
    ROTOR_CHECK(static_cast<int>(res[k].prompt_logprobs.size()) == step.prompt_lp_len[k],
                "step runner: {} prompt log-probs for {} positions", res[k].prompt_logprobs.size(),
                step.prompt_lp_len[k]);
    t.prompt_logprobs = std::move(res[k].prompt_logprobs);
    out.outputs.push_back(std::move(t));
  }
  return out;
}

}  // namespace rotor
