// loadgen/load_generator.cpp — the dispatcher (arrival times) and the worker pool (one streaming
// connection per in-flight request).
#include "loadgen/load_generator.h"

#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "core/hash_rng.h"

namespace rotor::loadgen {

std::vector<double> poisson_arrivals(int n, double rate, uint64_t seed) {
  ROTOR_CHECK(rate > 0, "--request-rate must be positive (inf: all at once)");
  std::vector<double> t(static_cast<size_t>(std::max(n, 0)), 0.0);
  if (std::isinf(rate)) return t;
  for (size_t i = 1; i < t.size(); ++i) {
    const double u = (static_cast<double>(hash3(seed, i, 0x41727269) >> 11) + 0.5) * 0x1p-53;  // (0, 1)
    t[i] = t[i - 1] - std::log(u) / rate;
  }
  return t;
}

std::vector<RequestRecord> run_load(const BaseUrl& url, const ClientOptions& client, const std::string& path,
                                    const std::vector<Job>& jobs, const LoadOptions& o, Clock::time_point t0,
                                    LiveCounters& live) {
  ROTOR_CHECK(o.max_concurrency >= 1, "--max-concurrency must be at least 1");
  std::vector<RequestRecord> records(jobs.size());
  if (jobs.empty()) return records;
  const std::vector<double> arrivals = poisson_arrivals(static_cast<int>(jobs.size()), o.request_rate, o.seed);

  std::mutex mu;
  std::condition_variable cv;
  std::deque<size_t> queue;
  bool closed = false;

  auto worker = [&] {
    std::unique_ptr<StreamClient> cli;
    std::string setup_error;
    try {
      cli = std::make_unique<StreamClient>(url, client);
    } catch (const std::exception& e) {
      setup_error = e.what();
    }
    for (;;) {
      size_t i;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return closed || !queue.empty(); });
        if (queue.empty()) return;
        i = queue.front();
        queue.pop_front();
      }
      live.started.fetch_add(1);
      RequestRecord r;
      try {
        if (!cli) throw std::runtime_error(setup_error);
        r = cli->send(path, jobs[i].body, t0, &live.chunks);
      } catch (const std::exception& e) {
        r.start = r.end = std::chrono::duration<double>(Clock::now() - t0).count();
        r.error = std::string("client failure: ") + e.what();
        r.success = false;
      }
      r.index = jobs[i].index;
      r.expected_prompt_tokens = jobs[i].expected_prompt_tokens;
      if (!r.success) live.failed.fetch_add(1);
      live.finished.fetch_add(1);
      records[i] = std::move(r);
    }
  };

  const size_t n_workers = std::min(jobs.size(), static_cast<size_t>(o.max_concurrency));
  std::vector<std::thread> pool;
  pool.reserve(n_workers);
  for (size_t w = 0; w < n_workers; ++w) pool.emplace_back(worker);
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals[i])));
    {
      std::lock_guard lock(mu);
      queue.push_back(i);
    }
    cv.notify_one();
  }
  {
    std::lock_guard lock(mu);
    closed = true;
  }
  cv.notify_all();
  for (std::thread& t : pool) t.join();
  return records;
}

}  // namespace rotor::loadgen
