// engine/step_worker.h — the thread that executes prepared steps in order (the "device" side
// of the engine loop); each submit returns a future for that step's sampled ids.
#pragma once
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/step_runner.h"

namespace rotor {

class StepWorker {
 public:
  explicit StepWorker(StepRunner& runner);
  ~StepWorker();  // runs what is queued, then joins
  std::future<RunnerOutput> submit(std::unique_ptr<PreparedStep> step);

 private:
  void loop();
  struct Job {
    std::unique_ptr<PreparedStep> step;
    std::promise<RunnerOutput> result;
  };
  StepRunner& runner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rotor
