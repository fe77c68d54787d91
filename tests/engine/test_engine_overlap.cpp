// tests/engine/test_engine_overlap.cpp — async scheduling overlaps. The runner sleeps instead
// of computing: preparing a step takes P on the engine thread (host work), executing it takes
// D on the worker thread (device work), and the tokens come from the simulated model of
// sim_runner.h. Synchronously a step costs P + D; with async scheduling the preparation of
// step N+1 hides behind the execution of step N, so the step rate is clearly higher, and
// every request still gets exactly the tokens it gets alone.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine.h"
#include "engine/step_runner.h"
#include "tests/engine/scheduler/scheduler_driver.h"

namespace rotor {
namespace {

using namespace std::chrono_literals;

class SleepingRunner final : public StepRunner {
 public:
  SleepingRunner(int num_blocks, int block_size, std::chrono::milliseconds prepare, std::chrono::milliseconds execute)
      : sim_(num_blocks, block_size, 0), prepare_(prepare), execute_(execute) {}
  std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) override {
    std::this_thread::sleep_for(prepare_);
    auto step = std::make_unique<Step>();
    step->out = out;
    return step;
  }
  RunnerOutput execute(PreparedStep& step) override {
    const auto until = Clock::now() + execute_;
    RunnerOutput res = sim_.execute(static_cast<Step&>(step).out);
    std::this_thread::sleep_until(until);
    return res;
  }

 private:
  struct Step final : PreparedStep {
    SchedulerOutput out;
  };
  SimRunner sim_;  // the worker thread's only
  std::chrono::milliseconds prepare_, execute_;
};

struct Timed {
  std::vector<std::vector<int32_t>> tokens;
  double steps_per_second = 0;
  uint64_t steps = 0;
};

Timed run(bool async) {
  EngineConfig c;
  c.block_size = 4;
  c.max_num_seqs = 4;
  c.max_num_batched_tokens = 64;
  c.async_scheduling = async;
  EngineLimits lim;
  lim.max_model_len = 64;
  lim.vocab_size = 50;
  lim.num_blocks = 64;
  lim.eos_token_ids = {kSimEos};
  Engine e(c, lim, std::make_unique<SleepingRunner>(lim.num_blocks, c.block_size, 30ms, 30ms));
  const auto t0 = Clock::now();
  std::vector<RequestHandle> hs;
  for (int i = 0; i < 4; ++i) {
    EngineRequest r;
    for (int k = 0; k < 5 + 3 * i; ++k) r.prompt_token_ids.push_back(2 + (7 * k + i) % 40);
    r.params.max_tokens = 10;
    r.params.ignore_eos = true;
    r.params.seed = i;
    hs.push_back(e.submit(std::move(r)));
  }
  Timed out;
  for (auto& h : hs) out.tokens.push_back(h.wait().token_ids);
  out.steps = e.stats().num_steps;
  out.steps_per_second = out.steps / std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

TEST(EngineOverlap, AsyncSchedulingRaisesTheStepRateAndKeepsOutputs) {
  const Timed sync = run(false);
  const Timed async = run(true);
  std::printf("steps/s: sync %.1f (%llu steps), async %.1f (%llu steps)\n", sync.steps_per_second,
              static_cast<unsigned long long>(sync.steps), async.steps_per_second,
              static_cast<unsigned long long>(async.steps));
  EXPECT_EQ(async.tokens, sync.tokens);
  for (int i = 0; i < 4; ++i) {
    std::vector<int32_t> prompt;
    for (int k = 0; k < 5 + 3 * i; ++k) prompt.push_back(2 + (7 * k + i) % 40);
    EXPECT_EQ(sync.tokens[i], test::expected_alone(i, prompt, 10, 64, 0, true).tokens) << "request " << i;
  }
  // Sync: 30 + 30 ms a step; async: about 30 ms (the larger of the two).
  EXPECT_GT(async.steps_per_second, 1.4 * sync.steps_per_second);
}

}  // namespace
}  // namespace rotor
