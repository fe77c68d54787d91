// engine/model_step_runner.cpp — request state from SchedulerOutput deltas, SeqWork, placeholders.
#include "engine/model_step_runner.h"

#include <algorithm>

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
  LaunchedStep launched;
  std::vector<uint64_t> req;           // per scheduled entry
  std::vector<bool> sample;
  std::vector<bool> placeholder;       // its input token is the previous step's sample
  std::vector<int> prompt_position;    // first prompt position of its chunk
  std::vector<int> prompt_argmax_len;  // prompt positions of its chunk (prompt_argmax requests)
};

// Gives a constraint the tokens it has not seen, then has it write the bitmask.
void feed(Feed& f, const int32_t* previous, std::span<uint32_t> bits, std::span<const int32_t> eos) {
  ModelStepRunner::Constrained& c = *f.c;
  auto give = [&](int32_t token) {
    if (c.refused || c.constraint->accept_token(token)) return;
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

}  // namespace

ModelStepRunner::ModelStepRunner(std::unique_ptr<ModelRunner> runner, std::vector<int32_t> eos_token_ids)
    : runner_(std::move(runner)), eos_(std::move(eos_token_ids)) {}

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
  std::vector<std::vector<int32_t>> chunk(S), outputs(S);
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
    if (s.sample && w.counter < r.params.min_tokens) w.masked_tokens = r.stop_ids;
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
  }
  step->inputs = runner_->prepare(work);
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
  if (!step.inputs.bitmask_rows.empty()) {
    step.inputs.fill_bitmasks = [this, &step](std::span<uint32_t> bits) {
      const size_t words = bits.size() / step.inputs.bitmask_rows.size();
      const int32_t* previous = nullptr;
      for (size_t j = 0; j < step.inputs.bitmask_rows.size(); ++j) {
        Feed& f = step.feeds[static_cast<size_t>(step.inputs.sample_seq[static_cast<size_t>(step.inputs.bitmask_rows[j])])];
        if (f.source_row >= 0 && !previous) previous = runner_->previous_sampled();
        feed(f, previous, bits.subspan(j * words, words), eos_);
      }
    };
  }
  step.launched = runner_->launch(step.inputs);
  last_rows_.clear();
  for (int i = 0; i < step.inputs.num_sample; ++i) last_rows_[step.req[step.inputs.sample_seq[i]]] = i;
}

RunnerOutput ModelStepRunner::execute(PreparedStep& prepared) {
  ModelStep& step = static_cast<ModelStep&>(prepared);
  RunnerOutput out;
  if (step.req.empty()) return out;
  std::vector<SeqResult> res = runner_->wait(step.launched);
  for (size_t k = 0; k < step.req.size(); ++k) {
    SampledToken t;
    t.req_id = step.req[k];
    if (step.sample[k]) {
      t.token = res[k].token;
      t.logprobs = std::move(res[k].logprobs);
    }
    t.prompt_position = step.prompt_position[k];
    t.prompt_argmax.assign(res[k].argmax.begin(), res[k].argmax.begin() + step.prompt_argmax_len[k]);
    out.outputs.push_back(std::move(t));
  }
  return out;
}

}  // namespace rotor
