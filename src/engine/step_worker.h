// engine/step_worker.h — the threads that run prepared steps in order (the "device" side of
// the engine loop): one launches each step as soon as it is submitted (StepRunner::launch,
// which does not wait for the steps before it), the other completes them in the same order
// (StepRunner::execute, which waits for the step's sampled ids). So with async scheduling
// step N+1 is queued on the device while step N still runs. Each submit returns a future
// for that step's output; `on_done` (if set) is called once each step's output or error is
// set (the engine's loop waits on either of its two workers that way).
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/step_runner.h"

namespace rotor {

class StepWorker {
 public:
  explicit StepWorker(StepRunner& runner, std::function<void()> on_done = {});
  ~StepWorker();  // runs what is queued, then joins
  std::future<RunnerOutput> submit(std::unique_ptr<PreparedStep> step);

 private:
  struct Job {
    std::unique_ptr<PreparedStep> step;
    std::promise<RunnerOutput> result;
  };
  void launch_loop();
  void complete_loop();
  StepRunner& runner_;
  std::function<void()> on_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> submitted_, launched_;
  bool stop_ = false;       // no more submissions
  bool launcher_done_ = false;
  std::thread launcher_, completer_;
};

}  // namespace rotor
