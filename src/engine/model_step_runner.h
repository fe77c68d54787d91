// engine/model_step_runner.h — the StepRunner over the ModelRunners of every tensor-parallel
// rank (one, or N on their own threads): keeps each request's tokens, block table and sampling
// state as the SchedulerOutput deltas describe them (engine thread), turns a step into SeqWork
// (placeholders for tokens still being sampled, masks for min_tokens, allowed_token_ids and
// bad_words, penalty token lists, the prompt for prompt log-probs) and prepares it once, the
// inputs being the same for every rank; launch() points each placeholder at the sample row of
// the previous launched step that draws it (filled on each rank's device, no wait) and queues
// the step on every rank's thread; execute() waits for every rank's sampled ids, checks that
// they agree (the logits are all-reduced, so every rank draws the same tokens) and reports
// rank 0's. A failure on one rank aborts the group and fails the step with that rank's message.
// Structured outputs: a step with constrained rows is launched in two rounds. Every rank queues
// its forward (ModelRunner::launch); then, on the launching thread while that runs, each
// request's constraint is fed its tokens and writes its next bitmask, once per step whatever
// the number of ranks (a placeholder's token is read from rank 0's step before, which has
// finished by then: ModelRunner::previous_sampled); then every rank uploads the same bits and
// samples (ModelRunner::launch_sampling), so the ranks still draw alike.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/runner/model_runner.h"
#include "engine/runner/rank_threads.h"
#include "engine/step_runner.h"

namespace rotor {

class ModelStepRunner final : public StepRunner {
 public:
  // runners[r] is rank r's; with more than one, `threads` runs each rank's launches (and its
  // runner's destruction) on that rank's thread and must outlive this object.
  ModelStepRunner(std::vector<std::unique_ptr<ModelRunner>> runners, RankThreads* threads,
                  std::vector<int32_t> eos_token_ids);
  ~ModelStepRunner() override;

  // Rank r's runner (its options, its buffer growths).
  const ModelRunner& rank(int r) const { return *runners_[r]; }

  // A request's constraint and whether it refused a token (then only eos is allowed);
  // used on the launching thread only.
  struct Constrained {
    std::shared_ptr<TokenConstraint> constraint;
    bool refused = false;
  };

  std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) override;
  void launch(PreparedStep& step) override;
  RunnerOutput execute(PreparedStep& step) override;

 private:
  struct Req {
    std::vector<int32_t> tokens;     // known tokens (the scheduler's, sent as deltas)
    int num_prompt = 0;
    SamplingParams params;
    uint64_t seed = 0;
    bool prompt_argmax = false;
    std::vector<int32_t> blocks;
    std::vector<int32_t> stop_ids;   // masked before min_tokens: stop ids and (unless ignore_eos) eos
    std::vector<int32_t> disallowed; // with allowed_token_ids: every other id, ascending (masked at every draw)
    std::shared_ptr<Constrained> constrained;  // structured outputs
    int fed = 0;                     // output tokens the launches so far give the constraint
  };
  // The ids request r may not draw next, each once: stop ids before min_tokens, ids outside its
  // allowed_token_ids, and the last token of every bad word whose other tokens end the output.
  static std::vector<int32_t> masked_ids(const Req& r, int64_t counter);
  // Fails the step with `what`, aborting the group first so that no rank waits on.
  [[noreturn]] void fail(const std::string& what);

  std::vector<std::unique_ptr<ModelRunner>> runners_;
  RankThreads* threads_;
  std::vector<int32_t> eos_;
  std::unordered_map<uint64_t, Req> reqs_;              // engine thread
  std::unordered_map<uint64_t, int> last_rows_;         // launching thread: sample row of each request
                                                        // in the last launched step
};

}  // namespace rotor
