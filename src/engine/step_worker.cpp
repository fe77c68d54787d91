// engine/step_worker.cpp — a queue of prepared steps and one thread running them.
#include "engine/step_worker.h"

namespace rotor {

StepWorker::StepWorker(StepRunner& runner) : runner_(runner), thread_([this] { loop(); }) {}

StepWorker::~StepWorker() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::future<RunnerOutput> StepWorker::submit(std::unique_ptr<PreparedStep> step) {
  std::future<RunnerOutput> f;
  {
    std::lock_guard lk(mu_);
    jobs_.push_back({std::move(step), {}});
    f = jobs_.back().result.get_future();
  }
  cv_.notify_all();
  return f;
}

void StepWorker::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job.result.set_value(runner_.execute(*job.step));
    } catch (...) {
      job.result.set_exception(std::current_exception());
    }
  }
}

}  // namespace rotor
