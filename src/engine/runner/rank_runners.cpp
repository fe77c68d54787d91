// engine/runner/rank_runners.cpp — building every rank's runner concurrently and agreeing on
// the KV cache size.
#include "engine/runner/rank_runners.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <thread>

#include "core/check.h"

namespace rotor {
namespace {

// Runs f(r) for every rank on a thread each (one rank: on this thread); rethrows the lowest
// rank's error.
void on_every_rank(int n, const std::function<void(int)>& f) {
  if (n == 1) return f(0);
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        f(r);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

std::vector<std::unique_ptr<ModelRunner>> build_rank_runners(const ModelConfig& config,
                                                             std::vector<RankResources> ranks,
                                                             const RunnerOptions& options) {
  const int n = static_cast<int>(ranks.size());
  ROTOR_CHECK(n >= 1, "no ranks to build");
  for (int r = 0; r < n; ++r)
    ROTOR_CHECK(ranks[r].comm->rank() == r && ranks[r].comm->world_size() == n,
                "rank {} of {} has the communicator of rank {} of {}", r, n, ranks[r].comm->rank(),
                ranks[r].comm->world_size());
  std::vector<std::unique_ptr<ModelRunner>> runners(n);
  std::vector<int> fit(n);
  on_every_rank(n, [&](int r) {
    runners[r] = std::make_unique<ModelRunner>(ModelRunner::Unsized{}, *ranks[r].ops, *ranks[r].comm, config,
                                               std::move(ranks[r].weights), options);
    fit[r] = runners[r]->kv_blocks_fit();
  });
  const int blocks = *std::min_element(fit.begin(), fit.end());
  on_every_rank(n, [&](int r) { runners[r]->allocate_kv_cache(blocks); });
  return runners;
}

}  // namespace rotor
