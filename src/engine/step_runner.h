// engine/step_runner.h — what the engine needs of a runner, split the way async scheduling
// overlaps it: prepare() (host work, on the engine thread, possibly while the previous step
// is still executing), launch() (queues the step's device work, on the worker's launching
// thread, without waiting for earlier steps) and execute() (waits for that step's results,
// on the worker's completing thread); all three see steps in the order prepared.
#pragma once
#include <memory>

#include "engine/scheduler/scheduler_output.h"

namespace rotor {

// One step's inputs as a runner prepared them (opaque to the engine).
struct PreparedStep {
  virtual ~PreparedStep() = default;
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Applies the output's request deltas to the runner's host-side request state and builds
  // the step's inputs. Must not need the sampled ids of steps not yet executed: a token that
  // is still being sampled is a placeholder for launch() to resolve.
  virtual std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) = 0;
  // Starts a prepared step without waiting for the ones before it (their sampled tokens,
  // this step's placeholders, are resolved on the device). Runners without a device queue
  // leave this empty and do everything in execute().
  virtual void launch(PreparedStep& step) { (void)step; }
  // Completes a launched step: one RunnerOutput entry per SchedulerOutput::scheduled entry.
  virtual RunnerOutput execute(PreparedStep& step) = 0;
};

}  // namespace rotor
