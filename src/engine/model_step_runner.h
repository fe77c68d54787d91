// engine/model_step_runner.h — the StepRunner over a ModelRunner: keeps each request's tokens,
// block table and sampling state as the SchedulerOutput deltas describe them (engine
// thread), turns a step into SeqWork (placeholders for tokens still being sampled, min_tokens
// masks, penalty token lists); launch() points each placeholder at the sample row of the
// previous launched step that draws it (filled on the device, no wait) and queues the step;
// execute() waits for its sampled ids and reports them. Structured outputs: a request's
// constraint is fed its tokens and asked for the next bitmask on the launching thread,
// while the runner's forward is queued (a placeholder's token is then read from the step
// before, which has finished by the time the host needs it: see ModelRunner::previous_sampled).
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/runner/model_runner.h"
#include "engine/step_runner.h"

namespace rotor {

class ModelStepRunner final : public StepRunner {
 public:
  ModelStepRunner(std::unique_ptr<ModelRunner> runner, std::vector<int32_t> eos_token_ids);

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
    std::shared_ptr<Constrained> constrained;  // structured outputs
    int fed = 0;                     // output tokens the launches so far give the constraint
  };
  std::unique_ptr<ModelRunner> runner_;
  std::vector<int32_t> eos_;
  std::unordered_map<uint64_t, Req> reqs_;              // engine thread
  std::unordered_map<uint64_t, int> last_rows_;         // launching thread: sample row of each request
                                                        // in the last launched step
};

}  // namespace rotor
