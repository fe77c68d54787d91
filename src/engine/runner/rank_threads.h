// engine/runner/rank_threads.h — RankThreads: one long-lived worker thread per tensor-parallel
// rank. Everything a rank does on its device runs on its thread (its device made current and,
// with enable_cpu_binding, its cores bound, once at start): building its backend,
// communicator, weights and runner, and launching every step. run(f) runs f(rank) on every
// rank's thread at once and returns when all are done. A rank that throws calls the error
// hook at once on its own thread (the runner aborts the communicator group there, so no other
// rank stays in a collective) and run() rethrows the first failure, naming its rank. With one
// rank there is no thread: run() calls f(0) on the caller's thread.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rotor {

class RankThreads {
 public:
  // `setup(rank)` runs first on each rank's thread (on the caller's with one rank); an error
  // there is thrown from the constructor.
  explicit RankThreads(int world_size, const std::function<void(int)>& setup = {});
  ~RankThreads();
  RankThreads(const RankThreads&) = delete;
  RankThreads& operator=(const RankThreads&) = delete;

  int world_size() const { return n_; }
  // Called on a failing rank's thread with its rank and the error's message, before run()
  // returns (set it before the first run() that may fail).
  void set_error_hook(std::function<void(int rank, const std::string& what)> hook) { hook_ = std::move(hook); }
  // Where the group's first failure is kept (the communicator group's abort reason): ranks
  // that fail only because the group was aborted name it second-hand, so run() reports it.
  void set_group_failure(std::function<std::string()> reason) { group_failure_ = std::move(reason); }
  // The group's first failure ("" while there is none, or no source was set).
  std::string group_failure() const { return group_failure_ ? group_failure_() : std::string(); }

  // f(r) on rank r's thread, for every rank at once; returns when every rank is done and
  // throws rotor::Error with the group's failure, else "rank R of N: what" for the first rank
  // that failed. One run at a time (callers from several threads are serialised).
  void run(const std::function<void(int)>& f);

 private:
  void loop(int rank);
  void stop();

  const int n_;
  std::function<void(int, const std::string&)> hook_;
  std::function<std::string()> group_failure_;
  std::mutex run_mu_;               // one run() at a time
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;         // runs started
  int pending_ = 0;                 // ranks still running the current job
  bool stop_ = false;
  bool failed_ = false;             // some rank failed the current job
  std::string first_error_;         // the first one's "rank R of N: what"
  std::vector<std::thread> threads_;
};

}  // namespace rotor
