// engine/runner/rank_threads.cpp — the ranks' worker threads: a job counter they wait on, the
// count of ranks still running it, and the first failure.
#include "engine/runner/rank_threads.h"

#include <fmt/format.h>

#include "core/check.h"

namespace rotor {

RankThreads::RankThreads(int world_size, const std::function<void(int)>& setup) : n_(world_size) {
  ROTOR_CHECK(n_ >= 1, "rank threads for a world of {}", n_);
  if (n_ == 1) {
    if (setup) setup(0);
    return;
  }
  for (int r = 0; r < n_; ++r) threads_.emplace_back([this, r] { loop(r); });
  if (setup) {
    try {
      run(setup);
    } catch (...) {
      stop();  // the threads end before the members go
      throw;
    }
  }
}

RankThreads::~RankThreads() { stop(); }

void RankThreads::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void RankThreads::run(const std::function<void(int)>& f) {
  if (n_ == 1) {
    try {
      f(0);
    } catch (const std::exception& e) {
      if (hook_) hook_(0, e.what());
      throw;
    }
    return;
  }
  std::lock_guard serial(run_mu_);
  std::unique_lock lk(mu_);
  ROTOR_CHECK(!stop_, "rank threads: run after shutdown");
  job_ = &f;
  pending_ = n_;
  first_error_.clear();
  failed_ = false;
  ++generation_;
  start_cv_.notify_all();
  done_cv_.wait(lk, [&] { return pending_ == 0; });
  job_ = nullptr;
  if (!failed_) return;
  const std::string group = group_failure();
  ROTOR_FAIL("{}", group.empty() ? first_error_ : group);
}

void RankThreads::loop(int rank) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock lk(mu_);
      start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    std::string failure;
    try {
      (*job)(rank);
    } catch (const std::exception& e) {
      failure = fmt::format("rank {} of {}: {}", rank, n_, e.what());
    } catch (...) {
      failure = fmt::format("rank {} of {}: unknown error", rank, n_);
    }
    if (!failure.empty()) {
      {
        std::lock_guard lk(mu_);
        if (!failed_) {
          first_error_ = failure;
          failed_ = true;
        }
      }
      if (hook_) hook_(rank, failure);
    }
    std::lock_guard lk(mu_);
    if (--pending_ == 0) done_cv_.notify_all();
  }
}

}  // namespace rotor
