// engine/step_worker.cpp — a queue of submitted steps, a launching thread and a completing
// thread. A step whose launch fails is completed with that error at once.
#include "engine/step_worker.h"

namespace rotor {

StepWorker::StepWorker(StepRunner& runner, std::function<void()> on_done)
    : runner_(runner),
      on_done_(std::move(on_done)),
      launcher_([this] { launch_loop(); }),
      completer_([this] { complete_loop(); }) {}

StepWorker::~StepWorker() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  launcher_.join();
  completer_.join();
}

std::future<RunnerOutput> StepWorker::submit(std::unique_ptr<PreparedStep> step) {
  std::future<RunnerOutput> f;
  {
    std::lock_guard lk(mu_);
    submitted_.push_back({std::move(step), {}});
    f = submitted_.back().result.get_future();
  }
  cv_.notify_all();
  return f;
}

void StepWorker::launch_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !submitted_.empty(); });
      if (submitted_.empty()) {
        launcher_done_ = true;
        cv_.notify_all();
        return;
      }
      job = std::move(submitted_.front());
      submitted_.pop_front();
    }
    try {
      runner_.launch(*job.step);
    } catch (...) {
      job.result.set_exception(std::current_exception());
      job.step.reset();  // completed: the completing thread skips it
      if (on_done_) on_done_();
    }
    {
      std::lock_guard lk(mu_);
      launched_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
}

void StepWorker::complete_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return launcher_done_ || !launched_.empty(); });
      if (launched_.empty()) return;
      job = std::move(launched_.front());
      launched_.pop_front();
    }
    if (!job.step) continue;
    try {
      job.result.set_value(runner_.execute(*job.step));
    } catch (...) {
      job.result.set_exception(std::current_exception());
    }
    if (on_done_) on_done_();
  }
}

}  // namespace rotor
